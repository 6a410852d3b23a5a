"""The command line as a user meets it: real processes, real standard input, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG, example_data, write_config


def cli(
    *args: str,
    db: str,
    stdin: str = "",
    cwd: Path | None = None,
    config: Path | None = EXAMPLE_CONFIG,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))}
    env["LISTENING_DATABASE_URL"] = db
    argv = [sys.executable, "-m", "bot", *args]
    if config is not None:
        argv += ["--config", str(config)]
    return subprocess.run(
        argv,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        encoding="utf-8",
    )


def export_rows(db: str, *extra: str) -> list[dict[str, str]]:
    result = cli("export", "--format", "csv", *extra, db=db)
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


CONTRACT_COLUMNS = [
    "response_id",
    "campaign",
    "flow",
    "step",
    "group",
    "participant",
    "channel",
    "kind",
    "answer",
    "answered_at",
]


def test_console_rehearsal_through_real_stdin_then_export(sqlite_url):
    script = "/start\nyes\n2\n4\nMore joined-up funding.\n/done\n"
    result = cli("run", "--console", db=sqlite_url, stdin=script)
    assert result.returncode == 0, result.stderr
    assert "Do you agree to take part?" in result.stdout
    assert "  1. Parents and carers" in result.stdout
    assert "value for money" in result.stdout
    assert export_rows(sqlite_url) == []  # a rehearsal never reaches live exports
    rows = export_rows(sqlite_url, "--include-rehearsal")
    assert list(rows[0]) == CONTRACT_COLUMNS
    assert [(r["flow"], r["step"], r["answer"]) for r in rows] == [
        ("pulse", "positive", "4"),
        ("challenge-1", "opening", "More joined-up funding."),
    ]
    assert {r["group"] for r in rows} == {"vcs"} and {r["channel"] for r in rows} == {"console"}
    assert rows[0]["participant"].startswith("P-") and rows[0]["answered_at"].endswith("Z")


def test_python_dash_m_and_help_work(sqlite_url):
    result = cli("--help", db=sqlite_url, config=None)
    assert result.returncode == 0 and "export" in result.stdout


def test_check_prints_groups_flows_and_planned_sends(sqlite_url):
    result = cli("check", db=sqlite_url)
    assert result.returncode == 0, result.stderr
    for needle in ("parents", "force-field", "leeds-2026", "0m after each person joins", "2027"):
        assert needle in result.stdout


def test_check_on_a_broken_copy_exits_1_naming_fields(sqlite_url, tmp_path):
    data = example_data()
    data["campaigns"][0]["schedule"][1]["after"] = "soon"
    data["campaigns"][0]["groups"].append("pirates")
    data["slack"]["channels"] = {"C1": "nobody"}
    result = cli("check", db=sqlite_url, config=write_config(tmp_path, data))
    assert result.returncode == 1
    assert "campaigns[0].schedule[1].after" in result.stderr
    assert "campaigns[0].groups[4]" in result.stderr
    assert "slack.channels.C1" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args", [["frobnicate"], ["export", "--bogus"], ["export", "--format", "pdf"]]
)
def test_wrong_usage_exits_2_without_traceback(sqlite_url, args):
    result = cli(*args, db=sqlite_url)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_campaign_is_one_sentence_exit_1(sqlite_url):
    result = cli("export", "--campaign", "nope", db=sqlite_url)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Error: There is no campaign 'nope'")
    assert "Traceback" not in result.stderr


def test_import_excel_csv_with_bom_and_crlf_loads_exactly(sqlite_url, tmp_path):
    path = tmp_path / "workshop.csv"
    body = 'text,group\r\n"Two lines\r\nin one cell",vcs\r\nCafé — “quotes” ✓,parents\r\n'
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    result = cli("import", str(path), "--campaign", "leeds-2026", db=sqlite_url)
    assert result.returncode == 0, result.stderr
    jsonl = cli("export", "--format", "jsonl", db=sqlite_url).stdout.splitlines()
    rows = [json.loads(line) for line in jsonl]
    assert [(r["answer"], r["group"], r["channel"]) for r in rows] == [
        ("Two lines\r\nin one cell", "vcs", "import"),
        ("Café — “quotes” ✓", "parents", "import"),
    ]


def test_import_latin1_file_is_decoded_right(sqlite_url, tmp_path):
    path = tmp_path / "paper.csv"
    path.write_bytes("text\nCafé crèche für Kinder\n".encode("latin-1"))
    result = cli(
        "import", str(path), "--campaign", "leeds-2026", "--group", "parents", db=sqlite_url
    )
    assert result.returncode == 0, result.stderr
    assert export_rows(sqlite_url)[0]["answer"] == "Café crèche für Kinder"


def test_import_without_text_column_is_refused_and_nothing_loaded(sqlite_url, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("notes,group\nhello,vcs\n", encoding="utf-8")
    result = cli("import", str(path), "--campaign", "leeds-2026", db=sqlite_url)
    assert result.returncode == 1 and "no 'text' column" in result.stderr
    assert export_rows(sqlite_url) == []


def test_import_with_an_unknown_group_loads_nothing_and_names_the_row(sqlite_url, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("text,group\nfine,vcs\nbad,pirates\n", encoding="utf-8")
    result = cli("import", str(path), "--campaign", "leeds-2026", db=sqlite_url)
    assert result.returncode == 1 and "row 3 has an unknown group 'pirates'" in result.stderr
    assert export_rows(sqlite_url) == []
    result = cli("import", str(path), "--campaign", "leeds-2026", "--skip-invalid", db=sqlite_url)
    assert result.returncode == 0 and "row 3" in result.stderr
    assert [r["answer"] for r in export_rows(sqlite_url)] == ["fine"]


def test_importing_the_same_file_twice_adds_nothing(sqlite_url, tmp_path):
    path = tmp_path / "once.csv"
    path.write_text("text,group\nhello,vcs\n", encoding="utf-8")
    assert cli("import", str(path), "--campaign", "leeds-2026", db=sqlite_url).returncode == 0
    again = cli("import", str(path), "--campaign", "leeds-2026", db=sqlite_url)
    assert again.returncode == 1 and "already imported" in again.stderr
    assert len(export_rows(sqlite_url)) == 1


def test_import_of_undecodable_bytes_is_refused(sqlite_url, tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"text\n\x81\x8d\x8f\x90\x9d\n")  # undefined in Windows-1252
    result = cli("import", str(path), "--campaign", "leeds-2026", "--group", "vcs", db=sqlite_url)
    assert result.returncode == 1 and "not UTF-8" in result.stderr
    assert export_rows(sqlite_url) == []


def test_formula_answers_are_stored_exactly_and_neutralised_in_csv_and_xlsx(sqlite_url, tmp_path):
    from openpyxl import load_workbook

    formulas = ["=SUM(A1:A9)", "+44 113 000", "-2+3", "@cmd", "plain\x07bell"]
    path = tmp_path / "formulas.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "group"])
        for text in formulas:
            writer.writerow([text, "vcs"])
    assert cli("import", str(path), "--campaign", "leeds-2026", db=sqlite_url).returncode == 0
    assert [r["answer"] for r in export_rows(sqlite_url)] == [
        "'=SUM(A1:A9)",
        "'+44 113 000",
        "'-2+3",
        "'@cmd",
        "plain\x07bell",
    ]
    jsonl = cli("export", "--format", "jsonl", db=sqlite_url).stdout.splitlines()
    assert [json.loads(line)["answer"] for line in jsonl] == formulas
    xlsx = tmp_path / "out.xlsx"
    assert cli("export", "--format", "xlsx", "--out", str(xlsx), db=sqlite_url).returncode == 0
    sheet = load_workbook(xlsx).active
    answers = [row[8] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert answers[:4] == formulas[:4]  # text cells, never formulas
    assert all(cell.data_type == "s" for cell in sheet["I"][1:])
    assert answers[4] == "plain\ufffdbell"


def test_forget_erases_a_participant_everywhere(sqlite_url):
    cli("run", "--console", db=sqlite_url, stdin="/start\nyes\n1\n5\n")
    pseudonym = export_rows(sqlite_url, "--include-rehearsal")[0]["participant"]
    result = cli("forget", pseudonym, "--yes", db=sqlite_url)
    assert result.returncode == 0 and "1 answer" in result.stdout
    assert export_rows(sqlite_url, "--include-rehearsal") == []
    again = cli("forget", pseudonym, "--yes", db=sqlite_url)
    assert again.returncode == 1 and "There is no participant" in again.stderr


def test_answers_after_stop_are_not_stored_via_console(sqlite_url):
    cli("run", "--console", db=sqlite_url, stdin="/start\nyes\n1\n/stop\nyes\n5\n")
    assert export_rows(sqlite_url, "--include-rehearsal") == []


def test_db_upgrade_is_idempotent(tmp_path):
    db = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert cli("db", "upgrade", db=db).returncode == 0
    assert cli("db", "upgrade", db=db).returncode == 0


def test_invite_prints_codes_without_telegram(sqlite_url):
    result = cli(
        "invite",
        "--campaign",
        "leeds-2026",
        "--group",
        "la",
        "--count",
        "3",
        "--max-uses",
        "1",
        db=sqlite_url,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 3
    bad = cli("invite", "--campaign", "leeds-2026", "--group", "pirates", db=sqlite_url)
    assert bad.returncode == 1 and "does not take part" in bad.stderr


def test_exports_never_show_a_slack_user_id_mentioned_in_an_answer():
    from datetime import UTC, datetime

    from bot.exchange.exporting import row_values
    from storage.records import ResponseRow

    row = ResponseRow(
        "R-1",
        "c",
        "f",
        "s",
        "vcs",
        "P-1",
        "slack",
        "open",
        "Ask <@U024BE7LH> or <@W0123|sam> about it",
        datetime(2026, 3, 2, tzinfo=UTC),
    )
    assert row_values(row)["answer"] == "Ask @someone or @someone about it"
