"""Self-training: extend the word test's matches to answers that say the same thing otherwise.

The word test of :mod:`bot.analysis.evidence` is precise but misses answers that carry none of
a theme's own words ("Waited 3 hours" for "Access to care"). Here its matches become seed
answers, answers with no evidence for any theme (best word p-value at least ``NONE_P``) become
"none of these" examples, and a logistic regression (TF-IDF words and word pairs beside the
learnt answer vectors) is trained on the answers themselves and applied to every answer.

* A theme is extended only when its seeds are learnable: in 3-fold cross-validation on the
  training answers, at least ``COHERENCE`` of its seeds are predicted back to it. A theme whose
  seeds have little in common (a few scattered mentions of "hospital" or "sessions") keeps the
  word test's answers only, so its errors are not multiplied.
* An answer the word test left in ``other`` goes on a theme only when the classifier prefers
  the theme to "none of these" by more than ``1 - NULL_ALPHA`` of shuffled-word answers (the
  null of :mod:`bot.analysis.evidence`) do: unrelated text still goes to ``other``.
* The word test's own matches are kept.

With fewer than ``MIN_ANSWERS`` answers nothing is trained and the word test decides alone.

Settings tried on the tuning halves of the development set (``split_indices(n, seed)[0]``,
3 seeds, 8 partial codebooks x 2 runs; weakest F1 / median F1 / lowest other share):
replacing the word test's labels instead of keeping them (weakest F1 0.12-0.26: noisy seeds
of small themes were amplified); class weights (balanced)^p for p in 0, 0.5, 1 (0.5 best;
balanced over-extends small themes); C in 0.3, 1, 3 (0.3); NULL_ALPHA in 0.3, 0.2, 0.1, 0.05,
0.01 (0.2: 0.3 let the other share fall to 0.62, 0.1 lowered the median F1 by 0.05);
one or two rounds (the second round let the other share fall to 0.70 for no F1 gain);
COHERENCE in 0 (no gate: weakest F1 0.35), 0.3, 0.4, 0.5, 0.7 (0.455, 0.460, 0.447, 0.418);
NONE_P 0.2 instead of 0.5 (median F1 0.555 instead of 0.634). Chosen: 0.460 / 0.634 / 0.795
(the word test alone: 0.388 / 0.565 / 0.874). ``TRAIN_MAX`` and ``CHECK_MAX`` only bound time
on big inputs; the development halves (about 1,550 answers) stay below both.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from bot.analysis.vectors import count_matrix

MIN_ANSWERS = 200
"""Below this many answers nothing is trained; the word test decides alone."""
MIN_SEEDS = 5
"""A theme needs this many seed answers to be extended."""
NONE_P = 0.5
"""Answers whose best word p-value is at least this for every theme are "none of these"."""
NULL_ALPHA = 0.2
"""A new answer's margin must beat this share of shuffled-word answers' margins."""
COHERENCE = 0.4
"""Share of a theme's seeds that cross-validation must predict back to the theme."""
C = 0.3
CLASS_POWER = 0.5
"""Class weights are (balanced weight) ** CLASS_POWER: small themes count more, not fully."""
TRAIN_MAX = 10000
"""At most this many training answers (a seeded sample) bounds time on big inputs."""
CHECK_MAX = 5000
"""The coherence check cross-validates on at most this many of them (a seeded sample)."""


