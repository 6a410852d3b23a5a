"""``listening-bot backup`` copies a live SQLite database consistently; the copy restores."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from tests.conftest import ROOT, example_data, write_config


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _seed_participant(conn: sqlite3.Connection) -> int:
    conn.execute(
        "INSERT INTO participants (pseudonym, created_at)"
        " VALUES ('P-backup', '2026-03-02 10:00:00.000000')"
    )
    return int(conn.execute("SELECT id FROM participants").fetchone()[0])


def _answer(conn: sqlite3.Connection, participant: int, n: int) -> None:
    conn.execute(
        "INSERT INTO responses (response_uid, participant_id, campaign_id, flow_id, step_id,"
        " group_id, channel, kind, answer, answered_at, source_msg_id)"
        " VALUES (?, ?, 'leeds-2026', 'challenge-1', 'opening', 'parents', 'telegram', 'text', ?,"
        " '2026-03-02 10:00:00.000000', ?)",
        (f"r{n}", participant, f"answer {n}", f"m{n}"),
    )


def test_backup_while_writing_then_restore_finds_every_answer(
    tmp_path: Path, sqlite_url: str
) -> None:
    database = sqlite_url.split("///", 1)[1]
    data = example_data()
    data["database_url"] = sqlite_url
    config = write_config(tmp_path, data)

    writer = sqlite3.connect(database, isolation_level=None, timeout=30)
    writer.execute("PRAGMA journal_mode=WAL")
    person = _seed_participant(writer)
    for n in range(500):
        _answer(writer, person, n)

    stop = threading.Event()
    written = [500]

    def keep_writing() -> None:  # "run" goes on answering while the backup copies
        conn = sqlite3.connect(database, isolation_level=None, timeout=30)
        while not stop.is_set():
            _answer(conn, person, written[0])
            written[0] += 1
        conn.close()

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        result = _cli("backup", str(tmp_path / "copy.db"), "--config", str(config))
    finally:
        stop.set()
        thread.join(timeout=30)
    assert result.returncode == 0, result.stderr
    assert "Backed up" in result.stdout

    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copied = copy.execute("SELECT answer FROM responses ORDER BY id").fetchall()
    copy.close()
    # one consistent snapshot: the first N answers, in order, nothing torn
    assert 500 <= len(copied) <= written[0]
    assert [v for (v,) in copied] == [f"answer {n}" for n in range(len(copied))]

    # restore as the README says: point the config at the copy and read it back
    restored = dict(data, database_url=f"sqlite:///{tmp_path / 'copy.db'}")
    restored_config = write_config(tmp_path, restored, name="restored.yaml")
    exported = _cli("export", "--config", str(restored_config))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.count("challenge-1") == len(copied)
    writer.close()


def test_backup_never_overwrites_and_explains_postgres(tmp_path: Path, sqlite_url: str) -> None:
    data = example_data()
    data["database_url"] = sqlite_url
    config = write_config(tmp_path, data)
    existing = tmp_path / "there.db"
    existing.write_text("keep me")
    result = _cli("backup", str(existing), "--config", str(config))
    assert result.returncode == 1 and "already exists" in result.stderr
    assert existing.read_text() == "keep me"
    assert "Traceback" not in result.stderr

    data["database_url"] = "postgresql://postgres@127.0.0.1:1/none"
    pg_config = write_config(tmp_path, data, name="pg.yaml")
    result = _cli("backup", str(tmp_path / "x.db"), "--config", str(pg_config))
    assert result.returncode == 1 and "pg_dump" in result.stderr
