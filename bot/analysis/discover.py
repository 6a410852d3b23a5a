"""Theme discovery: group responses by meaning, choosing the number of themes from the data.

Method (all choices made per input, nothing tuned to one data set):
1. Response vectors: mean of word vectors learnt from the responses themselves
   (:mod:`bot.analysis.vectors`), or sentence embeddings when asked for.
2. Number of themes: k-means for each candidate k on a sample, scored by silhouette measured
   on eight disjoint parts of the sample; the smallest k within one standard error of the best
   wins (Breiman's one-standard-error rule), so noise does not buy extra themes.
3. Final spherical k-means on up to ``FIT_SAMPLE`` responses; every response goes to its nearest
   centre, scored by cosine similarity to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_samples

from bot.analysis.describe import build_themes
from bot.analysis.inputs import MIN_FOR_DISCOVERY, groups_of, report, result_of, usable
from bot.analysis.model import OTHER, Comment, Progress, ThemeResult
from bot.analysis.vectorisers import make_vectoriser
from bot.errors import AnalysisError

MAX_THEMES = 40
FIT_SAMPLE = 20000
SCAN_SAMPLE = 3000
SE_PARTS = 8
"""Disjoint parts of the scan sample; their spread gives the silhouette's standard error."""
_CANDIDATES = (*range(3, 13), 14, 16, 18, 20, 24, 28, 32, 36, 40)


def _sample(idx: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    if len(idx) <= size:
        return idx
    return np.sort(rng.choice(idx, size, replace=False))


def _n_distinct(vectors: np.ndarray) -> int:
    return len(np.unique(np.round(vectors, 6), axis=0))


def choose_k(vectors: np.ndarray, *, seed: int, progress: Progress | None = None) -> int:
    """Pick the number of themes by silhouette with the one-standard-error rule."""
    n = len(vectors)
    k_max = min(MAX_THEMES, max(3, n // 10), _n_distinct(vectors) - 1)
    candidates = [k for k in _CANDIDATES if k <= k_max]
    if not candidates:
        return max(1, min(3, _n_distinct(vectors)))
    parts = np.array_split(np.random.default_rng(seed).permutation(n), SE_PARTS)
    scores: list[tuple[int, float, float]] = []
    for step, k in enumerate(candidates):
        labels = KMeans(k, n_init=2, random_state=seed).fit_predict(vectors)
        per_part = []
        for part in parts:
            if len(np.unique(labels[part])) > 1 and len(part) > len(np.unique(labels[part])):
                per_part.append(float(silhouette_samples(vectors[part], labels[part]).mean()))
        if per_part:
            se = float(np.std(per_part) / np.sqrt(len(per_part)))
            scores.append((k, float(np.mean(per_part)), se))
        report(progress, "choosing the number of themes", (step + 1) / len(candidates))
    if not scores:
        return candidates[0]
    best_k, best, best_se = max(scores, key=lambda s: (s[1], -s[0]))
    return min(k for k, mean, _ in scores if mean >= best - best_se)


def discover_themes(
    comments: Sequence[Comment],
    n_themes: int | None = None,
    *,
    progress: Progress | None = None,
    seed: int = 0,
    vectoriser: str = "tfidf",
) -> ThemeResult:
    """Find themes in free-text responses without any predefined categories.

    Args:
        comments: responses; blank ones are skipped.
        n_themes: fixed number of themes, or None to let the method choose (3 to 40).
        progress: optional callback (stage, fraction).
        seed: every random choice derives from it, so the same input gives the same output.
        vectoriser: "tfidf" (default; word vectors learnt from the input, no extra install)
            or "embeddings" (sentence embeddings; needs ``listening-bot[embeddings]``).

    Raises:
        AnalysisError: no usable responses, fewer than the minimum, or a bad ``n_themes``.
    """
    if n_themes is not None and not 1 <= n_themes <= 200:
        raise AnalysisError(f"The number of themes must be between 1 and 200, not {n_themes}.")
    kept = usable(comments, minimum=MIN_FOR_DISCOVERY)
    texts = [c.text for c in kept]
    rng = np.random.default_rng(seed)
    report(progress, "reading responses", 0.0)
    vec = make_vectoriser(vectoriser, seed=seed)
    fit_idx = _sample(np.arange(len(texts)), FIT_SAMPLE, rng)
    vec.fit([texts[i] for i in fit_idx], progress=progress)
    vectors = vec.transform(texts, progress=progress)
    known = np.flatnonzero(np.linalg.norm(vectors, axis=1) > 0)
    if len(known) == 0:
        raise AnalysisError("No response shares enough words with another to form themes.")
    fit_known = _sample(known, FIT_SAMPLE, rng)
    if n_themes is None:
        k = choose_k(vectors[_sample(known, SCAN_SAMPLE, rng)], seed=seed, progress=progress)
    else:
        k = n_themes
    k = max(1, min(k, _n_distinct(vectors[fit_known])))
    report(progress, "grouping responses", 0.0)
    km = KMeans(k, n_init=4, random_state=seed).fit(vectors[fit_known])
    centres = km.cluster_centers_ / np.maximum(
        np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True), 1e-12
    )
    sims = vectors @ centres.T
    cluster = sims.argmax(axis=1)
    score = sims[np.arange(len(texts)), cluster]
    report(progress, "grouping responses", 1.0)

    sizes = np.bincount(cluster[known], minlength=k)
    order = sorted(range(k), key=lambda c: (-sizes[c], c))
    rank = {c: r for r, c in enumerate(order) if sizes[c] > 0}
    theme_ids = [f"T{r + 1:02d}" for r in range(len(rank))]
    labels = np.array([rank.get(c, -1) for c in cluster])
    unknown = np.ones(len(texts), dtype=bool)
    unknown[known] = False
    if unknown.any():
        labels[unknown] = len(theme_ids)
        score[unknown] = 0.0
        theme_ids.append(OTHER)
    report(progress, "describing themes", 0.0)
    fixed: list[str | None] = [None] * len(rank)
    if unknown.any():
        fixed.append("unmatched (words too rare to group)")
    themes = build_themes(
        kept,
        labels,
        theme_ids,
        groups_of(kept),
        score,
        vec.tokeniser,
        fixed_labels=fixed,
        seed=seed,
    )
    report(progress, "describing themes", 1.0)
    method = (
        f"theme discovery: {vec.description}, spherical k-means, "
        f"{len(rank)} themes {'chosen by silhouette' if n_themes is None else 'as requested'}"
    )
    return result_of(method, kept, themes, theme_ids, labels, score)
