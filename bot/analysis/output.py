"""Writing a ThemeResult as the contract's two CSV files."""

from __future__ import annotations

import csv
from pathlib import Path

from bot.analysis.model import ThemeResult

THEMES_FILE = "themes.csv"
ASSIGNMENTS_FILE = "assignments.csv"
THEME_COLUMNS = ("theme_id", "label", "keywords", "size")
ASSIGNMENT_COLUMNS = (
    "response_id",
    "theme_id",
    "score",
    "second_theme_id",
    "question",
    "group",
    "text",
)


def write_theme_files(result: ThemeResult, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``themes.csv`` and ``assignments.csv`` (UTF-8) into ``out_dir``; return both paths.

    themes.csv has ``theme_id, label, keywords, size`` then one count column per group id;
    keywords are joined with "; ". The ``other``, ``no_comment`` and ``ungrouped`` lines are rows
    too, so their counts are in the file. assignments.csv has one row per answer with its
    question, group and text, so an organiser can read every comment of a theme in a
    spreadsheet.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    themes_path = out / THEMES_FILE
    assignments_path = out / ASSIGNMENTS_FILE
    with themes_path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*THEME_COLUMNS, *result.groups])
        for theme in result.themes:
            writer.writerow(
                [theme.theme_id, theme.label, "; ".join(theme.keywords), theme.size]
                + [theme.counts.get(g, 0) for g in result.groups]
            )
    with assignments_path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(ASSIGNMENT_COLUMNS)
        for a in result.assignments:
            writer.writerow(
                [
                    a.response_id,
                    a.theme_id,
                    f"{a.score:.4f}",
                    a.second_theme_id,
                    a.question,
                    a.group,
                    a.text,
                ]
            )
    return themes_path, assignments_path
