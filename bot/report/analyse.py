"""Glue between stored responses and ``bot.analysis``: which rows are comments, which method runs.

Both ``themes`` and ``report`` go through :func:`analyse`, so they always agree on the input
(free-text answers, voice notes with text, imported comments) and on the method.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.report.figures import free_text
from storage.records import ResponseRow

if TYPE_CHECKING:
    from bot.analysis import Comment, ThemeResult
    from bot.redaction import Redactor

Progress = Callable[[str, float], None]


def comments_from_rows(rows: Sequence[ResponseRow]) -> list[Comment]:
    """The free-text responses as analysis input (pseudonyms only, never platform ids)."""
    from bot.analysis import Comment
    from bot.exchange.exporting import readable_answer

    return [
        Comment(row.response_id, readable_answer(row), row.group, row.participant)
        for row in free_text(rows)
    ]


def comments_per_group(comments: Sequence[Comment]) -> dict[str, int]:
    return dict(Counter(comment.group for comment in comments))


def analyse(
    comments: Sequence[Comment],
    *,
    codebook: Path | None = None,
    n_themes: int | None = None,
    progress: Progress | None = None,
) -> ThemeResult:
    """Discover themes, or assign comments to a codebook's themes when one is given.

    Raises:
        AnalysisError: too few comments, or a codebook that cannot be used.
    """
    from bot import analysis

    if codebook is not None:
        book = analysis.load_codebook(codebook)
        return analysis.apply_codebook(list(comments), book, progress=progress)
    return analysis.discover_themes(list(comments), n_themes, progress=progress)


def redact_themes(
    result: ThemeResult,
    comments: Sequence[Comment],
    redactor: Redactor,
    names: Mapping[str, tuple[str, ...]],
) -> ThemeResult:
    """The same themes with identifying details masked in their quotes, keywords and labels.

    Each quote is traced back to the comment it was taken from, so its author's own platform
    names are masked in any case; the whole comment is masked before it is clipped again, so a
    phone number cut in half by the clip is never shown in part.
    """
    from dataclasses import replace

    from bot.analysis.describe import _clip

    flat = [(" ".join(c.text.split()), c.participant) for c in comments]

    def source(quote: str) -> tuple[str, str] | None:
        stem = quote.removesuffix("…")
        for text, participant in flat:
            if text.startswith(stem):
                return text, participant
        return None

    def quote_of(quote: str) -> str:
        found = source(quote)
        if found is None:
            return redactor.mask(quote)
        text, participant = found
        masked = redactor.mask(text, names.get(participant, ()))
        return _clip(masked) if quote.endswith("…") else masked

    themes = tuple(
        replace(
            theme,
            label=_mask_words(redactor.mask(theme.label), redactor),
            keywords=tuple(k for k in theme.keywords if not redactor.is_name(k)),
            quotes=tuple(quote_of(q) for q in theme.quotes),
        )
        for theme in result.themes
    )
    return replace(result, themes=themes)


def _mask_words(label: str, redactor: Redactor) -> str:
    """A label is made of keywords, often lower case: a name among them becomes ``[name]``."""
    import re

    return re.sub(
        r"[^\W\d_]+", lambda m: "[name]" if redactor.is_name(m.group()) else m.group(), label
    )
