"""Values passed in and out of theme analysis: plain, immutable, storage-free."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

Progress = Callable[[str, float], None]
"""Called with a stage name and a fraction 0..1 so a CLI can draw a progress bar."""

OTHER = "other"
"""Theme id of the residual theme (responses that match nothing well enough)."""
NO_COMMENT = "no_comment"
"""Theme id of answers with no substantive comment ("thanks", "no", "n/a", an emoji)."""
UNGROUPED = "ungrouped"
"""Theme id of answers whose words are too rare to group (discovery): a count, not a theme."""
SPECIAL_THEMES = frozenset({OTHER, NO_COMMENT, UNGROUPED})
"""Residual lines that are shown apart from the numbered themes."""


@dataclass(frozen=True, slots=True)
class Comment:
    """One free-text response to analyse, tagged with who gave it (a pseudonym, never a name)."""

    response_id: str
    text: str
    group: str
    participant: str
    question: str = ""
    """``FLOW/STEP`` the answer was given to, or ``import``; empty when not known."""


@dataclass(frozen=True, slots=True)
class Theme:
    """A theme as the organiser sees it: readable label, keywords, size per group, quotes."""

    theme_id: str
    label: str
    keywords: tuple[str, ...]
    size: int
    counts: Mapping[str, int]
    quotes: tuple[str, ...]
    question: str = ""
    second: int = 0
    """Answers that have this theme as their *second* theme (not counted in ``size``)."""
    description: str = ""
    quote_groups: tuple[str, ...] = ()
    """The group id of each quote, in the same order as ``quotes``."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """Which theme one response went to, and how well it fits (higher is better)."""

    response_id: str
    theme_id: str
    score: float
    second_theme_id: str = ""
    question: str = ""
    group: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True)
class ThemeResult:
    """Everything an analysis produced; ``themes`` by size, ``assignments`` in input order."""

    method: str
    groups: tuple[str, ...]
    themes: tuple[Theme, ...]
    assignments: tuple[Assignment, ...]
    notes: tuple[str, ...] = ()
    """Method notes for the report (review edits applied, agreement with a person)."""


@dataclass(frozen=True, slots=True)
class CodebookTheme:
    """One theme an organiser defined in advance (the KJ "best match" categories)."""

    theme_id: str
    name: str
    description: str
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Codebook:
    """An ordered set of predefined themes loaded from YAML."""

    themes: tuple[CodebookTheme, ...]
    source: str = ""
