"""Themes per question: each open flow and each free-text step is analysed on its own.

Pooling every answer of a campaign mixes "What help did you get?" with "Anything else?", and the
themes that come out describe the mix, not either question. Here each question with at least
``minimum`` answers gets its own discovery run; theme ids are prefixed ``Q1.``, ``Q2.``... so they
are unique across questions. Questions with fewer answers are analysed together as one
"questions with few answers" question, or, when even together they are too few, counted on one
line with examples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import MappingProxyType

from bot.analysis.inputs import MIN_FOR_DISCOVERY, groups_of, usable
from bot.analysis.model import UNGROUPED, Assignment, Comment, Theme, ThemeResult

FEW_ANSWERS = "questions with few answers"


def split_by_question(
    comments: Sequence[Comment], minimum: int = MIN_FOR_DISCOVERY
) -> list[tuple[str, list[Comment]]]:
    """(question, its comments) in first-seen order; small questions pooled at the end."""
    buckets: dict[str, list[Comment]] = {}
    for comment in comments:
        buckets.setdefault(comment.question or "", []).append(comment)
    big = [(q, cs) for q, cs in buckets.items() if len(cs) >= minimum]
    small = [c for cs in buckets.values() if len(cs) < minimum for c in cs]
    if small:
        big.append((FEW_ANSWERS, small))
    return big


def analyse_by_question(
    comments: Sequence[Comment],
    analyse_one: Callable[[list[Comment]], ThemeResult],
    *,
    minimum: int = MIN_FOR_DISCOVERY,
) -> ThemeResult:
    """Run ``analyse_one`` per question and join the results (ids ``Q<n>.<theme id>``)."""
    kept = usable(comments)
    parts = split_by_question(kept, minimum)
    if len(parts) == 1:  # one question, or too few answers in all: the library says why
        return analyse_one(parts[0][1])
    themes: list[Theme] = []
    by_id: dict[str, Assignment] = {}
    methods: list[str] = []
    for n, (question, members) in enumerate(parts, start=1):
        prefix = f"Q{n}."
        if len(members) < minimum:
            result = _too_few(members, question)
        else:
            result = analyse_one(members)
        methods.append(
            f"Q{n} ({question or 'no question'}, {len(members)} answers): {result.method}"
        )
        for theme in result.themes:
            themes.append(_renamed(theme, prefix + theme.theme_id, question))
        for a in result.assignments:
            by_id[a.response_id] = Assignment(
                a.response_id,
                prefix + a.theme_id,
                a.score,
                prefix + a.second_theme_id if a.second_theme_id else "",
                a.question,
                a.group,
                a.text,
            )
    return ThemeResult(
        method="themes found per question. " + " | ".join(methods),
        groups=groups_of(kept),
        themes=tuple(themes),
        assignments=tuple(by_id[c.response_id] for c in kept if c.response_id in by_id),
    )


def _renamed(theme: Theme, theme_id: str, question: str) -> Theme:
    from dataclasses import replace

    return replace(theme, theme_id=theme_id, question=question)


def _too_few(members: list[Comment], question: str) -> ThemeResult:
    groups = groups_of(members)
    counts = dict.fromkeys(groups, 0)
    for c in members:
        counts[c.group] += 1
    theme = Theme(
        theme_id=UNGROUPED,
        label="Too few answers to find themes (shown as a count with examples)",
        keywords=(),
        size=len(members),
        counts=MappingProxyType(counts),
        quotes=tuple(c.text for c in members[:3]),
        question=question,
        quote_groups=tuple(c.group for c in members[:3]),
    )
    assignments = tuple(
        Assignment(c.response_id, UNGROUPED, 0.0, "", c.question, c.group, c.text) for c in members
    )
    return ThemeResult(
        method="too few answers to group", groups=groups, themes=(theme,), assignments=assignments
    )


def base_id(theme_id: str) -> str:
    """The theme id without its question prefix ("Q2.other" -> "other")."""
    return theme_id.split(".", 1)[1] if theme_id.startswith("Q") and "." in theme_id else theme_id
