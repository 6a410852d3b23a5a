"""Codebook mode: match each response to the organiser's predefined themes (KJ "best match").

Each theme becomes a query built from its name, description, keywords and any examples. A
response's score for a theme is the mean of two cosines: between learnt word-vector means
(:mod:`bot.analysis.vectors`, so "waited hours" matches a "waiting times" theme without sharing a
word) and between TF-IDF vectors (exact words). The best theme wins; a response whose best score
is below the threshold goes to ``other``. The automatic threshold is a quarter of the median
best score: only answers with almost no signal for any theme fall to ``other``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.analysis.describe import build_themes
from bot.analysis.inputs import groups_of, report, result_of, usable
from bot.analysis.model import (
    OTHER,
    Codebook,
    CodebookTheme,
    Comment,
    Progress,
    ThemeResult,
)
from bot.analysis.vectorisers import make_vectoriser
from bot.errors import AnalysisError

AUTO_THRESHOLD_SHARE = 0.25


def slug(name: str) -> str:
    """A stable theme id from a theme name: ascii, lower case, words joined by "_"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise AnalysisError(f"Codebook {where}: must be a list of strings.")
    return tuple(str(v).strip() for v in value if str(v).strip())


def parse_codebook(data: Any, source: str = "") -> Codebook:
    """Validate parsed YAML into a Codebook, naming the first bad field."""
    if not isinstance(data, dict) or "themes" not in data:
        raise AnalysisError(f"Codebook {source or ''} themes: missing (expected a list of themes).")
    raw = data["themes"]
    if not isinstance(raw, list) or not raw:
        raise AnalysisError("Codebook themes: must be a non-empty list of themes.")
    themes: list[CodebookTheme] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise AnalysisError(f"Codebook themes[{i}]: must be a mapping with a name.")
        name = item.get("name")
        if name is None or (isinstance(name, str) and not name.strip()):
            raise AnalysisError(f"Codebook themes[{i}].name: missing.")
        if not isinstance(name, str):
            raise AnalysisError(f"Codebook themes[{i}].name: must be text.")
        description = item.get("description", "")
        if not isinstance(description, str):
            raise AnalysisError(f"Codebook themes[{i}].description: must be text.")
        theme_id = slug(name) or f"theme_{i + 1}"
        if theme_id == OTHER:
            raise AnalysisError(f"Codebook themes[{i}].name: {OTHER!r} is reserved.")
        if theme_id in seen:
            raise AnalysisError(
                f"Codebook themes[{i}].name: same as themes[{seen[theme_id]}] ({name!r})."
            )
        seen[theme_id] = i
        themes.append(
            CodebookTheme(
                theme_id=theme_id,
                name=name.strip(),
                description=description.strip(),
                keywords=_strings(item.get("keywords"), f"themes[{i}].keywords"),
                examples=_strings(item.get("examples"), f"themes[{i}].examples"),
            )
        )
    return Codebook(themes=tuple(themes), source=source)


def load_codebook(path: str | Path) -> Codebook:
    """Read a YAML codebook: ``{themes: [{name, description, keywords?, examples?}]}``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise AnalysisError(f"Codebook file {path} does not exist.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise AnalysisError(f"Codebook file {path} cannot be read ({exc}).") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise AnalysisError(f"Codebook file {path} is not valid YAML{where}.") from exc
    return parse_codebook(data, source=str(path))


def _query(theme: CodebookTheme) -> str:
    # Keywords are the organiser's most direct signal, so they are counted twice.
    parts = [theme.name, theme.description, " ".join(theme.keywords), " ".join(theme.keywords)]
    return " ".join([*parts, *theme.examples])


def _unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)


def apply_codebook(
    comments: Sequence[Comment],
    codebook: Codebook,
    *,
    threshold: float | None = None,
    progress: Progress | None = None,
    seed: int = 0,
    vectoriser: str = "tfidf",
) -> ThemeResult:
    """Assign every response to its best-matching codebook theme, or ``other``.

    Args:
        threshold: minimum score (0..1) to accept a match; None picks it from the scores.
        vectoriser: "tfidf" (default) or "embeddings" (needs ``listening-bot[embeddings]``).

    Raises:
        AnalysisError: no usable responses or an empty codebook.
    """
    if not codebook.themes:
        raise AnalysisError("Codebook themes: must be a non-empty list of themes.")
    kept = usable(comments)
    texts = [c.text for c in kept]
    queries = [_query(t) for t in codebook.themes]
    report(progress, "reading responses", 0.0)
    vec = make_vectoriser(vectoriser, seed=seed)
    rng = np.random.default_rng(seed)
    fit_idx = np.arange(len(texts))
    if len(fit_idx) > 20000:
        fit_idx = np.sort(rng.choice(fit_idx, 20000, replace=False))
    vec.fit([texts[i] for i in fit_idx], progress=progress)
    semantic = vec.transform(texts, progress=progress) @ vec.transform(queries).T

    report(progress, "matching words", 0.0)
    lexical_vec = TfidfVectorizer(
        analyzer=vec.tokeniser.tokens, sublinear_tf=True, dtype=np.float64
    )
    lexical_vec.fit([texts[i] for i in fit_idx] + queries)
    lexical = np.asarray(
        (lexical_vec.transform(texts) @ lexical_vec.transform(queries).T).todense()
    )
    scores = (np.clip(semantic, 0.0, 1.0) + lexical) / 2.0
    report(progress, "matching words", 1.0)

    best = scores.argmax(axis=1)
    best_score = scores[np.arange(len(texts)), best]
    if threshold is None:
        positive = best_score[best_score > 0]
        threshold = AUTO_THRESHOLD_SHARE * float(np.median(positive)) if len(positive) else 0.0
        threshold = max(threshold, 1e-9)
    labels = np.where(best_score >= threshold, best, len(codebook.themes))
    theme_ids = [t.theme_id for t in codebook.themes] + [OTHER]
    names: list[str | None] = [t.name for t in codebook.themes] + ["Other (no clear match)"]
    report(progress, "describing themes", 0.0)
    themes = build_themes(
        kept,
        labels,
        theme_ids,
        groups_of(kept),
        best_score,
        vec.tokeniser,
        fixed_labels=names,
        seed=seed,
    )
    report(progress, "describing themes", 1.0)
    n_other = int((labels == len(codebook.themes)).sum())
    method = (
        f"codebook matching ({len(codebook.themes)} themes): {vec.description} and TF-IDF "
        f"cosine to each theme's name, description and keywords; "
        f"{n_other} responses below the threshold {threshold:.3f} went to other"
    )
    return result_of(method, kept, themes, theme_ids, labels, best_score)
