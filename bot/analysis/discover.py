"""Theme discovery: group responses by meaning, choosing the number of themes from the data.

Method (all choices made per input, nothing tuned to one data set):
1. Response vectors: mean of word vectors learnt from the responses themselves
   (:mod:`bot.analysis.vectors`), or sentence embeddings when asked for.
2. Number of themes: k-means for each candidate k on a sample, scored by silhouette measured
   on eight disjoint parts of the sample; the smallest k within one standard error of the best
   wins (Breiman's one-standard-error rule), so noise does not buy extra themes.
3. Final spherical k-means on up to ``FIT_SAMPLE`` responses; every response goes to its nearest
   centre, scored by cosine similarity to it. A theme above ``CATCH_ALL_SHARE`` is split in two.
4. Answers that say nothing ("thanks", "no", "n/a", an emoji) are set aside first as "No
   substantive comment"; answers whose words are too rare to group, and groups smaller than
   ``MIN_THEME_SHARE`` of the answers, are one "too rare to group" count with examples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_samples

from bot.analysis.describe import build_themes
from bot.analysis.inputs import MIN_FOR_DISCOVERY, groups_of, report, result_of, usable
from bot.analysis.model import (
    NO_COMMENT,
    SPECIAL_THEMES,
    UNGROUPED,
    Comment,
    Progress,
    ThemeResult,
)
from bot.analysis.text import is_non_substantive
from bot.analysis.vectorisers import make_vectoriser
from bot.errors import AnalysisError

MAX_THEMES = 40
FIT_SAMPLE = 20000
SCAN_SAMPLE = 3000
SE_PARTS = 8
"""Disjoint parts of the scan sample; their spread gives the silhouette's standard error."""
CATCH_ALL_SHARE = 0.4
"""A theme above this share of the grouped answers is split (when k is chosen automatically).

Chosen on the tuning halves only: at 0.3 the split cut coherent themes in two (NMI 0.295,
0.257, 0.303 on the three tuning halves); at 0.4 no split was needed there (0.308, 0.275,
0.311, largest theme 32-36%)."""
MAX_SPLITS = 4
BROAD_SHARE = CATCH_ALL_SHARE
"""A theme still above this share after splitting is flagged in the method note, not hidden."""
MIN_THEME_SIZE = 3
MIN_THEME_SHARE = 0.01
"""Smaller groups are not themes: they join the "too rare to group" count."""
NO_COMMENT_LABEL = "No substantive comment"
UNGROUPED_LABEL = "Too rare to group (shown as a count with examples)"
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
    labels = np.full(len(texts), -1)  # -1: not yet placed
    silent = np.array([is_non_substantive(t) for t in texts], dtype=bool)
    vec = make_vectoriser(vectoriser, seed=seed)
    substantive = np.flatnonzero(~silent)
    score = np.zeros(len(texts))
    k_found = 0
    if len(substantive) >= 2:
        fit_idx = _sample(substantive, FIT_SAMPLE, rng)
        vec.fit([texts[i] for i in fit_idx], progress=progress)
        sub_vectors = vec.transform([texts[i] for i in substantive], progress=progress)
        vectors = np.zeros((len(texts), sub_vectors.shape[1]))
        vectors[substantive] = sub_vectors
        known = substantive[np.linalg.norm(sub_vectors, axis=1) > 0]
        if len(known) >= 2:
            cluster, score = _cluster(vectors, known, n_themes, rng, seed, progress)
            labels[known] = cluster[known]
            k_found = int(cluster[known].max()) + 1
    # Themes too small to stand on their own join the "too rare to group" count.
    minimum = max(MIN_THEME_SIZE, math.ceil(MIN_THEME_SHARE * max(1, len(substantive))))
    sizes = np.bincount(labels[labels >= 0], minlength=k_found)
    if n_themes is None:
        for c in np.flatnonzero((sizes > 0) & (sizes < minimum)):
            labels[labels == c] = -1
        sizes = np.bincount(labels[labels >= 0], minlength=k_found)
    order = sorted((c for c in range(k_found) if sizes[c] > 0), key=lambda c: (-sizes[c], c))
    rank = {c: r for r, c in enumerate(order)}
    theme_ids = [f"T{r + 1:02d}" for r in range(len(rank))]
    final = np.array([rank[c] if c >= 0 else -1 for c in labels])
    fixed: list[str | None] = [None] * len(rank)
    for special, label, members in (
        (NO_COMMENT, NO_COMMENT_LABEL, silent),
        (UNGROUPED, UNGROUPED_LABEL, (final < 0) & ~silent),
    ):
        if members.any():
            final[members] = len(theme_ids)
            score[members] = 0.0
            theme_ids.append(special)
            fixed.append(label)
    report(progress, "describing themes", 0.0)
    themes = build_themes(
        kept,
        final,
        theme_ids,
        groups_of(kept),
        score if score.any() else rng.random(len(texts)),
        vec.tokeniser,
        fixed_labels=fixed,
        seed=seed,
        question=_question_of(kept),
    )
    report(progress, "describing themes", 1.0)
    numbered = [t for t in themes if t.theme_id not in SPECIAL_THEMES]
    n_ungrouped = sum(t.size for t in themes if t.theme_id == UNGROUPED)
    largest = max((t.size for t in numbered), default=0)
    share = largest / max(1, sum(t.size for t in numbered))
    broad = (
        f" (more than {round(100 * BROAD_SHARE)}%: it may mix several points, so read its "
        "answers before quoting its size)"
        if share > BROAD_SHARE and len(numbered) > 0
        else ""
    )
    method = (
        f"theme discovery: {vec.description}, spherical k-means, "
        f"{len(rank)} themes {'chosen by silhouette' if n_themes is None else 'as requested'}; "
        f"the largest theme holds {round(100 * share)}% of the grouped answers{broad}; "
        f"{int(silent.sum())} answers with no substantive comment and "
        f"{n_ungrouped} "
        "answers whose words are too rare to group are counted apart"
    )
    return result_of(method, kept, themes, theme_ids, final, score)


