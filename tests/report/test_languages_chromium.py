"""An Arabic answer and an Arabic prompt in the report, in headless Chromium at phone and desktop
width: laid out right to left, nothing spilling sideways, the English around them unchanged."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.multilingual import cli, rehearse_in_polish_then_arabic
from tests.report.chromium import browser, find_chromium
from tests.report.test_report_chromium import _screenshot_dir

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")

LOOK = """(() => {
  const vw = document.documentElement.clientWidth;
  const spilling = [...document.querySelectorAll("body *")].filter((e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5);
  }).map((e) => e.tagName + "." + (e.getAttribute("class") || ""));
  const look = (e) => {
    const style = getComputedStyle(e);
    const box = e.getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(e);
    const text = range.getBoundingClientRect();
    return {direction: style.direction, align: style.textAlign,
            rightGap: box.right - text.right, leftGap: text.left - box.left};
  };
  const answer = document.querySelector("#t-force-field-helps li[lang=ar]");
  const english = document.querySelector("#t-force-field-helps p.ask:not(.translation)");
  const prompt = document.querySelector("#t-force-field-helps p.translation[lang=ar]");
  const languages = [...document.querySelectorAll("#language-table tbody tr")].map(
    (tr) => [tr.dataset.language, tr.querySelector("td[data-col=people]").innerText.trim()]);
  return {vw, scrollWidth: document.documentElement.scrollWidth, spilling,
          answer: look(answer), prompt: look(prompt), english: look(english), languages};
})()"""


async def _look(html: Path, tmp_path: Path, width: int, height: int) -> dict[str, Any]:
    assert CHROMIUM is not None
    async with browser(CHROMIUM, tmp_path / f"profile-{width}") as page:
        await page.open(html.as_uri(), width, height, mobile=width < 600)
        await page.evaluate('document.querySelector("#text-answers").scrollIntoView()')
        seen = await page.evaluate(LOOK)
        await page.screenshot(_screenshot_dir(tmp_path) / f"languages-{width}x{height}.png")
    return seen


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    where = tmp_path_factory.mktemp("languages")
    shutil.copy(sqlite_template, where / "t.db")
    db = f"sqlite:///{where / 't.db'}"
    rehearse_in_polish_then_arabic(db)
    target = where / "report.html"
    result = cli("report", "--include-rehearsal", "--out", str(target), db=db)
    assert result.returncode == 0, result.stderr
    return target


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 900)], ids=["phone", "desktop"])
def test_arabic_answer_and_prompt_read_right_to_left(
    report: Path, tmp_path: Path, width: int, height: int
) -> None:
    seen = asyncio.run(_look(report, tmp_path, width, height))
    assert seen["scrollWidth"] <= width and seen["spilling"] == [], seen["spilling"]
    for arabic in (seen["answer"], seen["prompt"]):
        assert arabic["direction"] == "rtl"
        assert arabic["rightGap"] < 2  # the text starts at the right edge of its box
    assert seen["english"]["direction"] == "ltr" and seen["english"]["leftGap"] < 2
    # one rehearsal person answered in each of Polish and Arabic: too few to show as a number
    assert seen["languages"] == [
        ["en", "0"],
        ["pl", "fewer than 5"],
        ["ar", "fewer than 5"],
        ["ur", "0"],
    ]
