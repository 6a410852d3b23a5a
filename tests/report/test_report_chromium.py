"""The report as a person sees it: rendered by headless Chromium at phone and desktop width.

Needs Debian's ``chromium`` (the CI set-up installs it); skipped with a reason otherwise.
Screenshots go to the test's temporary directory, or to $LISTENING_SCREENSHOTS when set.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.report.chromium import browser, find_chromium
from tests.report.test_report_db import _cli, _config, _seed

CHROMIUM = find_chromium()
# CI installs Chromium and sets this, so a failed install fails the run instead of skipping.
REQUIRED = os.environ.get("LISTENING_REQUIRE_CHROMIUM") == "1"
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not REQUIRED,
    reason="headless Chromium is not installed (apt-get install chromium)",
)

MEASURE = (Path(__file__).parent / "measure.js").read_text(encoding="utf-8")

EXPECTED_PARTICIPATION = {
    "parents": ("6", "5", "83%"),
    "vcs": ("4", "3", "75%"),
    "cc_staff": ("3", "2", "67%"),
    "la": ("2", "0", "0%"),
    "all": ("15", "10", "67%"),
}


@pytest.fixture
def report_file(sqlite_url: str, tmp_path: Path) -> Path:
    asyncio.run(_seed(sqlite_url))
    target = tmp_path / "report.html"
    assert _cli("report", "--config", str(_config(tmp_path, sqlite_url)), "--out", str(target)) == 0
    return target


def _screenshot_dir(tmp_path: Path) -> Path:
    configured = os.environ.get("LISTENING_SCREENSHOTS")
    target = Path(configured) if configured else tmp_path / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target


async def _look(
    report: Path, tmp_path: Path, width: int, height: int
) -> tuple[dict[str, Any], Path]:
    assert CHROMIUM is not None
    async with browser(CHROMIUM, tmp_path / f"profile-{width}") as page:
        await page.open(report.as_uri(), width, height, mobile=width < 600)
        seen = await page.evaluate(MEASURE)
        shot = await page.screenshot(_screenshot_dir(tmp_path) / f"report-{width}x{height}.png")
    return seen, shot


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 900)], ids=["phone", "desktop"])
async def test_rendered_report_shows_group_figures_and_theme_bars(
    report_file: Path, tmp_path: Path, width: int, height: int
) -> None:
    seen, shot = await _look(report_file, tmp_path, width, height)

    assert seen["vw"] == width
    # Nothing sticks out sideways: no horizontal scrolling on a phone.
    assert seen["scrollWidth"] <= width, seen["offscreen"] + seen["spilling"]
    assert seen["offscreen"] == [] and seen["spilling"] == []
    # Phones get one card per group (column names beside each figure), desktops a table.
    assert seen["headerShown"] is (width >= 600)

    for group, (enrolled, answered, rate) in EXPECTED_PARTICIPATION.items():
        cells = seen["participation"][group]
        assert (cells["enrolled"]["text"], cells["answered"]["text"]) == (enrolled, answered)
        assert cells["rate"]["text"] == rate
        for cell in cells.values():
            assert cell["visible"] and 0 <= cell["left"] and cell["right"] <= width
    assert {g: c["text"] for g, c in seen["pulse"].items()} == {
        "parents": "60%",
        "vcs": "67%",
        "cc_staff": "100%",
        "la": "–",
        "all": "70%",
    }

    bars = seen["bars"]
    assert bars and len(bars) % 3 == 0  # one bar per theme for each of the three groups
    for bar in bars:
        assert bar["visible"] and bar["width"] > 40 and bar["right"] <= width
        assert bar["fill"] == pytest.approx(bar["value"] * bar["width"], abs=1.5)
    assert sum(bar["fill"] > 0 for bar in bars) >= len(bars) // 3
    assert "Themes in the comments" in seen["text"]
    assert "Change from start to end" in seen["text"]

    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chromium_binary_is_the_debian_package() -> None:
    assert CHROMIUM is not None and shutil.which(CHROMIUM) is not None
