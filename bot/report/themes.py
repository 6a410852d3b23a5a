"""The report's theme sections: per question, numbered themes, then the residual lines.

Kept apart from :mod:`bot.report.figures` and the main template so the theme part of the report
can change without touching the rest. For each question the report shows its themes (label,
share of each group's comments, quotes each with its group's label, how many answers have the
theme as their second point), then the lines that are *not* themes: ``other`` (fits no codebook
theme; with a sample so the organiser sees what the codebook misses), "no substantive comment"
and "too rare to group". Shares are of the group's comments *to that question*.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.analysis.model import NO_COMMENT, OTHER, SPECIAL_THEMES, ThemeResult
from bot.analysis.questions import FEW_ANSWERS, base_id
from bot.config import Flow
from bot.report.figures import ThemeFigures, theme_figures

OTHER_SAMPLE = 5


@dataclass(frozen=True, slots=True)
class Quote:
    text: str
    group_label: str


@dataclass(frozen=True, slots=True)
class ThemeBlock:
    figures: ThemeFigures
    number: int | None  # None for the residual lines, which are not themes
    kind: str  # "theme", "other", "no_comment" or "ungrouped"
    second: int
    quotes: tuple[Quote, ...]


@dataclass(frozen=True, slots=True)
class QuestionBlock:
    question: str
    title: str
    analysed: int
    blocks: tuple[ThemeBlock, ...]
    largest_share: float | None  # the largest theme's share of the answers grouped into themes
    other: int
    no_comment: int


def theme_sections(
    result: ThemeResult,
    groups: Sequence[tuple[str, str]],
    comments_per_group: Mapping[str, int],
    titles: Mapping[str, str],
    *,
    min_base: int = 0,
    author_of: Mapping[str, str] | None = None,
) -> list[QuestionBlock]:
    """One block per question (a single block when the analysis was pooled).

    ``author_of`` maps a response id to its author's pseudonym; with it, a group's theme shares
    are withheld when fewer than ``min_base`` *people* of the group commented (an imported
    comment, with no author, counts as one person), not merely fewer comments.
    """
    label_of = dict(groups)
    per_question: dict[str, Counter[str]] = {}
    people: dict[str, dict[str, set[str]]] = {}
    for a in result.assignments:
        per_question.setdefault(a.question, Counter())[a.group] += 1
        author = (author_of or {}).get(a.response_id) or f"comment:{a.response_id}"
        for key in (a.question, "*"):
            people.setdefault(key, {}).setdefault(a.group, set()).add(author)
    order = list(dict.fromkeys(t.question for t in result.themes))
    if len(order) <= 1:
        order = [order[0] if order else ""]
    blocks = []
    for question in order:
        themes = [t for t in result.themes if t.question == question or len(order) == 1]
        counts = per_question.get(question) if len(order) > 1 else None
        denominators = dict(counts) if counts else dict(comments_per_group)
        authors = people.get(question if len(order) > 1 else "*", {})
        too_few = {g for g, who in authors.items() if len(who) < min_base} if author_of else set()
        figures = theme_figures(
            themes,
            groups,
            denominators,
            quotes=OTHER_SAMPLE,
            min_base=min_base,
            too_few=too_few,
        )
        items = []
        number = 0
        for theme, fig in zip(themes, figures, strict=True):
            kind = base_id(theme.theme_id)
            kind = kind if kind in SPECIAL_THEMES else "theme"
            if kind == "theme":
                number += 1
            n_quotes = OTHER_SAMPLE if kind == OTHER else 3
            quote_groups = tuple(getattr(theme, "quote_groups", ()) or ())
            quotes = tuple(
                Quote(text, _group_label(quote_groups, i, label_of))
                for i, text in enumerate(theme.quotes[:n_quotes])
            )
            items.append(
                ThemeBlock(
                    fig, number if kind == "theme" else None, kind, int(theme.second), quotes
                )
            )
        numbered = [b.figures.size for b in items if b.kind == "theme"]
        blocks.append(
            QuestionBlock(
                question=question,
                title=titles.get(question) or _title(question),
                analysed=sum(denominators.values()),
                blocks=tuple(items),
                largest_share=max(numbered) / sum(numbered) if numbered else None,
                other=sum(b.figures.size for b in items if b.kind == OTHER),
                no_comment=sum(b.figures.size for b in items if b.kind == NO_COMMENT),
            )
        )
    return blocks


def _group_label(groups: Sequence[str], index: int, label_of: Mapping[str, str]) -> str:
    if index >= len(groups):
        return ""
    return label_of.get(groups[index], groups[index])


def _title(question: str) -> str:
    if question == "import":
        return "Imported comments"
    if question == FEW_ANSWERS:
        return "Questions with few answers"
    if question == "unprompted":
        return "Comments sent between questions"
    return question


def question_titles(flows: Iterable[Flow]) -> dict[str, str]:
    """``FLOW/STEP`` or open flow id -> the question as participants saw it."""
    titles: dict[str, str] = {}
    for flow in flows:
        if flow.kind == "open":
            titles[flow.id] = flow.title or flow.opening or flow.id
        for step in flow.steps:
            if step.type == "text":
                titles[f"{flow.id}/{step.id}"] = step.ask
    return titles
