"""Where commands may write: never over the database, never half a file, one sentence otherwise."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.cli._common import atomic_output
from bot.errors import BotError
from tests.cli.test_cli import cli


def _db_path(sqlite_url: str) -> Path:
    return Path(sqlite_url.removeprefix("sqlite:///"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_sentence_exit_1(result) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_export_never_overwrites_the_database_even_with_force(sqlite_url, fmt):
    db = _db_path(sqlite_url)
    before = _digest(db)
    for extra in ((), ("--force",)):
        result = cli("export", "--format", fmt, "--out", str(db), *extra, db=sqlite_url)
        _one_sentence_exit_1(result)
        assert "database" in result.stderr
    assert _digest(db) == before


def test_export_refuses_the_database_by_another_spelling_of_its_path(sqlite_url, tmp_path):
    db = _db_path(sqlite_url)
    before = _digest(db)
    sneaky = tmp_path / "sub" / ".." / db.name
    (tmp_path / "sub").mkdir()
    result = cli("export", "--out", str(sneaky), db=sqlite_url, cwd=tmp_path)
    _one_sentence_exit_1(result)
    relative = cli("export", "--out", db.name, db=sqlite_url, cwd=tmp_path)
    _one_sentence_exit_1(relative)
    assert _digest(db) == before


def test_export_refuses_any_sqlite_file(sqlite_url, tmp_path):
    other = tmp_path / "other.db"
    other.write_bytes(_db_path(sqlite_url).read_bytes())
    result = cli("export", "--out", str(other), "--force", db=sqlite_url)
    _one_sentence_exit_1(result)


def test_export_into_a_missing_folder_or_onto_a_folder_is_one_sentence(sqlite_url, tmp_path):
    missing = cli("export", "--out", str(tmp_path / "nope" / "x.csv"), db=sqlite_url)
    _one_sentence_exit_1(missing)
    assert "does not exist" in missing.stderr
    folder = cli("export", "--out", str(tmp_path), db=sqlite_url)
    _one_sentence_exit_1(folder)
    assert "folder" in folder.stderr


def test_export_replaces_an_earlier_export_but_another_file_only_with_force(sqlite_url, tmp_path):
    target = tmp_path / "responses.csv"
    assert cli("export", "--out", str(target), db=sqlite_url).returncode == 0
    assert target.read_text(encoding="utf-8").startswith("response_id,")
    again = cli("export", "--out", str(target), db=sqlite_url)
    assert again.returncode == 0, again.stderr
    notes = tmp_path / "notes.csv"
    notes.write_text("my own notes\n", encoding="utf-8")
    refused = cli("export", "--out", str(notes), db=sqlite_url)
    _one_sentence_exit_1(refused)
    assert "--force" in refused.stderr
    assert notes.read_text(encoding="utf-8") == "my own notes\n"
    forced = cli("export", "--out", str(notes), "--force", db=sqlite_url)
    assert forced.returncode == 0 and notes.read_text(encoding="utf-8").startswith("response_id,")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_report_and_themes_use_the_same_checks(sqlite_url, tmp_path):
    db = _db_path(sqlite_url)
    before = _digest(db)
    report = cli("report", "--out", str(db), db=sqlite_url)
    _one_sentence_exit_1(report)
    missing = cli("report", "--out", str(tmp_path / "nope" / "r.html"), db=sqlite_url)
    _one_sentence_exit_1(missing)
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x", encoding="utf-8")
    themes = cli("themes", "--out", str(a_file), db=sqlite_url)
    assert themes.returncode == 2 and "Traceback" not in themes.stderr  # typer: wrong usage
    assert _digest(db) == before


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_output(target) as handle:
        handle.write("half a fi")
        raise RuntimeError("disk pulled out")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_an_unwritable_folder_is_a_bot_error(tmp_path):
    with pytest.raises(BotError), atomic_output(tmp_path / "missing" / "x.csv") as handle:
        handle.write("never")
