"""The committee report in headless Chromium at phone and desktop width: nothing spills sideways,
small groups read "fewer than 5", every multi-choice option has its bar, the summary shows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.report import render_report
from tests.report.chromium import browser, find_chromium
from tests.report.committee import committee_input, committee_settings
from tests.report.test_report_chromium import _screenshot_dir

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")

LOOK = """(() => {
  const vw = document.documentElement.clientWidth;
  const seen = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const spilling = [...document.querySelectorAll("body *")].filter((e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5);
  }).map((e) => e.tagName + "." + (e.getAttribute("class") || ""));
  const rate = (g) => document.querySelector(
    `#participation-table tr[data-group=${g}] td[data-col=rate]`).innerText.trim();
  const multi = {};
  for (const block of document.querySelectorAll("#q-services-used .multi")) {
    multi[block.dataset.group] = [...block.querySelectorAll("svg.bar")].filter(seen).length;
  }
  return {
    vw, scrollWidth: document.documentElement.scrollWidth, spilling,
    rates: {parents: rate("parents"), vcs: rate("vcs"), la: rate("la")},
    multi,
    summary: seen(document.querySelector("#organiser-summary strong")),
    text: document.body.innerText,
  };
})()"""


async def _look(html: Path, tmp_path: Path, width: int, height: int) -> dict[str, Any]:
    assert CHROMIUM is not None
    async with browser(CHROMIUM, tmp_path / f"profile-{width}") as page:
        await page.open(html.as_uri(), width, height, mobile=width < 600)
        seen = await page.evaluate(LOOK)
        await page.screenshot(_screenshot_dir(tmp_path) / f"committee-{width}x{height}.png")
    return seen


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 900)], ids=["phone", "desktop"])
def test_committee_report_as_a_person_sees_it(tmp_path: Path, width: int, height: int) -> None:
    html = tmp_path / "committee.html"
    html.write_text(render_report(committee_input(committee_settings(tmp_path))), encoding="utf-8")
    seen = asyncio.run(_look(html, tmp_path, width, height))
    assert seen["vw"] == width and seen["scrollWidth"] <= width, seen["spilling"]
    assert seen["spilling"] == []
    assert seen["rates"] == {"parents": "100%", "vcs": "fewer than 5", "la": "fewer than 5"}
    assert seen["multi"] == {"parents": 4, "all": 4}  # every option, for each group shown
    assert seen["summary"] and "What we heard" in seen["text"]
    assert "In their own words" in seen["text"] and "Close to home" in seen["text"]
