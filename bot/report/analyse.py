"""Glue between stored responses and ``bot.analysis``: which rows are comments, which method runs.

Both ``themes`` and ``report`` go through :func:`analyse`, so they always agree on the input
(free-text answers, voice notes with text, imported comments) and on the method.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.report.figures import free_text
from storage.records import ResponseRow

if TYPE_CHECKING:
    from bot.analysis import Comment, ThemeResult
    from bot.redaction import Redactor

Progress = Callable[[str, float], None]


def question_of(row: ResponseRow, open_flows: Collection[str] = ()) -> str:
    """The question an answer belongs to: ``FLOW/STEP``, the open flow's id, or ``import``.

    Every answer of an open conversation (opening and probes) is one question. Imports are
    ``import`` unless they were imported for a question (``import --flow/--step``). Comments sent
    when no question was open are ``unprompted``.
    """
    if row.flow == "import":
        return "import"
    if row.step == "unprompted":
        return "unprompted"
    if row.flow in open_flows:
        return row.flow
    return f"{row.flow}/{row.step}" if row.step else row.flow


def comments_from_rows(
    rows: Sequence[ResponseRow], open_flows: Collection[str] = ()
) -> list[Comment]:
    """The free-text responses as analysis input (pseudonyms only, never platform ids)."""
    from bot.analysis import Comment
    from bot.analysis.inputs import analysed
    from bot.exchange.exporting import readable_answer

    return [
        analysed(
            Comment(
                row.response_id,
                readable_answer(row),
                row.group,
                row.participant,
                question_of(row, open_flows),
            ),
            row.translation,  # an organiser's English translation is what analysis reads
        )
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
    pooled: bool = False,
) -> ThemeResult:
    """Discover themes per question (or all together when ``pooled``), or apply a codebook.

    A codebook's themes apply to every question, so codebook matching runs over all answers at
    once; each assignment still carries its question.

    Raises:
        AnalysisError: too few comments, or a codebook that cannot be used.
    """
    from bot import analysis
    from bot.analysis.questions import analyse_by_question

    if codebook is not None:
        book = analysis.load_codebook(codebook)
        return analysis.apply_codebook(list(comments), book, progress=progress)
    if pooled:
        return analysis.discover_themes(list(comments), n_themes, progress=progress)
    return analyse_by_question(
        comments, lambda part: analysis.discover_themes(part, n_themes, progress=progress)
    )


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

    # "don't" is one word: its "don" is not the name Don.
    return re.sub(
        r"[^\W\d_]+(?:['’][^\W\d_]+)*",
        lambda m: "[name]" if redactor.is_name(m.group()) else m.group(),
        label,
    )
