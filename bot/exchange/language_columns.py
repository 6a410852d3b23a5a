"""The export's language columns: the language each answer was given in, and for free text the
language it is written in (detected offline), so a Polish answer to an English prompt shows."""

from __future__ import annotations

from collections.abc import Sequence

from bot.config import Settings
from bot.exchange.exporting import ExtraColumns
from bot.localized import RTL_LANGUAGES
from storage.records import ResponseRow

FREE_TEXT_KINDS = ("text", "open", "voice")
LANGUAGE_COLUMNS = ("language", "detected_language")
TRANSLATION_COLUMN = "translation"
"""The organiser's English translation of an answer (``import --translation-of``), when any."""


def language_columns(settings: Settings, rows: Sequence[ResponseRow]) -> ExtraColumns | None:
    """``language`` and ``detected_language`` after the contract's columns, when they matter,
    and ``translation`` when an organiser has imported translations of answers.

    A campaign that names no languages (and whose answers carry none other than English) keeps
    exactly the ten contract columns (and ``translation`` once translations are imported);
    ``answer`` is always the answer as written.
    """
    default = settings.default_language
    speaks = len(settings.languages) > 1 or any(r.language not in (None, default) for r in rows)
    translated = any(r.translation for r in rows)
    if not speaks:
        if translated:  # an English campaign whose organiser imported translations of answers
            return ExtraColumns((TRANSLATION_COLUMN,), lambda row: (row.translation or "",))
        return None
    from bot.analysis.language_detect import detect

    free = [r for r in rows if r.kind in FREE_TEXT_KINDS and r.channel != "import"]
    free += [r for r in rows if r.channel == "import"]
    detected = dict(
        zip(
            (r.response_id for r in free),
            detect((r.answer for r in free), settings.languages),
            strict=True,
        )
    )

    def language(row: ResponseRow) -> str:
        if row.channel == "import":
            return ""  # nobody asked: the organiser typed it in
        return row.language or default

    def values(row: ResponseRow) -> tuple[str, ...]:
        found = (language(row), detected.get(row.response_id) or "")
        return (*found, row.translation or "") if translated else found

    def right_to_left(row: ResponseRow) -> bool:
        written = detected.get(row.response_id) or language(row)
        return written in RTL_LANGUAGES

    names = (*LANGUAGE_COLUMNS, TRANSLATION_COLUMN) if translated else LANGUAGE_COLUMNS
    return ExtraColumns(names, values, right_to_left)
