"""Response vectors learnt from the responses themselves (no model download, no torch).

Short answers share few exact words, so plain TF-IDF puts "waited hours" and "late again" far
apart. Here each word gets a vector from how it co-occurs with other words across all responses
(positive PMI with context smoothing, reduced by a truncated SVD, the classic count-based word
embedding), and a response is the mean of its word vectors. Words that are used alike ("driver",
"crew", "paramedics") end up close, which is what theme discovery needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

from bot.analysis.text import Tokeniser


def count_matrix(token_lists: Sequence[Sequence[str]], vocab: dict[str, int]) -> sp.csr_matrix:
    """Responses x vocabulary term counts; unknown terms are ignored."""
    indptr, indices = [0], []
    for toks in token_lists:
        indices.extend(vocab[t] for t in toks if t in vocab)
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float64)
    m = sp.csr_matrix(
        (data, np.asarray(indices, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
        shape=(len(token_lists), len(vocab)),
    )
    m.sum_duplicates()
    return m


def build_vocab(
    token_lists: Sequence[Sequence[str]], *, min_df: int, max_terms: int
) -> dict[str, int]:
    """Terms in at least ``min_df`` responses, the ``max_terms`` commonest, sorted for stability."""
    df: dict[str, int] = {}
    for toks in token_lists:
        for t in set(toks):
            df[t] = df.get(t, 0) + 1
    kept = sorted((t for t, n in df.items() if n >= min_df), key=lambda t: (-df[t], t))[:max_terms]
    return {t: i for i, t in enumerate(sorted(kept))}


class CorpusVectoriser:
    """Word vectors from PPMI co-occurrence + SVD, response vectors as normalised word means.

    Args:
        dim: size of the word vectors (capped by the vocabulary size).
        max_terms: vocabulary cap, which bounds memory on big inputs.
        smoothing: context-distribution smoothing exponent (0.75, as in word2vec and Levy et al.).
        seed: seed of the randomized SVD.
    """

    name = "tfidf"
    description = "word vectors learnt from the responses (PPMI + SVD)"

    def __init__(
        self,
        tokeniser: Tokeniser | None = None,
        *,
        dim: int = 50,
        max_terms: int = 5000,
        smoothing: float = 0.75,
        seed: int = 0,
    ) -> None:
        self.tokeniser = tokeniser or Tokeniser()
        self.dim = dim
        self.max_terms = max_terms
        self.smoothing = smoothing
        self.seed = seed
        self.vocab: dict[str, int] = {}
        self.term_vectors = np.zeros((0, dim))

    def fit(self, texts: Sequence[str]) -> CorpusVectoriser:
        """Learn the vocabulary and word vectors from ``texts``."""
        token_lists = [self.tokeniser.tokens(t) for t in texts]
        min_df = max(2, math.ceil(len(token_lists) * 0.001))
        self.vocab = build_vocab(token_lists, min_df=min_df, max_terms=self.max_terms)
        if len(self.vocab) < 2:
            self.vocab = build_vocab(token_lists, min_df=1, max_terms=self.max_terms)
        counts = count_matrix(token_lists, self.vocab)
        self.term_vectors = self._term_vectors(counts)
        return self

    def _term_vectors(self, counts: sp.csr_matrix) -> np.ndarray:
        present = counts.copy()
        present.data[:] = 1.0
        co = (present.T @ present).tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        n_terms = counts.shape[1]
        if co.nnz == 0:
            return np.eye(n_terms, min(self.dim, n_terms))
        total = co.sum()
        row = np.asarray(co.sum(axis=1)).ravel() / total
        ctx = np.asarray(co.sum(axis=0)).ravel() ** self.smoothing
        ctx /= ctx.sum()
        coo = co.tocoo()
        pmi = np.log(coo.data / total / (row[coo.row] * ctx[coo.col]))
        keep = pmi > 0
        ppmi = sp.csr_matrix(
            (pmi[keep], (coo.row[keep], coo.col[keep])), shape=co.shape, dtype=np.float64
        )
        k = max(1, min(self.dim, n_terms - 1))
        u, s, _ = randomized_svd(ppmi, k, n_iter=7, random_state=self.seed)
        # Fix each component's sign so the result does not depend on the solver's choice.
        signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])
        signs[signs == 0] = 1.0
        return u * s * signs

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Term counts of ``texts`` over the fitted vocabulary."""
        return count_matrix([self.tokeniser.tokens(t) for t in texts], self.vocab)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length response vectors; all-zero rows for responses with no known word."""
        return self.from_counts(self.counts(texts))

    def from_counts(self, counts: sp.csr_matrix) -> np.ndarray:
        """Unit-length mean word vectors from a count matrix."""
        vecs = np.asarray(counts @ self.term_vectors)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return np.divide(vecs, norms, out=np.zeros_like(vecs), where=norms > 0)
