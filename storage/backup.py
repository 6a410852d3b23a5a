"""Online backups of an SQLite database, safe while ``run`` is writing to it.

SQLite's backup API copies the database page by page inside read transactions, so a writer in
another process is never blocked for long and the copy is one consistent snapshot (WAL mode
included). The copy is written beside the target under a temporary name, checked with
``PRAGMA integrity_check`` and only then renamed into place, so a failed backup never leaves a
half-written file where a good one was expected.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

PAGES_PER_STEP = 1024


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size_bytes: int
    answers: int


def sqlite_backup(source: Path, target: Path) -> BackupResult:
    """Copy ``source`` to ``target`` (which must not exist yet).

    Raises:
        FileExistsError: ``target`` exists (a backup never overwrites).
        sqlite3.DatabaseError: the copy failed its integrity check.
    """
    if target.exists():
        raise FileExistsError(str(target))
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=PAGES_PER_STEP)
            (verdict,) = dst.execute("PRAGMA integrity_check").fetchone()
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {verdict}")
            answers = _count_answers(dst)
        finally:
            dst.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    os.replace(partial, target)
    return BackupResult(target, target.stat().st_size, answers)


def _count_answers(conn: sqlite3.Connection) -> int:
    try:
        (count,) = conn.execute("SELECT count(*) FROM responses").fetchone()
    except sqlite3.OperationalError:  # an empty or foreign database has no responses table
        return 0
    return int(count)
