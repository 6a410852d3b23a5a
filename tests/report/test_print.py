"""The report on paper: `report --pdf` and `--summary` through the command line, and the print
stylesheet keeping each chart on one page (checked in the PDF Chromium prints, page by page)."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.report import render_report
from tests.report.chromium import browser, find_chromium
from tests.report.committee import SUMMARY, committee_input, committee_settings
from tests.report.test_report_db import _cli, _config, _seed

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None,
    reason="pdftotext is not installed (apt install poppler-utils)",
)


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page of a PDF (poppler's pdftotext splits pages with a form feed)."""
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.split("\f")


def page_of(pages: list[str], marker: str) -> int:
    found = [i for i, page in enumerate(pages) if marker in page]
    assert found, f"{marker!r} is on no page"
    return found[0]


def span_pages(pages: list[str], first: str, last: str) -> tuple[int, int]:
    """The pages of ``first`` and of the next ``last`` after it (the two ends of one chart)."""
    text = "\f".join(pages)
    start = text.index(first)
    end = text.index(last, start + len(first))
    return text.count("\f", 0, start), text.count("\f", 0, end)


@needs_chromium
@needs_poppler
def test_report_with_summary_and_pdf_through_the_cli(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_seed(sqlite_url))
    summary = tmp_path / "summary.md"
    summary.write_text(SUMMARY, encoding="utf-8")
    html, pdf = tmp_path / "report.html", tmp_path / "report.pdf"
    config = _config(tmp_path, sqlite_url)
    argv = ["report", "--config", str(config), "--out", str(html)]
    assert _cli(*argv, "--summary", str(summary), "--pdf", str(pdf)) == 0
    assert f"Printed it to {pdf}." in capsys.readouterr().out
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pages = pdf_pages(pdf)
    assert page_of(pages, "Summary from the organisers") == 0
    assert "<script>alert('not run')</script>" in pages[0]  # shown as text, never run
    assert "Method and data" in "".join(pages)


def test_pdf_without_chromium_is_one_clear_sentence(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    asyncio.run(_seed(sqlite_url))
    monkeypatch.setenv("LISTENING_CHROMIUM", str(tmp_path / "no-such-browser"))
    html = tmp_path / "report.html"
    config = _config(tmp_path, sqlite_url)
    code = _cli(
        "report", "--config", str(config), "--out", str(html), "--pdf", str(tmp_path / "r.pdf")
    )
    err = capsys.readouterr().err
    assert code == 1 and "needs the Chromium browser" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_missing_or_unreadable_summary_is_one_clear_sentence(
    sqlite_url: str, tmp_path: Path, capsys
) -> None:
    config = _config(tmp_path, sqlite_url)
    missing = tmp_path / "nope.md"
    assert _cli("report", "--config", str(config), "--summary", str(missing)) == 1
    assert "The summary file" in capsys.readouterr().err
    latin = tmp_path / "latin.md"
    latin.write_bytes("Caf\xe9 notes".encode("latin-1"))
    assert _cli("report", "--config", str(config), "--summary", str(latin)) == 1
    assert "not UTF-8" in capsys.readouterr().err


async def _print_variants(htmls: list[str], tmp_path: Path) -> list[Path]:
    """Print each HTML page to PDF in one headless Chromium (A4, the report's own @page)."""
    assert CHROMIUM is not None
    out = []
    async with browser(CHROMIUM, tmp_path / "profile-print") as page:
        for index, html in enumerate(htmls):
            source = tmp_path / f"variant-{index}.html"
            source.write_text(html, encoding="utf-8")
            await page.open(source.as_uri(), 1280, 900, mobile=False)
            printed = await page.send("Page.printToPDF", preferCSSPageSize=True)
            target = tmp_path / f"variant-{index}.pdf"
            target.write_bytes(base64.b64decode(printed["data"]))
            out.append(target)
    return out


@needs_chromium
@needs_poppler
def test_print_keeps_each_chart_on_one_page(tmp_path: Path) -> None:
    """Push the charts down the page a paragraph at a time: wherever a page ends, no chart is cut.

    Without ``break-inside: avoid`` some of these layouts split a chart between two pages.
    """
    settings = committee_settings(tmp_path, min_group_size=1)
    padding = "\n\n".join(f"Paragraph {n}: what the workshop said." for n in range(40))
    htmls = [
        render_report(committee_input(settings, summary="\n\n".join(padding.split("\n\n")[:count])))
        for count in range(0, 40, 3)
    ]
    # Each chart, from its first line to its last, must sit on a single page.
    charts = [
        ("Parents and carers (6 people)", "All groups (11 people)"),
        ("1 (Very hard)", "11 people"),
    ]
    for pdf in asyncio.run(_print_variants(htmls, tmp_path)):
        pages = pdf_pages(pdf)
        assert len(pages) >= 3
        for first, last in charts:
            start, end = span_pages(pages, first, last)
            assert start == end, (pdf.name, first)
