"""`import --translation-of`: an organiser's English translations of answers, kept beside them.

Driven as an organiser would: answers come from real console rehearsals (Polish, then Arabic)
and from a Polish paper-form import; the organiser exports, adds a ``translation`` column in a
spreadsheet, and imports it back. Theme analysis then reads the translations, while exports and
the report keep showing the answers as written.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.cli.test_cli import CONTRACT_COLUMNS
from tests.multilingual import cli, rehearse_in_polish_then_arabic

ENGLISH = {
    ("challenge-1", "opening"): "Local groups know families well and know what children need.",
    ("challenge-2", "opening"): "Local groups know families well and what children need nearby.",
    ("force-field", "helps"): "Regular meetings between staff and volunteers help a lot.",
}
CODEBOOK = """\
themes:
  - name: Local groups
    description: Local community groups that know families.
    keywords: [local groups, families]
  - name: Meetings
    description: Regular meetings between staff and volunteers.
    keywords: [meetings, volunteers]
"""


def export_rows(db: str, *extra: str) -> list[dict[str, str]]:
    result = cli("export", "--include-rehearsal", *extra, db=db)
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


def spreadsheet(path: Path, rows: list[dict[str, str]], translated: dict[str, str]) -> Path:
    """The export with a ``Translation`` column added, saved as Excel's "CSV UTF-8" does."""
    handle = io.StringIO(newline="")
    writer = csv.writer(handle, lineterminator="\r\n")
    writer.writerow(["response_id", "flow", "answer", "Translation"])
    for row in rows:
        writer.writerow(
            [row["response_id"], row["flow"], row["answer"], translated.get(row["response_id"], "")]
        )
    path.write_bytes(b"\xef\xbb\xbf" + handle.getvalue().encode("utf-8"))
    return path


@pytest.fixture
def rehearsed(sqlite_url: str) -> str:
    rehearse_in_polish_then_arabic(sqlite_url)
    return sqlite_url


