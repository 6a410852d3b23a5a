"""Codebook mode: loading and validating YAML, accuracy on the development set."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.analysis import OTHER, Codebook, apply_codebook, load_codebook
from bot.errors import AnalysisError
from tests.analysis.conftest import DEV_DIR, make_comments

# Accuracy counts an answer as right when it lands on its label's theme; with an honest
# ``other`` answers with weak evidence are left unplaced. Measured on the 1,200-row sample
# without examples: 0.477 (precision of the 831 placed answers 0.69; the word test alone gave
# 0.405 and 0.76 on 639); asserted with a margin.
MIN_SAMPLE_ACCURACY = 0.45
MIN_SAMPLE_PRECISION = 0.66


def _accuracy(result, labels, codebook: Codebook) -> float:
    names = {t.theme_id: t.name for t in codebook.themes}
    hits = sum(
        names.get(a.theme_id) == lab for a, lab in zip(result.assignments, labels, strict=True)
    )
    return hits / len(labels)


@pytest.fixture(scope="module")
def dev_codebook() -> Codebook:
    path = DEV_DIR / "codebook.yaml"
    if not path.exists():
        pytest.skip(f"development codebook not found at {path}")
    return load_codebook(path)


def test_codebook_accuracy_without_examples(dev_sample, dev_codebook) -> None:
    comments, labels = dev_sample
    bare = Codebook(tuple(dataclasses.replace(t, examples=()) for t in dev_codebook.themes))
    result = apply_codebook(comments, bare)
    assert _accuracy(result, labels, bare) >= MIN_SAMPLE_ACCURACY
    names = {t.theme_id: t.name for t in bare.themes}
    placed = [
        (names[a.theme_id], lab)
        for a, lab in zip(result.assignments, labels, strict=True)
        if a.theme_id != OTHER
    ]
    assert sum(p == lab for p, lab in placed) / len(placed) >= MIN_SAMPLE_PRECISION


def test_codebook_result_uses_codebook_names(dev_sample, dev_codebook) -> None:
    comments, _ = dev_sample
    result = apply_codebook(comments[:300], dev_codebook)
    by_id = {t.theme_id: t for t in result.themes}
    for theme in dev_codebook.themes:
        if theme.theme_id in by_id:
            assert by_id[theme.theme_id].label == theme.name
    assert set(by_id) <= {t.theme_id for t in dev_codebook.themes} | {OTHER}
    assert sum(t.size for t in result.themes) == 300
    for t in result.themes:
        assert sum(t.counts.values()) == t.size


def test_codebook_is_deterministic(dev_sample, dev_codebook) -> None:
    comments, _ = dev_sample
    assert apply_codebook(comments[:300], dev_codebook) == apply_codebook(
        comments[:300], dev_codebook
    )


def test_alpha_zero_sends_everything_to_other(dev_sample, dev_codebook) -> None:
    comments, _ = dev_sample
    result = apply_codebook(comments[:100], dev_codebook, alpha=0.0)
    assert {a.theme_id for a in result.assignments} == {OTHER}


def test_codebook_ids_are_slugs(tmp_path: Path) -> None:
    path = tmp_path / "cb.yaml"
    path.write_text(
        "themes:\n  - name: Communication & involvement\n    description: talking\n"
        "  - name: Café / Food\n",
        encoding="utf-8",
    )
    ids = [t.theme_id for t in load_codebook(path).themes]
    assert ids == ["communication_involvement", "cafe_food"]


def test_codebook_on_one_response_works(tmp_path: Path) -> None:
    path = tmp_path / "cb.yaml"
    path.write_text(
        "themes:\n  - name: Staff\n    keywords: [staff, kind]\n"
        "  - name: Waiting\n    keywords: [wait, late]\n",
        encoding="utf-8",
    )
    result = apply_codebook(make_comments(["The staff were kind."]), load_codebook(path))
    assert result.assignments[0].theme_id == "staff"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("themes:\n  - description: no name here\n", "themes[0].name: missing"),
        ("themes:\n  - name: A\n  - name: ''\n", "themes[1].name: missing"),
        ("themes:\n  - name: A\n  - name: B\n  - {description: x}\n", "themes[2].name: missing"),
        ("themes: []\n", "themes: must be a non-empty list"),
        ("other: 1\n", "themes: missing"),
        ("themes:\n  - name: A\n    keywords: {a: 1}\n", "themes[0].keywords"),
        ("themes:\n  - name: A\n  - name: a\n", "themes[1].name: same as themes[0]"),
        ("themes: [unclosed\n", "not valid YAML"),
        ("", "themes: missing"),
    ],
)
def test_bad_codebook_names_the_field(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "cb.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AnalysisError) as info:
        load_codebook(path)
    assert fragment in info.value.message


def test_missing_codebook_file(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError, match="does not exist"):
        load_codebook(tmp_path / "nope.yaml")


def test_codebook_needs_responses(dev_codebook) -> None:
    with pytest.raises(AnalysisError, match="no free-text responses"):
        apply_codebook(make_comments([" "]), dev_codebook)