class Features:
    """Sublinear TF-IDF over words (and adjacent word pairs) beside the learnt answer vectors."""

    def __init__(self, vocab: dict[str, int]) -> None:
        self.vocab = vocab
        self.pairs: dict[str, int] = {}
        self.idf = np.ones(len(vocab))

    def fit(self, token_lists: Sequence[Sequence[str]]) -> Features:
        """Word-pair vocabulary (pairs in at least 2 answers) and IDF from ``token_lists``."""
        df: dict[str, int] = {}
        for toks in token_lists:
            for pair in set(_pairs(toks)):
                df[pair] = df.get(pair, 0) + 1
        kept = sorted(p for p, n in df.items() if n >= 2)
        self.pairs = {p: len(self.vocab) + i for i, p in enumerate(kept)}
        counts = self._counts(token_lists)
        present = np.asarray((counts > 0).sum(axis=0)).ravel()
        self.idf = np.log((1 + len(token_lists)) / (1 + present)) + 1.0
        return self

    def _counts(self, token_lists: Sequence[Sequence[str]]) -> sp.csr_matrix:
        both = {**self.vocab, **self.pairs}
        rows = [[*toks, *_pairs(toks)] for toks in token_lists]
        return count_matrix(rows, both)

    def transform(self, token_lists: Sequence[Sequence[str]], dense: np.ndarray) -> sp.csr_matrix:
        """Feature rows for tokenised answers with their unit answer vectors."""
        return self.from_counts(self._counts(token_lists), dense)

    def from_counts(self, counts: sp.csr_matrix, dense: np.ndarray) -> sp.csr_matrix:
        """Feature rows from word (+pair) counts; missing pair columns count as zero."""
        width = len(self.vocab) + len(self.pairs)
        if counts.shape[1] < width:
            counts = sp.hstack([counts, sp.csr_matrix((counts.shape[0], width - counts.shape[1]))])
        tf = counts.astype(np.float64).tocsr(copy=True)
        tf.data = 1.0 + np.log(tf.data)
        x = tf @ sp.diags(self.idf)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        x = sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ x
        return sp.hstack([x, sp.csr_matrix(dense)]).tocsr()


def _pairs(toks: Sequence[str]) -> list[str]:
    return [f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False) if a != b]


def self_train(
    x: sp.csr_matrix,
    x_null: sp.csr_matrix,
    labels: np.ndarray,
    best_p: np.ndarray,
    n_themes: int,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, confidence): the word test's ``labels`` plus answers the classifier adds.

    Args:
        x: features of the answers; ``x_null``: of shuffled-word answers.
        labels: the word test's labels (``n_themes`` = other).
        best_p: each answer's smallest word p-value over the themes.

    ``confidence`` is the classifier's probability of the theme for added answers and NaN for
    the others (their confidence stays the word test's).
    """
    confidence = np.full(len(labels), np.nan)
    none = (best_p >= NONE_P) & (labels == n_themes)
    counts = np.bincount(labels[labels < n_themes], minlength=n_themes)
    strong = np.flatnonzero(counts >= MIN_SEEDS)
    if len(strong) == 0 or none.sum() < MIN_SEEDS:
        return labels, confidence
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(np.isin(labels, strong) | none)
    if len(idx) > TRAIN_MAX:
        idx = np.sort(rng.choice(idx, TRAIN_MAX, replace=False))
    y = labels[idx]
    freq = np.bincount(y, minlength=n_themes + 1).astype(float)
    weight = {int(c): float((len(y) / freq[c]) ** CLASS_POWER) for c in np.unique(y)}
    clf = LogisticRegression(C=C, class_weight=weight, max_iter=300)
    check = np.arange(len(idx))
    if len(check) > CHECK_MAX:
        check = np.sort(rng.choice(check, CHECK_MAX, replace=False))
    y_check = y[check]
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    cv = cross_val_predict(clf, x[idx[check]], y_check, cv=folds)
    coherent = [
        j
        for j in strong
        if (y_check == j).sum() >= 3 and (cv[y_check == j] == j).mean() >= COHERENCE
    ]
    if not coherent:
        return labels, confidence
    clf.fit(x[idx], y)
    classes = list(clf.classes_)
    none_col = classes.index(n_themes)
    logp = clf.predict_log_proba(x)
    logp_null = clf.predict_log_proba(x_null)
    margin = np.full((x.shape[0], n_themes), -np.inf)
    for j in coherent:
        col = classes.index(j)
        m = logp[:, col] - logp[:, none_col]
        m_null = logp_null[:, col] - logp_null[:, none_col]
        bar = max(0.0, float(np.quantile(m_null, 1.0 - NULL_ALPHA)))
        margin[:, j] = np.where(m > bar, m, -np.inf)
    rows = np.arange(len(labels))
    best = margin.argmax(axis=1)
    added = np.isfinite(margin[rows, best]) & (labels == n_themes)
    new = np.where(added, best, labels)
    prob = np.exp(logp[rows, [classes.index(j) if j in classes else none_col for j in best]])
    confidence[added] = prob[added]
    return new, confidence
