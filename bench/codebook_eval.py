"""Codebook matching on held-out development-set answers: full codebook and partial codebooks.

Imported by ``bench/quality.py`` (``bench/themes_bench.py --quality``). Every codebook setting
(the significance levels and own-word frequency weight of ``bot/analysis/evidence.py``, the
classifier settings of ``bot/analysis/selftrain.py``) was chosen on the *tuning* halves
(``split_indices(...)[0]``); every figure printed here is on the other halves (and on held-out
halves with one label's answers removed), and the weakest figure is quoted.

Sentence embeddings (the ``embeddings`` extra, all-MiniLM-L6-v2) were tried for codebook
matching and not adopted: they do not reach the target (weakest partial-codebook F1 >= 0.55).
Figures are weakest F1 / median F1 / lowest other share on the tuning halves, then held out:

* embeddings alone (theme vector = mean of the encoded name, description, each keyword and
  example; an answer goes on the theme whose cosine is furthest above 1,000 shuffled-word
  pseudo-answers, when above their 1 - alpha quantile): alpha 0.01 / 0.05 / 0.1 gave
  0.148 / 0.189 / 0.122 weakest F1; one joined query text 0.166; with self-training on the
  embeddings (as ``selftrain.py``) at most 0.267 (alpha 0.005), held out 0.122 / 0.329 / 0.849.
  Real answers about care sit closer to every care theme than shuffled words do, so the null
  lets answers about other themes through ("The service." and "General care." are among the
  five answers closest to "Care pathway");
* the word test's matches as seeds for a classifier on the embeddings only: 0.418 / 0.648 /
  0.770 at best (C 0.3; C 1, 3, a coherence gate of 0.3, class weights balanced^1, embedding
  agreement filters on the seeds: 0.24-0.44);
* the default pipeline with the embeddings appended to the self-training features at weight
  0, 0.5, 1, 2, 3: 0.460, 0.483, 0.452, 0.432, 0.406 weakest F1; weight 0.5 held out:
  0.420 / 0.616 / 0.820 against the default's 0.409 / 0.603 / 0.821. "Care pathway +
  Activities" stays the weakest codebook: its ~20 seed answers per half are half wrong
  ("Excellent GP."), so no learner extends them reliably.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SPLIT_SEEDS = (11, 12, 13)
PARTIAL_SEED = 2024
PARTIAL_SIZES = (2, 2, 2, 3, 3, 3, 4, 4)


@dataclass(frozen=True, slots=True)
class CodebookScore:
    """Precision, recall, F1 on the codebook's themes; share of off-codebook answers in other."""

    names: tuple[str, ...]
    precision: float
    recall: float
    f1: float
    other_share: float  # of answers whose label is not in the codebook, the share sent to other
    accuracy: float  # of all answers, label == prediction (other counts as right for off-book)


def split_indices(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(tuning half, held-out half) of ``range(n)``."""
    p = np.random.default_rng(seed).permutation(n)
    return np.sort(p[: n // 2]), np.sort(p[n // 2 :])


def partial_codebooks(n_themes: int) -> list[tuple[int, ...]]:
    """Seeded random codebooks of 2-4 themes (indices into the full codebook), no repeats."""
    rng = np.random.default_rng(PARTIAL_SEED)
    out: list[tuple[int, ...]] = []
    for size in PARTIAL_SIZES:
        while True:
            pick = tuple(sorted(int(i) for i in rng.choice(n_themes, size, replace=False)))
            if pick not in out:
                out.append(pick)
                break
    return out


def score(
    texts: Sequence[str],
    labels: Sequence[str],
    groups: Sequence[str],
    book: object,
    keep: Sequence[int],
    **options: object,
) -> CodebookScore:
    """Run the codebook with only themes ``keep`` on ``texts`` and score against ``labels``."""
    from bot.analysis import OTHER, Codebook, Comment, apply_codebook

    themes = tuple(book.themes[i] for i in keep)  # type: ignore[attr-defined]
    partial = Codebook(themes)
    comments = [
        Comment(str(i), t, g, f"p{i}") for i, (t, g) in enumerate(zip(texts, groups, strict=True))
    ]
    result = apply_codebook(comments, partial, **options)  # type: ignore[arg-type]
    name_of = {t.theme_id: t.name for t in themes}
    pred = np.array([name_of.get(a.theme_id, OTHER) for a in result.assignments])
    lab = np.array(labels)
    in_book = np.isin(lab, [t.name for t in themes])
    placed = pred != OTHER
    precision = float((pred[placed] == lab[placed]).mean()) if placed.any() else 0.0
    recall = float((pred[in_book] == lab[in_book]).mean()) if in_book.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    off = ~in_book
    other_share = float((~placed[off]).mean()) if off.any() else float("nan")
    right = np.where(in_book, pred == lab, ~placed)
    return CodebookScore(
        tuple(t.name for t in themes), precision, recall, f1, other_share, float(right.mean())
    )
