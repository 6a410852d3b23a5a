"""The contract files written by write_theme_files."""

from __future__ import annotations

import csv
from pathlib import Path
from types import MappingProxyType

from bot.analysis import Assignment, Theme, ThemeResult, discover_themes, write_theme_files
from tests.analysis.conftest import make_comments


def _result() -> ThemeResult:
    theme = Theme(
        theme_id="T01",
        label="waiting time / appointments",
        keywords=("waiting", "time", "appointment"),
        size=2,
        counts=MappingProxyType({"la": 0, "parents": 1, "vcs": 1}),
        quotes=("Waiting time was long.",),
    )
    return ThemeResult(
        method="test",
        groups=("la", "parents", "vcs"),
        themes=(theme,),
        assignments=(
            Assignment("a", "T01", 0.5, "", "visit/what_help", "parents", "Waiting time was long."),
            Assignment("b", "T01", 0.25, "T02", "import", "vcs", 'Waited, then "fine"\nthanks'),
        ),
    )


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_contract_columns_exactly(tmp_path: Path) -> None:
    themes_path, assignments_path = write_theme_files(_result(), tmp_path / "out")
    assert themes_path.name == "themes.csv" and assignments_path.name == "assignments.csv"
    themes = _read(themes_path)
    assert themes[0] == ["theme_id", "label", "keywords", "size", "la", "parents", "vcs"]
    assert themes[1] == [
        "T01",
        "waiting time / appointments",
        "waiting; time; appointment",
        "2",
        "0",
        "1",
        "1",
    ]
    rows = _read(assignments_path)
    assert rows == [
        ["response_id", "theme_id", "score", "second_theme_id", "question", "group", "text"],
        ["a", "T01", "0.5000", "", "visit/what_help", "parents", "Waiting time was long."],
        ["b", "T01", "0.2500", "T02", "import", "vcs", 'Waited, then "fine"\nthanks'],
    ]


def test_files_from_a_real_run_are_consistent(tmp_path: Path) -> None:
    texts = [
        "Waiting time was too long",
        "Waited two hours",
        "Staff were kind",
        "Lovely staff",
        "Friendly driver",
        "Long wait for transport",
        "Very good service",
        "Excellent service",
        "Kept me informed",
        "No information given",
        "Café food was cold 😀",
        "خدمة ممتازة",
    ]
    result = discover_themes(make_comments(texts, ("parents", "vcs", "cc_staff")))
    themes_path, assignments_path = write_theme_files(result, tmp_path)
    themes = _read(themes_path)
    header = themes[0]
    assert header[:4] == ["theme_id", "label", "keywords", "size"]
    assert header[4:] == ["cc_staff", "parents", "vcs"]
    for row in themes[1:]:
        assert int(row[3]) == sum(int(x) for x in row[4:])
    assignments = _read(assignments_path)[1:]
    assert len(assignments) == len(texts)
    assert {r[1] for r in assignments} == {r[0] for r in themes[1:]}
