"""Codebook evidence from sentence embeddings, judged against unrelated text (optional method).

The same principle as :mod:`bot.analysis.evidence`, with a pre-trained sentence model:

1. Each theme becomes one unit vector: the mean of the embeddings of its definition texts (the
   name, "name: description", each example, and the keywords as a list).
2. Each answer's cosine to each theme is compared with the cosines of *unrelated text*: answers
   made of words drawn at random from all the answers, with the answers' own lengths (a
   permutation null). Its p-value is the share of those that come at least as close. Each
   theme's null is its own, so a rare theme is judged against what unrelated text scores for
   *that* theme.

Used as the whole-answer test of ``apply_codebook(..., vectoriser="embeddings")``: the word
evidence of the default method must pass too. On its own (p < 0.01 or 0.03 as the only test)
it was far weaker on the development set's tuning halves (weakest F1 0.10-0.21 against 0.39),
because bags of this service's own words already sit close to its themes.

Needs the ``embeddings`` extra (torch + the bundled all-MiniLM-L6-v2 weights); nothing is
downloaded at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.analysis.model import CodebookTheme, Progress
from bot.analysis.text import words

NULL_SIZE = 500
"""Unrelated answers drawn for the null; p-values are then resolved to 0.002."""


def theme_texts(theme: CodebookTheme) -> list[str]:
    """The texts whose embeddings define a theme."""
    texts = [theme.name]
    if theme.description:
        texts.append(f"{theme.name}: {theme.description}")
    if theme.keywords:
        texts.append(", ".join(theme.keywords))
    texts.extend(theme.examples)
    return texts


def null_texts(texts: Sequence[str], size: int, seed: int) -> list[str]:
    """``size`` answers of words drawn at random from ``texts``, with the answers' lengths."""
    token_lists = [words(t) for t in texts]
    pool = [w for toks in token_lists for w in toks]
    lengths = [len(toks) for toks in token_lists if toks]
    if not pool:
        return []
    rng = np.random.default_rng(seed)
    picks = rng.choice(np.asarray(lengths), size)
    return [" ".join(pool[k] for k in rng.integers(0, len(pool), n)) for n in picks]


@dataclass(frozen=True, slots=True)
class SemanticScores:
    """Per answer and theme: cosine to the theme and p-value against unrelated text."""

    cosines: np.ndarray  # (answers, themes)
    p_values: np.ndarray  # (answers, themes); 1.0 for an answer with no words


class SemanticEvidence:
    """Scores answers against codebook themes with sentence embeddings and a permutation null."""

    description = "all-MiniLM-L6-v2 sentence embeddings"

    def __init__(self, themes: Sequence[CodebookTheme], *, seed: int = 0) -> None:
        from bot.analysis.embeddings import SentenceEmbeddings

        self.themes = tuple(themes)
        self.seed = seed
        self.encoder = SentenceEmbeddings()
        self.tokeniser = self.encoder.tokeniser
        self.centres = np.zeros((len(self.themes), 0))
        self.null = np.zeros((0, len(self.themes)))

    def fit(self, texts: Sequence[str]) -> SemanticEvidence:
        """Embed the theme definitions and the unrelated-text null drawn from ``texts``."""
        centres = []
        for theme in self.themes:
            vecs = self.encoder.transform(theme_texts(theme))
            centre = vecs.mean(axis=0)
            centres.append(centre / max(float(np.linalg.norm(centre)), 1e-12))
        self.centres = np.vstack(centres)
        unrelated = null_texts(texts, NULL_SIZE, self.seed)
        if unrelated:
            self.null = np.sort(self.encoder.transform(unrelated) @ self.centres.T, axis=0)
        else:
            self.null = np.zeros((1, len(self.themes)))
        return self

    def score(self, texts: Sequence[str], progress: Progress | None = None) -> SemanticScores:
        """Cosines and p-values (answers x themes)."""
        vecs = self.encoder.transform(texts, progress)
        cos = vecs @ self.centres.T
        p = np.ones_like(cos)
        for j in range(len(self.themes)):
            above = len(self.null) - np.searchsorted(self.null[:, j], cos[:, j], side="left")
            p[:, j] = (above + 1) / (len(self.null) + 1)
        empty = np.array([not words(t) for t in texts], dtype=bool)
        p[empty] = 1.0
        return SemanticScores(cosines=cos, p_values=p)
