"""Theme analysis reads English only (its stop list and stemmer are English), so comments written
in another language are set aside and named, never silently mixed in or dropped.

Which language a comment is in: the offline detector's answer when it is sure, else the
language the person was asked in. Campaigns that speak one language are not looked at at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.config import Settings
from bot.localized import native_name
from bot.report.figures import free_text
from storage.records import ResponseRow

ANALYSED_LANGUAGE = "en"


@dataclass(frozen=True, slots=True)
class LanguageSplit:
    """The rows theme analysis may read, and how many comments per language it may not."""

    rows: list[ResponseRow]
    set_aside: dict[str, int] = field(default_factory=dict)
    set_aside_ids: tuple[str, ...] = ()
    translated: int = 0
    """Comments analysed from an organiser's English translation (``import --translation-of``)."""

    @property
    def note(self) -> str | None:
        """Plain sentences about what was not analysed or was read in translation, or None."""
        notes = []
        if self.set_aside:
            total = sum(self.set_aside.values())
            parts = ", ".join(f"{native_name(lang)} {n}" for lang, n in self.set_aside.items())
            notes.append(
                f"{total} comment{'' if total == 1 else 's'} written in another language "
                f"({parts}) {'was' if total == 1 else 'were'} not analysed for themes, which "
                "reads English only; they are listed under their questions as written."
            )
        if self.translated:
            n = self.translated
            notes.append(
                f"{n} comment{'' if n == 1 else 's'} written in another language "
                f"{'was' if n == 1 else 'were'} analysed from an English translation imported "
                "by the organiser; they are quoted as written."
            )
        return " ".join(notes) or None


def split_for_analysis(settings: Settings, rows: Sequence[ResponseRow]) -> LanguageSplit:
    """Keep the comments theme analysis can read; count the others per language."""
    if len(settings.languages) == 1 and settings.default_language == ANALYSED_LANGUAGE:
        if all(row.language in (None, ANALYSED_LANGUAGE) for row in rows):
            return LanguageSplit(list(rows))
    from bot.analysis.language_detect import detect

    # An answer with an imported English translation is analysed from it, whatever its language.
    translated = sum(1 for row in free_text(rows) if row.translation)
    comments = [row for row in free_text(rows) if not row.translation]
    candidates = list(dict.fromkeys([ANALYSED_LANGUAGE, *settings.languages]))
    detected = detect((row.answer for row in comments), candidates)
    outside = {
        row.response_id: lang
        for row, found in zip(comments, detected, strict=True)
        if (lang := found or row.language or settings.default_language) != ANALYSED_LANGUAGE
    }
    if not outside:
        return LanguageSplit(list(rows), translated=translated)
    counts = Counter(outside.values())
    ordered = {lang: counts[lang] for lang in [*settings.languages, *counts] if lang in counts}
    return LanguageSplit(
        [row for row in rows if row.response_id not in outside],
        ordered,
        tuple(outside),
        translated,
    )
