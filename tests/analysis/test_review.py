"""Review edits applied to a result: split by keyword, a theme marked not substantive, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.analysis import NO_COMMENT, OTHER, apply_codebook, parse_codebook
from bot.analysis.review import apply_review, load_review, write_review
from bot.analysis.text import is_non_substantive
from bot.errors import AnalysisError
from tests.analysis.conftest import make_comments

TEXTS = [
    "The waiting list for speech therapy is too long",
    "We waited months for a speech assessment",
    "Long wait for the hearing test",
    "Waiting times for the hearing clinic are awful",
    "Potty training advice was great",
    "Potty training leaflet came late",
    "Toilet training workshop was full",
    "Thanks for the cake at the toilet training session",
]
BOOK = {
    "themes": [
        {"name": "Waiting", "keywords": ["waiting", "wait", "waited"]},
        {"name": "Toilet training", "keywords": ["potty", "toilet"]},
    ]
}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def reviewed(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    comments = make_comments(TEXTS)
    result = apply_codebook(comments, parse_codebook(BOOK))
    path = write_review(result, tmp_path / "themes-review.yaml")
    baseline = {a.response_id: a.theme_id for a in result.assignments}
    return path, baseline


def test_split_by_keyword_and_not_substantive_theme(reviewed) -> None:
    path, baseline = reviewed
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    waiting = next(t for t in data["themes"] if t["id"] == "waiting")
    waiting["split"] = {"Hearing tests": ["hearing"]}
    toilet = next(t for t in data["themes"] if t["id"] == "toilet_training")
    toilet["not_substantive"] = True
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    comments = make_comments([*TEXTS, "Another wait for the hearing clinic"])
    result, entries, _ = apply_review(
        comments, load_review(path), baseline, who="organiser", now=NOW
    )
    got = {a.response_id: a.theme_id for a in result.assignments}
    assert got["r2"] == got["r3"] == "waiting-1"
    assert got["r0"] == got["r1"] == "waiting"
    assert {got[f"r{i}"] for i in range(4, 8)} == {NO_COMMENT}
    assert got["r8"] == "waiting-1"  # a new answer, matched then split like the others
    labels = {t.theme_id: t.label for t in result.themes}
    assert labels["waiting-1"] == "Hearing tests"
    assert sorted(e.what for e in entries) == [
        "marked theme toilet_training ('Toilet training') not substantive",
        "split 'Hearing tests' out of waiting by keywords hearing",
    ]
    assert all(e.who == "organiser" and e.when == NOW for e in entries)
    assert any("split 'Hearing tests'" in note for note in result.notes)


def test_a_new_answer_that_fits_no_reviewed_theme_is_listed(reviewed) -> None:
    path, baseline = reviewed
    comments = make_comments([*TEXTS, "Interpreters for home visits"])
    result, entries, unmatched = apply_review(
        comments, load_review(path), baseline, who="organiser", now=NOW
    )
    assert unmatched == ["r8"] and entries == []
    assert {a.response_id: a.theme_id for a in result.assignments}["r8"] == OTHER


def test_bad_review_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("themes:\n  - id: a\n    label: A\n    merge_into: nope\n", encoding="utf-8")
    with pytest.raises(AnalysisError, match="merge_into 'nope' is not a theme id"):
        load_review(path)
    path.write_text("themes: [unclosed\n", encoding="utf-8")
    with pytest.raises(AnalysisError, match="not valid YAML"):
        load_review(path)


@pytest.mark.parametrize(
    ("text", "silent"),
    [
        ("thanks", True),
        ("Thanks for asking us.", True),
        ("N/A", True),
        ("nothing", True),
        ("😀👍", True),
        ("no comment", True),
        ("Nothing, all good", False),
        ("Interpreters for home visits", False),
        ("No more waiting please", False),
        ("NOTHINGTHANK YOU", True),
        ("nothanks", True),
        ("thankyouverymuch", True),
        ("Noted, thanks", False),
        ("nonsense", False),
        ("Nana was seen quickly", False),
    ],
)
def test_non_substantive(text: str, silent: bool) -> None:
    assert is_non_substantive(text) is silent