def _question_of(comments: Sequence[Comment]) -> str:
    questions = {c.question for c in comments}
    return questions.pop() if len(questions) == 1 else ""


def _cluster(
    vectors: np.ndarray,
    known: np.ndarray,
    n_themes: int | None,
    rng: np.random.Generator,
    seed: int,
    progress: Progress | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster index and cosine to its centre for every row (only ``known`` rows are valid).

    When the number of themes is chosen automatically, a theme holding more than
    ``CATCH_ALL_SHARE`` of the answers is split in two (up to ``MAX_SPLITS`` times): a catch-all
    says nothing a person could name.
    """
    fit_known = _sample(known, FIT_SAMPLE, rng)
    if n_themes is None:
        k = choose_k(vectors[_sample(known, SCAN_SAMPLE, rng)], seed=seed, progress=progress)
    else:
        k = n_themes
    k = max(1, min(k, _n_distinct(vectors[fit_known])))
    report(progress, "grouping responses", 0.0)
    km = KMeans(k, n_init=4, random_state=seed).fit(vectors[fit_known])
    centres = _unit_rows(km.cluster_centers_)
    if n_themes is None:
        for _ in range(MAX_SPLITS):
            fit_labels = (vectors[fit_known] @ centres.T).argmax(axis=1)
            sizes = np.bincount(fit_labels, minlength=len(centres))
            big = int(sizes.argmax())
            if sizes[big] <= CATCH_ALL_SHARE * len(fit_known) or sizes[big] < 4:
                break
            members = vectors[fit_known][fit_labels == big]
            if _n_distinct(members) < 2:
                break
            halves = KMeans(2, n_init=4, random_state=seed).fit(members)
            centres = np.vstack(
                [np.delete(centres, big, axis=0), _unit_rows(halves.cluster_centers_)]
            )
    sims = vectors @ centres.T
    cluster = sims.argmax(axis=1)
    score = sims[np.arange(len(vectors)), cluster]
    report(progress, "grouping responses", 1.0)
    return cluster, score


def _unit_rows(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
