"""Codebook mode: match each response to the organiser's predefined themes (KJ "best match").

Each theme is defined by its name, description, keywords and any examples. A response goes on
the theme for which it carries the strongest evidence, and only when that evidence beats what
random unrelated words would give (:mod:`bot.analysis.evidence`); otherwise it goes to
``other``. So a thank-you note or a remark about something the codebook does not cover is
counted as ``other`` instead of inflating a theme. From 200 answers on, those confident matches
train a classifier on the answers themselves (:mod:`bot.analysis.selftrain`), which adds answers
that make a theme's point in other words, for themes whose matches it can learn, and only when
they score above what shuffled-word answers reach. One setting for every data set: p < 0.01,
answer-level test at 0.2, own-word frequency weight 0.3, classifier gate 0.4, classifier null
level 0.2, all chosen on the tuning halves of the development set (see those modules).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bot.analysis import selftrain
from bot.analysis.describe import build_themes
from bot.analysis.evidence import (
    ANSWER_ALPHA,
    ANSWER_TEST_MIN,
    DEFAULT_ALPHA,
    SECOND_THEME_SHARE,
    ThemeEvidence,
)
from bot.analysis.inputs import groups_of, report, result_of, usable
from bot.analysis.model import (
    OTHER,
    Codebook,
    CodebookTheme,
    Comment,
    Progress,
    ThemeResult,
)
from bot.analysis.vectors import count_matrix
from bot.errors import AnalysisError

FIT_SAMPLE = 20000


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


def apply_codebook(
    comments: Sequence[Comment],
    codebook: Codebook,
    *,
    alpha: float = DEFAULT_ALPHA,
    progress: Progress | None = None,
    seed: int = 0,
    vectoriser: str = "tfidf",
) -> ThemeResult:
    """Put each response on the codebook theme with the strongest real evidence, or ``other``.

    Evidence is judged against random unrelated words (:mod:`bot.analysis.evidence`): a response
    goes on a theme only when its p-value under that null is below ``alpha`` and, from
    ``ANSWER_TEST_MIN`` answers on, the whole answer leans towards the theme more than
    shuffled-word answers do (``ANSWER_ALPHA``). A response gets a ``second_theme_id`` when a
    second theme also passes at ``alpha * SECOND_THEME_SHARE`` on a different word ("long waits
    but lovely staff"). From ``selftrain.MIN_ANSWERS`` answers on, a classifier trained on these
    matches adds answers the word test left in ``other`` (:mod:`bot.analysis.selftrain`).

    Args:
        alpha: significance level (0 sends everything to ``other``).
        vectoriser: only "tfidf" (the learnt word vectors) is supported for codebooks.

    Raises:
        AnalysisError: no usable responses, an empty codebook or a bad ``alpha``.
    """
    if not codebook.themes:
        raise AnalysisError("Codebook themes: must be a non-empty list of themes.")
    if not 0.0 <= alpha < 1.0:
        raise AnalysisError(f"The significance level must be between 0 and 1, not {alpha}.")
    if vectoriser not in ("tfidf", "corpus"):
        raise AnalysisError("Codebook matching uses the learnt word vectors only (tfidf).")
    kept = usable(comments)
    texts = [c.text for c in kept]
    report(progress, "learning word vectors", 0.0)
    rng = np.random.default_rng(seed)
    fit_idx = np.arange(len(texts))
    if len(fit_idx) > FIT_SAMPLE:
        fit_idx = np.sort(rng.choice(fit_idx, FIT_SAMPLE, replace=False))
    model = ThemeEvidence(codebook.themes, seed=seed).fit([texts[i] for i in fit_idx])
    report(progress, "learning word vectors", 1.0)
    report(progress, "matching themes", 0.0)
    evidence = model.score(texts)
    report(progress, "matching themes", 1.0)
    n_themes = len(codebook.themes)
    p = evidence.p_values
    order = np.argsort(p, axis=1, kind="stable")
    rows = np.arange(len(texts))
    best = order[:, 0]
    best_p = p[rows, best]
    # The whole answer must also lean towards the theme more than shuffled-word answers do, so a
    # passing mention ("hospital" in a remark about transport) is not enough on its own.
    # Learnt word vectors need some data; on a few dozen answers only the word test is used.
    if len(texts) >= ANSWER_TEST_MIN:
        p = np.where(evidence.answer_p < ANSWER_ALPHA, p, 1.0)
    order = np.argsort(p, axis=1, kind="stable")
    best = order[:, 0]
    best_p = p[rows, best]
    labels = np.where(best_p < alpha, best, n_themes)
    learnt = np.full(len(texts), np.nan)
    if len(texts) >= selftrain.MIN_ANSWERS and alpha > 0:
        # Answers that say a theme's point in other words, learnt from the confident matches.
        report(progress, "learning from confident matches", 0.0)
        token_lists = [model.tokeniser.tokens(t) for t in texts]
        features = selftrain.Features(model.vectoriser.vocab).fit([token_lists[i] for i in fit_idx])
        dense = model.vectoriser.from_counts(count_matrix(token_lists, model.vectoriser.vocab))
        x = features.transform(token_lists, dense)
        x_null = features.from_counts(model.null_counts, model.null_vecs)
        labels, learnt = selftrain.self_train(
            x, x_null, labels, evidence.p_values.min(axis=1), n_themes, seed=seed
        )
        report(progress, "learning from confident matches", 1.0)
    own = np.minimum(labels, n_themes - 1)
    second = np.full(len(texts), -1)
    if n_themes > 1:
        # The clearest other theme on the word test, on another word than the first theme's.
        q = p.copy()
        q[rows, own] = 1.0
        runner = q.argmin(axis=1)
        clear = (
            (labels < n_themes)
            & (q[rows, runner] < alpha * SECOND_THEME_SHARE)
            & (evidence.best_word[rows, runner] != evidence.best_word[rows, own])
        )
        second = np.where(clear, runner, -1)
    confidence = np.where(np.isnan(learnt), 1.0 - p[rows, own], learnt)
    confidence = np.where(labels < n_themes, confidence, 0.0)
    n_learnt = int((~np.isnan(learnt)).sum())
    theme_ids = [t.theme_id for t in codebook.themes] + [OTHER]
    names: list[str | None] = [t.name for t in codebook.themes] + ["Other (fits no theme)"]
    report(progress, "describing themes", 0.0)
    themes = build_themes(
        kept,
        labels,
        theme_ids,
        groups_of(kept),
        confidence if (labels < n_themes).any() else rng.random(len(texts)),
        model.tokeniser,
        fixed_labels=names,
        seed=seed,
        second=second,
        descriptions=[t.description for t in codebook.themes] + [""],
        question=_question_of(kept),
    )
    report(progress, "describing themes", 1.0)
    n_other = int((labels == n_themes).sum())
    method = (
        f"codebook matching ({n_themes} themes): an answer goes on a theme only when its most "
        f"relevant word (the theme's own words, or words used like them in these answers) is "
        f"stronger evidence than random unrelated words would give (p < {alpha:g}); "
        f"{n_learnt} more were placed by a classifier trained on those matches, each scoring "
        f"above {1 - selftrain.NULL_ALPHA:.0%} of shuffled-word answers; "
        f"{n_other} of {len(texts)} answers fit no theme and are counted as other; "
        f"{int((second >= 0).sum())} answers also make a second point"
    )
    return result_of(method, kept, themes, theme_ids, labels, confidence, second)


def _question_of(comments: Sequence[Comment]) -> str:
    questions = {c.question for c in comments}
    return questions.pop() if len(questions) == 1 else ""
