"""Logging set-up that never writes a secret: tokens and passwords are masked in every record."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy.engine import make_url

from bot.config import Settings

MASK = "***"
# Libraries that log full request URLs; Telegram's carry the bot token in the path.
_CHATTY = ("httpx", "httpcore", "telegram.ext", "slack_sdk", "slack_bolt", "aiohttp.access")


class SecretMasker(logging.Filter):
    """Replaces each known secret in a record's message (after formatting) with ``***``."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, masked, so a handler never prints the raw one.
            record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if masked != message:
            record.msg, record.args = masked, None
        return True


def settings_secrets(settings: Settings) -> list[str | None]:
    """Every secret the config holds: platform tokens and the database password."""
    secrets = [
        settings.telegram.token,
        settings.telegram.secret_token,
        settings.slack.bot_token,
        settings.slack.signing_secret,
        settings.slack.app_token,
    ]
    try:
        secrets.append(make_url(settings.database_url).password)
    except Exception:  # an unparsable URL has no password we could know about
        pass
    return secrets


CONTEXT_FIELDS = ("campaign", "flow", "pseudonym", "platform", "update_id", "count")
"""Extra fields a log call may attach (``log.info(..., extra={"campaign": ...})``) that JSON
logs carry as their own keys. None of them identifies a person: the pseudonym is ours."""


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (``LISTENING_LOG_FORMAT=json``).

    Keys: ``time`` (ISO 8601 UTC), ``level``, ``logger``, ``message``, any of
    :data:`CONTEXT_FIELDS` the call attached, and ``error`` (the exception type) with
    ``traceback`` when there is one. The message is the same masked text the plain format shows.
    """

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                event[name] = value
        if record.exc_info and record.exc_info[1] is not None:
            event["error"] = type(record.exc_info[1]).__name__
            event["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            event["traceback"] = record.exc_text
        return json.dumps(event, ensure_ascii=False, default=str)


def make_formatter(fmt: str | None = None) -> logging.Formatter:
    """The plain formatter, or JSON when ``fmt`` (default ``$LISTENING_LOG_FORMAT``) is ``json``."""
    chosen = (fmt if fmt is not None else os.environ.get("LISTENING_LOG_FORMAT", "")).lower()
    if chosen == "json":
        return JsonFormatter()
    if chosen not in ("", "plain", "text"):
        from bot.errors import ConfigError

        raise ConfigError(f"LISTENING_LOG_FORMAT must be 'json' or 'plain', not {chosen!r}.")
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure(settings: Settings, *, verbose: bool) -> SecretMasker:
    """Log to standard error at INFO (verbose) or WARNING, with secrets masked everywhere."""
    masker = SecretMasker(settings_secrets(settings))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter())
    handler.addFilter(masker)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
    return masker
