"""Checking and cleaning the responses handed to an analysis."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.analysis.model import Assignment, Comment, Progress, Theme, ThemeResult
from bot.errors import AnalysisError

MIN_FOR_DISCOVERY = 10
"""Below this many responses there is nothing to group: a reader can simply read them."""


def usable(comments: Sequence[Comment], *, minimum: int = 1) -> list[Comment]:
    """The comments with some text, or an AnalysisError saying why there is nothing to analyse."""
    kept = [c for c in comments if c.text and c.text.strip()]
    if not kept:
        raise AnalysisError("There are no free-text responses to analyse.")
    if len(kept) < minimum:
        raise AnalysisError(
            f"Theme discovery needs at least {minimum} free-text responses; "
            f"only {len(kept)} were given."
        )
    return kept


@dataclass(frozen=True, slots=True)
class TranslatedComment(Comment):
    """A comment analysed from an organiser's English translation; ``original`` is as written."""

    original: str = ""


def analysed(comment: Comment, translation: str | None) -> Comment:
    """The comment theme analysis reads: its imported English translation, if there is one.

    Analysis reads English only; an organiser's human translation (``import --translation-of``)
    lets an answer written in another language be analysed instead of set aside. The answer is
    never replaced: :func:`as_written` puts it back in what the analysis shows.
    """
    if not translation or not translation.strip():
        return comment
    return TranslatedComment(
        comment.response_id,
        translation,
        comment.group,
        comment.participant,
        comment.question,
        original=comment.text,
    )


def as_written(
    result: ThemeResult, comments: Sequence[Comment]
) -> tuple[ThemeResult, list[Comment]]:
    """The result and comments with translated answers shown in their own words again.

    Quotes are traced back to the comment they were taken from (a quote may be clipped with
    ``…``) and become that comment's original (clipped when long); assignments carry it too.
    """
    originals = {
        " ".join(c.text.split()): c.original for c in comments if isinstance(c, TranslatedComment)
    }
    if not originals:
        return result, list(comments)
    from bot.analysis.describe import _clip

    def quote_of(quote: str) -> str:
        stem = quote.removesuffix("…")
        for text, original in originals.items():
            if text.startswith(stem):
                return _clip(" ".join(original.split()))
        return quote

    by_id = {c.response_id: c.original for c in comments if isinstance(c, TranslatedComment)}
    themes = tuple(replace(t, quotes=tuple(quote_of(q) for q in t.quotes)) for t in result.themes)
    assignments = tuple(
        replace(a, text=by_id[a.response_id]) if a.response_id in by_id else a
        for a in result.assignments
    )
    written = [
        Comment(c.response_id, c.original, c.group, c.participant, c.question)
        if isinstance(c, TranslatedComment)
        else c
        for c in comments
    ]
    return replace(result, themes=themes, assignments=assignments), written


def groups_of(comments: Sequence[Comment]) -> tuple[str, ...]:
    """Sorted stakeholder group ids present in the input."""
    return tuple(sorted({c.group for c in comments}))


def report(progress: Progress | None, stage: str, fraction: float) -> None:
    """Tell the caller's progress callback, if any, where we are."""
    if progress is not None:
        progress(stage, max(0.0, min(1.0, fraction)))


def result_of(
    method: str,
    kept: Sequence[Comment],
    themes: tuple[Theme, ...],
    theme_ids: Sequence[str],
    labels: Sequence[int],
    scores: Sequence[float],
    second: Sequence[int] | None = None,
) -> ThemeResult:
    """The analysis result: one assignment per kept response, in input order.

    ``second`` holds, per response, the index of a second theme or -1 for none.
    """
    assignments = tuple(
        Assignment(
            c.response_id,
            theme_ids[labels[i]],
            round(float(scores[i]), 4),
            second_theme_id=theme_ids[second[i]] if second is not None and second[i] >= 0 else "",
            question=c.question,
            group=c.group,
            text=c.text,
        )
        for i, c in enumerate(kept)
    )
    return ThemeResult(
        method=method, groups=groups_of(kept), themes=themes, assignments=assignments
    )
