"""How far can matching go on these labels? A supervised ceiling for the partial codebooks.

Codebook matching sees only the codebook (names, descriptions, keywords). Here a classifier is
instead *trained on the human labels* of each tuning half (word and character n-grams, logistic
regression) and scored on the held-out half exactly as ``bench/codebook_eval.py`` scores
matching; of four settings, the one that scores best *on the held-out half itself* is kept, so
the figure is optimistic: an upper bound for a bag-of-words learner, not a method.

If a codebook's ceiling is below the F1 target, the target cannot be met on this data by
matching that has no labels: the codebook's answers are too few and too loosely coded. Run with
``bench/themes_bench.py --quality`` (printed after the codebook table) or on its own:
``.venv/bin/python bench/codebook_ceiling.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codebook_eval import SPLIT_SEEDS, partial_codebooks, split_indices  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

SETTINGS = ((1.0, None), (10.0, None), (1.0, "balanced"), (10.0, "balanced"))
"""(C, class_weight) of the logistic regression; the best on the held-out half is kept."""


def _f1(pred: np.ndarray, truth: np.ndarray) -> float:
    placed, in_book = pred != "other", truth != "other"
    precision = float((pred[placed] == truth[placed]).mean()) if placed.any() else 0.0
    recall = float((pred[in_book] == truth[in_book]).mean()) if in_book.any() else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def ceiling(texts: list[str], labels: list[str], names: list[str], seed: int) -> float:
    """Best held-out F1 of a classifier trained on the tuning half's labels for ``names``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    tune, held = split_indices(len(texts), seed)
    x = np.array(texts, dtype=object)
    y = np.where(np.isin(np.array(labels), names), np.array(labels), "other")
    best = 0.0
    for c, weight in SETTINGS:
        features = make_union(
            TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
        )
        model = make_pipeline(features, LogisticRegression(C=c, class_weight=weight, max_iter=2000))
        model.fit(x[tune], y[tune])
        best = max(best, _f1(model.predict(x[held]), y[held]))
    return best


def supervised_ceiling(console: Console) -> None:
    """Print each partial codebook's ceiling (min over the three splits) beside the target."""
    from themes_bench import DEV, load_dev

    from bot.analysis import load_codebook

    texts, labels, _ = load_dev()
    book = load_codebook(DEV.parent / "codebook.yaml")
    table = Table(
        title="Supervised ceiling: trained on the tuning half's human labels, best of "
        f"{len(SETTINGS)} settings on the held-out half (optimistic)"
    )
    for col in ("codebook", "F1 per split", "min"):
        table.add_column(col, justify="right" if col != "codebook" else "left")
    below = []
    for keep in partial_codebooks(len(book.themes)):
        names = [book.themes[i].name for i in keep]
        with console.status(f"ceiling: {' + '.join(names)}…"):
            scores = [ceiling(texts, labels, names, seed) for seed in SPLIT_SEEDS]
        table.add_row(" + ".join(names), " ".join(f"{s:.3f}" for s in scores), f"{min(scores):.3f}")
        if min(scores) < 0.55:
            below.append(" + ".join(names))
    console.print(table)
    console.print(
        "Codebooks whose ceiling is below the 0.55 target: " + ("; ".join(below) or "none"),
        markup=False,
    )


if __name__ == "__main__":
    supervised_ceiling(Console())
