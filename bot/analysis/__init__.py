"""Theme analysis of free-text responses: discovery, codebook matching and the contract files.

Pure library: no database, no CLI, no printing. Callers pass :class:`Comment` values and get a
:class:`ThemeResult` back; :func:`write_theme_files` writes ``themes.csv`` and
``assignments.csv``. The default path needs only scikit-learn and numpy; sentence embeddings
are optional (``vectoriser="embeddings"``, ``pip install listening-bot[embeddings]``).
"""

from __future__ import annotations

from bot.analysis.codebook import apply_codebook, load_codebook, parse_codebook
from bot.analysis.discover import discover_themes
from bot.analysis.inputs import MIN_FOR_DISCOVERY
from bot.analysis.model import (
    NO_COMMENT,
    OTHER,
    SPECIAL_THEMES,
    UNGROUPED,
    Assignment,
    Codebook,
    CodebookTheme,
    Comment,
    Progress,
    Theme,
    ThemeResult,
)
from bot.analysis.output import write_theme_files
from bot.analysis.vectorisers import VECTORISERS

__all__ = [
    "MIN_FOR_DISCOVERY",
    "NO_COMMENT",
    "OTHER",
    "SPECIAL_THEMES",
    "UNGROUPED",
    "VECTORISERS",
    "Assignment",
    "Codebook",
    "CodebookTheme",
    "Comment",
    "Progress",
    "Theme",
    "ThemeResult",
    "apply_codebook",
    "discover_themes",
    "load_codebook",
    "parse_codebook",
    "write_theme_files",
]
