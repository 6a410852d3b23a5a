"""Exports and the report across languages, from real console rehearsals in Polish and Arabic."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.cli.test_cli import CONTRACT_COLUMNS
from tests.multilingual import cli, rehearse_in_polish_then_arabic


@pytest.fixture
def rehearsed(sqlite_url: str) -> str:
    rehearse_in_polish_then_arabic(sqlite_url)
    return sqlite_url


def test_exports_carry_the_language_after_the_contract_columns(rehearsed: str, tmp_path: Path):
    result = cli("export", "--include-rehearsal", db=rehearsed)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [*CONTRACT_COLUMNS, "language", "detected_language"]
    got = [(r["flow"], r["step"], r["language"], r["detected_language"]) for r in rows]
    assert got == [
        ("pulse", "positive", "pl", ""),  # a closed answer: nothing to detect
        ("challenge-1", "opening", "pl", "pl"),
        ("challenge-2", "opening", "ar", "ar"),
        ("force-field", "helps", "ar", "ar"),
    ]
    assert rows[2]["answer"].startswith("المجموعات المحلية")  # as written, in logical order

    jsonl = cli("export", "--format", "jsonl", "--include-rehearsal", db=rehearsed)
    assert [json.loads(line)["language"] for line in jsonl.stdout.splitlines()] == [
        "pl",
        "pl",
        "ar",
        "ar",
    ]

    target = tmp_path / "answers.xlsx"
    xlsx = cli(
        "export", "--format", "xlsx", "--include-rehearsal", "--out", str(target), db=rehearsed
    )
    assert xlsx.returncode == 0, xlsx.stderr
    sheet = load_workbook(target).active
    header = [c.value for c in sheet[1]]
    assert header[10:12] == ["language", "detected_language"]  # then the xlsx-only columns
    answer = header.index("answer") + 1
    arabic = sheet.cell(row=4, column=answer)
    assert arabic.value.startswith("المجموعات") and arabic.alignment.readingOrder == 2
    assert sheet.cell(row=3, column=answer).alignment.readingOrder in (0, None)


def test_report_shows_each_language_and_counts_closed_answers_together(
    rehearsed: str, tmp_path: Path
):
    target = tmp_path / "report.html"
    result = cli("report", "--include-rehearsal", "--out", str(target), db=rehearsed)
    assert result.returncode == 0, result.stderr
    html = target.read_text(encoding="utf-8")
    assert 'id="language-table"' in html
    assert '<tr data-language="pl">' in html and '<tr data-language="ar">' in html
    assert 'dir="auto" lang="ar">الاجتماعات المنتظمة' in html
    # each question shows its translations, the Arabic one laid out right to left
    assert 'lang="ar" dir="rtl"><span class="muted">العربية:</span>' in html
    # theme analysis reads English only, and says which comments it set aside
    assert (
        '<p class="note" id="languages-note">3 comments written in another language '
        "(Polski 1, العربية 2) were not analysed for themes, which reads English only"
    ) in html
    themes = cli("themes", "--include-rehearsal", db=rehearsed)
    assert "3 comments written in another language (Polski 1, العربية 2)" in themes.stdout


def test_an_english_only_export_keeps_exactly_the_ten_columns(sqlite_url: str):
    from tests.cli.test_cli import cli as plain_cli

    plain_cli("run", "--console", db=sqlite_url, stdin="/start\nyes\n1\n5\n")
    result = plain_cli("export", "--include-rehearsal", db=sqlite_url)
    assert list(csv.DictReader(io.StringIO(result.stdout)))[0].keys() == set(CONTRACT_COLUMNS)


URDU_RUN = (
    "/start\nہاں\n1\n4\n"
    "مقامی گروپ خاندانوں کو اچھی طرح جانتے ہیں اور جانتے ہیں کہ بچوں کو کیا چاہیے\n/done\n"
)


def test_an_urdu_rehearsal_reads_right_to_left_like_arabic(sqlite_url: str, tmp_path: Path):
    """Urdu (a draft) is handled like Arabic: detected, marked right to left in xlsx and the
    report."""
    done = cli("run", "--console", "--lang", "ur", db=sqlite_url, stdin=URDU_RUN)
    assert done.returncode == 0, done.stderr
    rows = list(
        csv.DictReader(io.StringIO(cli("export", "--include-rehearsal", db=sqlite_url).stdout))
    )
    assert [(r["flow"], r["language"], r["detected_language"]) for r in rows] == [
        ("pulse", "ur", ""),
        ("challenge-1", "ur", "ur"),
    ]
    target = tmp_path / "answers.xlsx"
    cli("export", "--format", "xlsx", "--include-rehearsal", "--out", str(target), db=sqlite_url)
    sheet = load_workbook(target).active
    answer = [c.value for c in sheet[1]].index("answer") + 1
    assert sheet.cell(row=3, column=answer).value.startswith("مقامی گروپ")
    assert sheet.cell(row=3, column=answer).alignment.readingOrder == 2
    report = tmp_path / "report.html"
    made = cli("report", "--include-rehearsal", "--out", str(report), db=sqlite_url)
    assert made.returncode == 0, made.stderr
    html = report.read_text(encoding="utf-8")
    assert 'lang="ur" dir="rtl"><span class="muted">اردو:</span>' in html
    assert '<tr data-language="ur">' in html
