"""``listening-bot backup``: a consistent copy of the database, safe while the bot runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from bot.cli._common import ConfigOption, _settings, app, out
from bot.errors import BotError


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the copy (must not exist).")],
    config: ConfigOption = None,
) -> None:
    """Copy an SQLite database while the bot may be writing to it (PostgreSQL: use pg_dump)."""
    import sqlite3

    from storage.backup import sqlite_backup

    settings = _settings(config)
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        raise BotError(
            "This database is PostgreSQL: back it up with pg_dump, as the README's "
            "'Backups' section shows."
        )
    database = Path(url.database or "")
    if not url.database or url.database == ":memory:" or not database.is_file():
        raise BotError(f"There is no database file at {database} to back up.")
    if file.exists():
        raise BotError(f"{file} already exists; a backup never overwrites a file.")
    if not file.parent.is_dir():
        raise BotError(f"The folder {file.parent} does not exist.")
    try:
        result = sqlite_backup(database, file)
    except sqlite3.Error as exc:
        raise BotError(f"The backup failed ({type(exc).__name__}); nothing was written.") from None
    out.print(
        f"Backed up {result.answers} answer(s) to {result.path} "
        f"({result.size_bytes / 1_000_000:.1f} MB)."
    )
