"""Choosing how responses become vectors: learnt word vectors (default) or sentence embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from bot.analysis.inputs import report
from bot.analysis.model import Progress
from bot.analysis.text import Tokeniser
from bot.analysis.vectors import CorpusVectoriser
from bot.errors import AnalysisError

VECTORISERS = ("tfidf", "embeddings")
_CHUNK = 5000


class Vectoriser(Protocol):
    """What discovery and codebook matching need from a vectoriser."""

    description: str
    tokeniser: Tokeniser

    def fit(self, texts: Sequence[str], progress: Progress | None = None) -> Vectoriser: ...

    def transform(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...


class WordVectors:
    """The default: :class:`CorpusVectoriser` with progress reporting; needs nothing extra."""

    description = "word vectors learnt from the responses (PPMI + SVD)"

    def __init__(self, seed: int = 0) -> None:
        self.tokeniser = Tokeniser()
        self.inner = CorpusVectoriser(self.tokeniser, seed=seed)

    def fit(self, texts: Sequence[str], progress: Progress | None = None) -> WordVectors:
        """Learn word vectors from ``texts``."""
        report(progress, "learning word vectors", 0.0)
        self.inner.fit(texts)
        report(progress, "learning word vectors", 1.0)
        return self

    def transform(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Unit response vectors, in chunks so progress can be shown on big inputs."""
        parts = []
        for start in range(0, len(texts), _CHUNK):
            parts.append(self.inner.transform(texts[start : start + _CHUNK]))
            report(progress, "vectorising responses", min(1.0, (start + _CHUNK) / len(texts)))
        return np.vstack(parts) if parts else np.zeros((0, self.inner.term_vectors.shape[1]))


def make_vectoriser(name: str, *, seed: int = 0) -> Vectoriser:
    """The vectoriser called ``name``; AnalysisError for an unknown one or a missing extra."""
    if name in ("tfidf", "corpus"):
        return WordVectors(seed=seed)
    if name == "embeddings":
        from bot.analysis.embeddings import SentenceEmbeddings

        return SentenceEmbeddings()
    raise AnalysisError(f"Unknown vectoriser {name!r}; use one of: {', '.join(VECTORISERS)}.")