def test_translations_are_analysed_while_exports_and_report_show_the_answers_as_written(
    rehearsed: str, tmp_path: Path
):
    rows = export_rows(rehearsed)
    originals = {r["response_id"]: r["answer"] for r in rows}
    translated = {
        r["response_id"]: ENGLISH[(r["flow"], r["step"])]
        for r in rows
        if (r["flow"], r["step"]) in ENGLISH
    }
    assert len(translated) == 3
    book = tmp_path / "book.yaml"
    book.write_text(CODEBOOK, encoding="utf-8")

    # Before: theme analysis reads English only, so all three comments are set aside.
    before = cli("themes", "--include-rehearsal", "--codebook", str(book), db=rehearsed)
    assert "3 comments written in another language (Polski 1, العربية 2) were not" in (
        before.stdout + before.stderr
    )

    sheet = spreadsheet(tmp_path / "translated.csv", rows, translated)
    done = cli("import", str(sheet), "--translation-of", "--include-rehearsal", db=rehearsed)
    assert done.returncode == 0, done.stderr
    assert "Stored 3 English translation(s) beside the answers of leeds-2026" in done.stdout
    assert "translations from 'Translation'" in done.stdout
    assert "Skipped 1 row(s) with no translation" in done.stderr  # the closed answer

    # After: analysed from the translations, nothing set aside, each in its codebook theme.
    out_dir = tmp_path / "themes"
    after = cli(
        "themes", "--include-rehearsal", "--codebook", str(book), "--out", str(out_dir),
        db=rehearsed,
    )  # fmt: skip
    assert after.returncode == 0, after.stderr
    assert "not analysed for themes" not in after.stdout
    assert "3 comments written in another language were analysed from an English translation" in (
        " ".join(after.stdout.split())
    )
    read = list(csv.DictReader((out_dir / "assignments.csv").open(encoding="utf-8")))
    assigned = {a["response_id"]: a["theme_id"] for a in read}
    assert {a["response_id"]: a["text"] for a in read} == {
        i: originals[i] for i in translated
    }  # the file an organiser reads carries the answers as written
    by_flow = {r["flow"]: assigned.get(r["response_id"]) for r in rows}
    assert by_flow["challenge-1"] == by_flow["challenge-2"] == "local_groups"
    assert by_flow["force-field"] == "meetings"

    # Exports keep the answer as written; the translation follows in its own column.
    exported = export_rows(rehearsed)
    assert list(exported[0]) == [*CONTRACT_COLUMNS, "language", "detected_language", "translation"]
    for row in exported:
        assert row["answer"] == originals[row["response_id"]]
        assert row["translation"] == translated.get(row["response_id"], "")
    assert exported[2]["detected_language"] == "ar"  # detected from the words, not the English
    jsonl = cli("export", "--format", "jsonl", "--include-rehearsal", db=rehearsed)
    assert [json.loads(line)["translation"] for line in jsonl.stdout.splitlines()] == [
        translated.get(r["response_id"], "") for r in rows
    ]
    target = tmp_path / "answers.xlsx"
    xlsx = cli(
        "export", "--format", "xlsx", "--include-rehearsal", "--out", str(target), db=rehearsed
    )
    assert xlsx.returncode == 0, xlsx.stderr
    header = [c.value for c in load_workbook(target).active[1]]
    assert header[10:13] == ["language", "detected_language", "translation"]

    # The report lists the answers as written, and says how they were analysed.
    report = tmp_path / "report.html"
    made = cli(
        "report", "--include-rehearsal", "--codebook", str(book), "--out", str(report),
        db=rehearsed,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    html = report.read_text(encoding="utf-8")
    # Theme quotes and answer lists give the answers as written, never the translations.
    assert '<blockquote dir="auto">Lokalne grupy dobrze znają rodziny' in html
    assert '<blockquote dir="auto">المجموعات المحلية تعرف العائلات' in html
    assert '<li dir="auto" lang="ar">الاجتماعات المنتظمة' in html
    assert not any(text in html for text in ENGLISH.values())
    assert "analysed from an English translation imported by the organiser" in html
    assert "not analysed for themes" not in html


def test_a_translations_workbook_from_the_xlsx_export_is_read_too(rehearsed: str, tmp_path: Path):
    target = tmp_path / "answers.xlsx"
    cli("export", "--format", "xlsx", "--include-rehearsal", "--out", str(target), db=rehearsed)
    workbook = load_workbook(target)
    sheet = workbook.worksheets[0]
    header = [c.value for c in sheet[1]]
    column = len(header) + 1
    sheet.cell(row=1, column=column, value="English")
    flows = header.index("flow") + 1
    for number in range(2, sheet.max_row + 1):
        if sheet.cell(row=number, column=flows).value == "challenge-1":
            sheet.cell(row=number, column=column, value="Local groups know families well.")
    workbook.save(target)
    done = cli("import", str(target), "--translation-of", "--include-rehearsal", db=rehearsed)
    assert done.returncode == 0, done.stderr
    assert "Stored 1 English translation(s)" in done.stdout
    exported = export_rows(rehearsed)
    assert [r["translation"] for r in exported if r["translation"]] == [
        "Local groups know families well."
    ]

    # A translation is the author's data: subject access shows it, erasure removes it.
    who = exported[0]["participant"]
    page = tmp_path / "sar.html"
    held = cli("subject-access", who, "--out", str(page), db=rehearsed)
    assert held.returncode == 0, held.stderr
    answers = json.loads((tmp_path / "sar.json").read_text(encoding="utf-8"))["tables"]["responses"]
    assert [a["translation"] for a in answers if a["translation"]] == [
        "Local groups know families well."
    ]
    gone = cli("forget", who, "--yes", db=rehearsed)
    assert gone.returncode == 0, gone.stderr
    assert export_rows(rehearsed) == []


def test_a_bad_row_refuses_the_whole_file_in_one_sentence(rehearsed: str, tmp_path: Path):
    rows = export_rows(rehearsed)
    scale, polish = rows[0]["response_id"], rows[1]["response_id"]
    good = (rows[2]["response_id"], "Local groups know families well.")
    cases = [
        ([("R-0123456789abcdef", "Hello")], "row 2 names R-0123456789abcdef, which is no answer"),
        ([("r-0123456789ABCDEF", "Hello")], "names R-0123456789abcdef"),  # as typed, normalised
        ([(scale, "Four")], f"row 2 names {scale}, a scale answer"),  # a closed question
        ([(polish, "One"), (polish, "Two")], f"row 3 translates {polish} again, differently"),
        ([("", "Local groups")], "row 2 has a translation but no response_id"),
    ]
    for rows_given, said in cases:
        path = tmp_path / "bad.csv"
        lines = ["response_id,translation", *(f"{i},{t}" for i, t in [*rows_given, good])]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        done = cli("import", str(path), "--translation-of", "--include-rehearsal", db=rehearsed)
        assert done.returncode == 1
        message = done.stderr.strip()
        assert said in message and message.startswith("Error: Nothing was imported:"), message
        assert "Traceback" not in done.stderr and message.count(". ") == 0
    assert "translation" not in export_rows(rehearsed)[0]  # nothing at all was stored


def test_a_file_without_the_columns_names_them(rehearsed: str, tmp_path: Path):
    path = tmp_path / "wrong.csv"
    path.write_text("id,answer\nR-1,Dzień dobry\n", encoding="utf-8")
    done = cli("import", str(path), "--translation-of", db=rehearsed)
    assert done.returncode == 1
    assert "has no 'translation' (or 'english', 'text') column" in done.stderr
    assert "its columns are 'id', 'answer'" in done.stderr
    path.write_text("answer,translation\nDzień dobry,Good morning\n", encoding="utf-8")
    done = cli("import", str(path), "--translation-of", db=rehearsed)
    assert done.returncode == 1 and "has no 'response_id' column" in done.stderr
    rehearsed_id = export_rows(rehearsed)[1]["response_id"]
    path.write_text(f"response_id,translation\n{rehearsed_id},Hello\n", encoding="utf-8")
    done = cli("import", str(path), "--translation-of", db=rehearsed)  # without the option
    assert done.returncode == 1 and "rehearsal answers need --include-rehearsal" in done.stderr


def test_imported_paper_forms_in_polish_are_translated_beside_them(sqlite_url: str, tmp_path: Path):
    """Live data: Polish paper forms imported, then an English translation of one of them."""
    forms = tmp_path / "forms.csv"
    forms.write_text(
        "text,group\nPotrzebujemy więcej zajęć dla maluchów w weekendy.,parents\n"
        "Kawiarenka dla rodziców bardzo pomaga.,parents\n",
        encoding="utf-8",
    )
    done = cli("import", str(forms), "--campaign", "leeds-2026", db=sqlite_url)
    assert done.returncode == 0, done.stderr
    rows = export_rows(sqlite_url)
    assert [r["channel"] for r in rows] == ["import", "import"]
    sheet = spreadsheet(
        tmp_path / "english.csv",
        rows,
        {rows[0]["response_id"]: "We need more sessions for toddlers at weekends."},
    )
    done = cli("import", str(sheet), "--translation-of", db=sqlite_url)
    assert done.returncode == 0, done.stderr
    done = cli("import", str(sheet), "--translation-of", db=sqlite_url)  # again: same text
    assert done.returncode == 0 and "replacing" not in done.stdout
    exported = export_rows(sqlite_url)
    assert exported[0]["answer"] == "Potrzebujemy więcej zajęć dla maluchów w weekendy."
    assert exported[0]["translation"] == "We need more sessions for toddlers at weekends."
    audit = cli("audit", db=sqlite_url)
    assert audit.stdout.count("import-trans") == 2  # both imports are on the audit log


def test_an_english_only_campaign_shows_the_translation_column_only_once_there_is_one(
    sqlite_url: str, tmp_path: Path
):
    from tests.cli.test_cli import cli as english_cli

    forms = tmp_path / "forms.csv"
    forms.write_text("text,group\nKawiarenka dla rodziców bardzo pomaga.,parents\n", "utf-8")
    assert english_cli("import", str(forms), db=sqlite_url).returncode == 0
    plain = english_cli("export", db=sqlite_url)
    assert list(next(csv.DictReader(io.StringIO(plain.stdout)))) == list(CONTRACT_COLUMNS)
    [row] = list(csv.DictReader(io.StringIO(plain.stdout)))
    sheet = tmp_path / "english.csv"
    sheet.write_text(f"response_id,english\n{row['response_id']},The parents' café helps.\n")
    done = english_cli("import", str(sheet), "--translation-of", db=sqlite_url)
    assert done.returncode == 0, done.stderr
    [after] = list(csv.DictReader(io.StringIO(english_cli("export", db=sqlite_url).stdout)))
    assert list(after) == [*CONTRACT_COLUMNS, "translation"]
    assert after["answer"] == "Kawiarenka dla rodziców bardzo pomaga."
    assert after["translation"] == "The parents' café helps."

    # Translations are answers too: --redact masks them as it masks the answer.
    sheet.write_text(f"response_id,english\n{row['response_id']},Call me on 07700 900123.\n")
    assert english_cli("import", str(sheet), "--translation-of", db=sqlite_url).returncode == 0
    [masked] = csv.DictReader(io.StringIO(english_cli("export", "--redact", db=sqlite_url).stdout))
    assert masked["translation"].startswith("Call me on ") and "900123" not in masked["translation"]
