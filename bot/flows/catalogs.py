"""The bot's own messages in each language: gettext catalogs shipped in ``bot/locale``.

The ``.po`` files are the translators' source; the compiled ``.mo`` files are committed next to
them (``pybabel compile -d bot/locale -D listening_bot``) and installed as package data, so a
plain ``pip install`` needs no build step. A language with no catalog speaks English.

Catalogs are read once, when an engine is built for a config's languages, so the engine itself
does no I/O while it talks.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from pathlib import Path

DOMAIN = "listening_bot"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


@lru_cache(maxsize=64)
def catalog(lang: str) -> gettext.NullTranslations:
    """The catalog for ``lang`` (English, the msgids themselves, when there is none)."""
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def has_catalog(lang: str) -> bool:
    return (LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file()


def said(msgid: str, lang: str | None) -> str:
    """The bot's own words ``msgid`` in ``lang`` (English when none is given or has no catalog).

    For the few words an adapter adds around a message (a Done button, a typing hint), in the
    language the message itself carries.
    """
    return catalog(lang).gettext(msgid) if lang else msgid
