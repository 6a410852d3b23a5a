"""Participation per language, and the translations of each question, for the report.

Answers carry the language they were given in (``None``: stored before languages existed, or
imported, counted as the default). Closed questions need nothing here: options are stored in the
default language, so the ordinary per-group figures already count every language together.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from bot.config import Settings
from bot.localized import RTL_LANGUAGES, Localized, native_name
from bot.report.figures import is_free_text, is_small
from storage.records import ResponseRow

# Hebrew, Arabic (with its supplements and presentation forms), Syriac, Thaana, N'Ko.
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


def has_rtl(text: str) -> bool:
    """True when ``text`` has right-to-left letters (so the page must lay them out so)."""
    return bool(_RTL.search(text))


@dataclass(frozen=True, slots=True)
class LanguageParticipation:
    language: str
    label: str
    people: int  # people with at least one answer in this language
    answers: int
    comments: int
    small: bool = False

    @property
    def dir(self) -> str:
        return "rtl" if self.language in RTL_LANGUAGES else "ltr"


@dataclass(frozen=True, slots=True)
class Translation:
    language: str
    label: str
    text: str
    dir: str


def shows_languages(settings: Settings, rows: Sequence[ResponseRow]) -> bool:
    """True when the campaign speaks more than one language (or its answers do)."""
    default = settings.default_language
    return len(settings.languages) > 1 or any(row.language not in (None, default) for row in rows)


def language_participation(
    settings: Settings, rows: Sequence[ResponseRow], *, min_size: int = 1
) -> list[LanguageParticipation]:
    """People, answers and comments per language, in config order, then languages only in data."""
    default = settings.default_language
    order = list(settings.languages)
    people: dict[str, set[str]] = defaultdict(set)
    answers: Counter[str] = Counter()
    comments: Counter[str] = Counter()
    for row in rows:
        if row.channel == "import":
            continue
        lang = row.language or default
        if lang not in order:
            order.append(lang)
        answers[lang] += 1
        comments[lang] += is_free_text(row)
        if row.participant:
            people[lang].add(row.participant)
    return [
        LanguageParticipation(
            lang,
            native_name(lang) if native_name(lang) == lang else f"{native_name(lang)} ({lang})",
            len(people[lang]),
            answers[lang],
            comments[lang],
            is_small(len(people[lang]), min_size),
        )
        for lang in order
    ]


def translations(text: str, settings: Settings) -> list[Translation]:
    """A config text in each of the campaign's other languages (none for a plain string)."""
    if not isinstance(text, Localized):
        return []
    return [
        Translation(
            lang,
            native_name(lang),
            text.translations[lang],
            "rtl" if lang in RTL_LANGUAGES else "ltr",
        )
        for lang in settings.languages[1:]
        if text.has(lang)
    ]
