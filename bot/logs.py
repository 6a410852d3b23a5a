"""Logging set-up that never writes a secret: tokens and passwords are masked in every record."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

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


def configure(settings: Settings, *, verbose: bool) -> SecretMasker:
    """Log to standard error at INFO (verbose) or WARNING, with secrets masked everywhere."""
    masker = SecretMasker(settings_secrets(settings))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(masker)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
    return masker
