"""Checking and cleaning the responses handed to an analysis."""

from __future__ import annotations

from collections.abc import Sequence

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
