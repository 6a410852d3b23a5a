"""`import` as an organiser uses it: real files, a batch id, `imports` to list and `--undo`."""

from __future__ import annotations

import getpass

from tests.cli.test_cli import cli, export_rows
from tests.conftest import example_data, write_config


def test_an_import_is_a_batch_that_can_be_listed_and_undone(sqlite_url, tmp_path):
    path = tmp_path / "workshop-notes.csv"
    path.write_text("Comment;Group\nMore staff, please;Parents\nLonger hours;VCS\n", "utf-8")
    result = cli(
        "import", str(path), "--campaign", "leeds-2026", "--source", "workshop", db=sqlite_url
    )
    assert result.returncode == 0, result.stderr
    batch = result.stdout.split("as batch ")[1].split(";")[0]
    assert batch.startswith("B-") and f"import --undo {batch}" in result.stdout
    assert [(r["answer"], r["group"]) for r in export_rows(sqlite_url)] == [
        ("More staff, please", "parents"),
        ("Longer hours", "vcs"),
    ]

    listing = cli("imports", "--campaign", "leeds-2026", db=sqlite_url)
    assert listing.returncode == 0, listing.stderr
    line = next(line for line in listing.stdout.splitlines() if batch in line)
    for shown in ("workshop-notes.csv", "workshop", " 2 ", getpass.getuser()):
        assert shown in line

    declined = cli("import", "--undo", batch.lower(), db=sqlite_url, stdin="n\n")
    assert declined.returncode == 1 and "Nothing was removed" in declined.stderr
    silent = cli("import", "--undo", batch, db=sqlite_url, stdin="")  # a script, no --yes
    assert silent.returncode == 1 and "Error: Nothing was removed." in silent.stderr
    assert len(export_rows(sqlite_url)) == 2

    undone = cli("import", "--undo", batch, "--yes", db=sqlite_url)
    assert undone.returncode == 0, undone.stderr
    assert f"Removed batch {batch}: 2 comment(s)" in undone.stdout
    assert export_rows(sqlite_url) == []
    assert "Nothing has been imported" in cli("imports", db=sqlite_url).stdout

    again = cli("import", str(path), "--campaign", "leeds-2026", db=sqlite_url)
    assert again.returncode == 0, again.stderr  # undone, so the same file may come back
    twice = cli("import", str(path), "--campaign", "leeds-2026", db=sqlite_url)
    assert twice.returncode == 1 and "already imported as batch B-" in twice.stderr
    assert len(export_rows(sqlite_url)) == 2


def test_undo_of_an_unknown_batch_is_one_sentence(sqlite_url):
    result = cli("import", "--undo", "B-NOPE22", "--yes", db=sqlite_url)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: There is no import batch 'B-NOPE22'; `listening-bot imports` lists them."
    )


def test_import_needs_a_file_or_undo(sqlite_url):
    result = cli("import", db=sqlite_url)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_group_option_takes_a_label_in_any_case(sqlite_url, tmp_path):
    path = tmp_path / "paper.csv"
    path.write_text("Response\nA quiet room for feeding\n", "utf-8")
    result = cli(
        "import",
        str(path),
        "--campaign",
        "leeds-2026",
        "--group",
        "PARENTS AND CARERS",
        db=sqlite_url,
    )
    assert result.returncode == 0, result.stderr
    assert [r["group"] for r in export_rows(sqlite_url)] == ["parents"]


def test_dates_default_to_month_first_for_an_american_campaign(sqlite_url, tmp_path):
    data = example_data()
    data["timezone"] = "America/New_York"
    config = write_config(tmp_path, data)
    path = tmp_path / "us.csv"
    path.write_text("text,group,submitted_at\nHello,vcs,01/24/2027 6:30 PM\n", "utf-8")
    result = cli("import", str(path), "--campaign", "leeds-2026", db=sqlite_url, config=config)
    assert result.returncode == 0, result.stderr
    result = cli("export", "--format", "csv", db=sqlite_url, config=config)
    assert "2027-01-24T23:30:00Z" in result.stdout
    uk = tmp_path / "uk.csv"
    uk.write_text("text,group,submitted_at\nHello,vcs,24/01/2027 18:30\n", "utf-8")
    refused = cli("import", str(uk), "--campaign", "leeds-2026", db=sqlite_url, config=config)
    assert refused.returncode == 1 and "row 2 has a date '24/01/2027 18:30'" in refused.stderr
    forced = cli(
        "import", str(uk), "--campaign", "leeds-2026", "--dayfirst", db=sqlite_url, config=config
    )
    assert forced.returncode == 0, forced.stderr
