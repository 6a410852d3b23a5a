"""``listening-bot db``: database maintenance."""

from __future__ import annotations

from bot.cli._common import (
    ConfigOption,
    _settings,
    db_app,
    out,
)
from bot.errors import BotError


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply database migrations."""
    from storage.migrate import upgrade

    settings = _settings(config)
    try:
        upgrade(settings.database_url)
    except Exception as exc:  # driver errors vary; the message must not leak the URL's password
        raise BotError(f"The database cannot be reached ({type(exc).__name__}).") from None
    out.print("Database is up to date.")
