"""How strong is the evidence that an answer is about a theme, judged against chance?

The old rule ("a quarter of the median best score of the same answers") let almost everything
through, because it compares answers with each other. Here each theme is judged against a null
model of *unrelated text*: a bag of words drawn at random from the vocabulary.

1. Word vectors are learnt from the answers plus the theme definitions
   (:mod:`bot.analysis.vectors`).
2. Each vocabulary word gets a relevance to each theme: 1 for the theme's own words (keywords,
   examples, and the single-word parts of its name: "Travel & location"), otherwise the cosine
   between the word's vector and the theme's centre.
3. A word's relevance is turned into its percentile ``q`` among all vocabulary words for that
   theme — the null distribution of one random word. From ``FREQUENCY_NULL_MIN`` answers on,
   the random word is drawn as often as words are used in the answers (unrelated text is made
   of common words), so a learnt neighbour used everywhere ("service") is weak evidence; a
   theme's own words keep near-top percentiles but lose ``OWN_WORD_SHARE`` times their share
   of word uses ("hospital", common in an ambulance service's answers, is not proof of
   "Care pathway"). On a few dozen answers word frequencies mean little (the answers are
   *about* the themes), so the plain vocabulary rank is used.
4. An answer with ``L`` distinct known words, whose most relevant word sits at percentile ``q``,
   has p-value ``1 - q**L``: the chance that ``L`` random words include one at least as
   relevant. Longer answers therefore need stronger evidence, as they should. A multi-word name
   ("Care pathway", "Toilet training") is one concept: it counts as an own word only where the
   answer uses the whole phrase, because its words alone ("care") are in answers about anything.

5. The whole answer is checked too: its mean word vector's cosine to the theme's centre is
   compared with answers made of words shuffled across all answers (a permutation null), so a
   passing mention of one theme word in a remark about something else is not enough.

An answer goes on a theme only when the word p-value is below ``alpha`` (default 0.01) and the
answer-level p-value below ``ANSWER_ALPHA`` (0.2), both chosen on the tuning halves of the
development set and reported on the held-out halves. These matches then seed a classifier
(:mod:`bot.analysis.selftrain`) that adds answers making the same points in other words. This
works the same for 2 themes or 12, because each theme's null is its own and does not depend on
the other themes.

Settings tried on the tuning halves (``split_indices(n, seed)[0]``; weakest partial-codebook
F1, with the self-training of :mod:`bot.analysis.selftrain` on): ``OWN_WORD_SHARE`` 0 (plain
vocabulary rank) 0.388, 0.1 0.388, 0.3 0.447, 0.5 0.444, 1.0 0.044 (big themes such as "Staff"
lost almost all their matches); ``alpha`` 0.005 instead of 0.01: 0.408; ``ANSWER_ALPHA`` 0.1
instead of 0.2: 0.437 (these three with the classifier's coherence gate at 0.5; the chosen 0.4
raised 0.447 to 0.460); capping learnt neighbours' percentile at 0.995 or 0.998: no change (the
frequency-weighted null already keeps them below). Chosen: 0.3, 0.01, 0.2.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from bot.analysis.model import CodebookTheme
from bot.analysis.text import Tokeniser
from bot.analysis.vectors import CorpusVectoriser

DEFAULT_ALPHA = 0.01
"""Significance level for accepting a theme; measured on the development set's tuning half."""
SECOND_THEME_SHARE = 0.2
"""A second theme needs a p-value below ``alpha * SECOND_THEME_SHARE`` (clearly a second point)."""
DESCRIPTION_WEIGHT = 0.5
NULL_VOCABULARY = 2000
"""Smallest vocabulary the random-word null is drawn from (see :meth:`ThemeEvidence.fit`)."""
ANSWER_NULL_SIZE = 2000
ANSWER_TEST_MIN = 200
"""Below this many answers the learnt vectors are too noisy for the answer-level test."""
ANSWER_ALPHA = 0.2
"""The whole answer's cosine to the theme must beat 80% of shuffled-word answers (tuning halves:
0.1-0.3 tried; 0.2 gave the best weakest F1 with every other share above 0.8)."""
FREQUENCY_NULL_MIN = 200
"""From this many answers on, the random word is drawn by how often words are used."""
OWN_WORD_SHARE = 0.3
"""A theme's own word used by a share ``s`` of all word uses sits at percentile at most
``1 - 0.3 s`` (tuning halves: 0 (off), 0.1, 0.3, 0.5, 1.0 tried; 0.3 gave the best weakest F1)."""


_NAME_PARTS = re.compile(r"\s*(?:&|\+|/|,|;|\band\b|\bor\b)\s*", re.IGNORECASE)


def name_parts(theme: CodebookTheme) -> tuple[list[str], list[str]]:
    """(single-word parts, multi-word phrases) of a theme's name, split on "&", "and", "/", ",".

    "Travel & location" names two concepts, each a word the theme owns. "Care pathway" names
    one concept with two words: "care" alone is not evidence of a care pathway (it is in
    answers about every theme), so a multi-word part defines the theme's centre but its words
    are not owned the way keywords are.
    """
    singles: list[str] = []
    phrases: list[str] = []
    for part in _NAME_PARTS.split(theme.name):
        if not part.strip():
            continue
        (singles if len(part.split()) == 1 else phrases).append(part)
    return singles, phrases


def theme_query(theme: CodebookTheme) -> str:
    """The text that defines a theme for the word-vector model."""
    return " ".join(
        [theme.name, theme.description, " ".join(theme.keywords), *theme.examples]
    ).strip()


@dataclass(frozen=True, slots=True)
class Evidence:
    """Per answer and theme: p-value against the null, and the most relevant word's index."""

    p_values: np.ndarray  # (answers, themes); 1.0 when an answer has no known word
    best_word: np.ndarray  # (answers, themes); -1 when an answer has no known word
    answer_p: np.ndarray  # (answers, themes); whole answer vs shuffled-word answers


class ThemeEvidence:
    """Learns word relevance per theme from answers + definitions, then scores answers."""

    def __init__(self, themes: Sequence[CodebookTheme], *, seed: int = 0) -> None:
        self.themes = tuple(themes)
        self.tokeniser = Tokeniser()
        self.vectoriser = CorpusVectoriser(self.tokeniser, seed=seed)
        self.percentile = np.zeros((0, len(self.themes)))
        self.seed = seed

    @property
    def description(self) -> str:
        return self.vectoriser.__class__.description

    def fit(self, texts: Sequence[str]) -> ThemeEvidence:
        """Learn word vectors and each word's relevance percentile for each theme."""
        queries = [theme_query(t) for t in self.themes]
        self.vectoriser.fit([*texts, *queries])
        vocab = self.vectoriser.vocab
        vectors = self.vectoriser.term_vectors
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        relevance = np.zeros((len(vocab), len(self.themes)))
        self._own: list[list[int]] = []
        self._phrases: list[list[tuple[str, ...]]] = []
        self.centres = np.zeros((len(self.themes), vectors.shape[1]))
        self.unit = unit
        for j, theme in enumerate(self.themes):
            singles, phrases = name_parts(theme)
            own = self._indices([*singles, " ".join(theme.keywords), *theme.examples], vocab)
            named = self._indices(phrases, vocab)
            tokenised = (tuple(self.tokeniser.tokens(phrase)) for phrase in phrases)
            self._phrases.append([tokens for tokens in tokenised if tokens])
            described = self._indices([theme.description], vocab)
            centre = (
                unit[own].sum(axis=0)
                + unit[named].sum(axis=0)
                + DESCRIPTION_WEIGHT * unit[described].sum(axis=0)
            )
            size = np.linalg.norm(centre)
            if size > 0:
                relevance[:, j] = unit @ (centre / size)
            relevance[own, j] = 1.0 + 1e-9  # a theme's own words outrank every other word
            self._own.append(own)
            self.centres[j] = centre / size if size > 0 else 0.0
        # Rank of each word among the vocabulary words: the null of one random word. A theme's
        # own words share the top rank, as if the vocabulary were at least NULL_VOCABULARY words
        # (a random English word is unrelated to a theme), so 40 answers can still give strong
        # evidence. Learnt neighbours are ranked among the real vocabulary only: on little data
        # the word vectors are too noisy to be trusted more than that.
        n = len(vocab)
        ranks = np.argsort(np.argsort(relevance, axis=0, kind="stable"), axis=0, kind="stable")
        above = n - 1 - ranks  # words more relevant than this one
        self.percentile = 1.0 - (above + 0.5) / max(n, 1)
        for j, own in enumerate(self._own):
            self.percentile[own, j] = 1.0 - 0.5 / max(n, NULL_VOCABULARY)
        if len(texts) >= FREQUENCY_NULL_MIN:
            self._frequency_null(texts, relevance)
        self._answer_null(texts)
        return self

    def _frequency_null(self, texts: Sequence[str], relevance: np.ndarray) -> None:
        """Weigh the random word by how often words are used: unrelated text is common words.

        A learnt neighbour used everywhere ("service" for "Care pathway") is then weak evidence,
        and a theme's own word counts as less than certain in proportion to how common it is
        (``OWN_WORD_SHARE``): "hospital" in an ambulance service's answers says little.
        """
        freq = np.asarray(self.vectoriser.counts(texts).sum(axis=0)).ravel() + 1.0
        share = freq / freq.sum()
        for j, own in enumerate(self._own):
            order = np.argsort(relevance[:, j], kind="stable")
            q = np.empty(len(share))
            q[order] = np.cumsum(share[order]) - 0.5 * share[order]
            self.percentile[:, j] = np.minimum(self.percentile[:, j], q)
            top = 1.0 - 0.5 / max(len(share), NULL_VOCABULARY)
            self.percentile[own, j] = np.minimum(top, 1.0 - OWN_WORD_SHARE * share[own])

    def _answer_null(self, texts: Sequence[str]) -> None:
        """Cosines of shuffled-word answers to each theme's centre (a permutation null)."""
        counts = self.vectoriser.counts(texts)
        lengths = np.asarray(counts.sum(axis=1)).ravel().astype(int)
        lengths = lengths[lengths > 0]
        freq = np.asarray(counts.sum(axis=0)).ravel()
        if len(lengths) == 0 or freq.sum() == 0:
            self.null = np.zeros((1, len(self.themes)))
            self.null_counts = sp.csr_matrix((0, len(freq)))
            self.null_vecs = np.zeros((0, self.unit.shape[1]))
            return
        rng = np.random.default_rng(self.seed)
        picks = rng.choice(lengths, ANSWER_NULL_SIZE)
        rows, cols = [], []
        for i, size in enumerate(picks):
            words = rng.choice(len(freq), size, p=freq / freq.sum())
            rows.extend([i] * size)
            cols.extend(words.tolist())
        null_counts = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(ANSWER_NULL_SIZE, len(freq))
        )
        null_counts.sum_duplicates()
        self.null_counts = null_counts
        self.null_vecs = self.vectoriser.from_counts(null_counts)
        self.null = np.sort(self.null_vecs @ self.centres.T, axis=0)

    def _indices(self, texts: Sequence[str], vocab: dict[str, int]) -> list[int]:
        found = {vocab[w] for text in texts for w in self.tokeniser.tokens(text) if w in vocab}
        return sorted(found)

    def score(self, texts: Sequence[str]) -> Evidence:
        """p-values (answers x themes) under the random-words null."""
        vocab = self.vectoriser.vocab
        n_themes = len(self.themes)
        p_values = np.ones((len(texts), n_themes))
        best_word = np.full((len(texts), n_themes), -1, dtype=np.int64)
        own_q = 1.0 - 0.5 / max(len(vocab), NULL_VOCABULARY)
        for i, text in enumerate(texts):
            tokens = self.tokeniser.tokens(text)
            known = sorted({vocab[w] for w in tokens if w in vocab})
            if not known:
                continue
            q = self.percentile[known]
            top = q.argmax(axis=0)
            q_max = q[top, np.arange(n_themes)]
            best_word[i] = np.asarray(known)[top]
            for j, phrases in enumerate(self._phrases):
                if any(_contains(tokens, phrase) for phrase in phrases):
                    q_max[j] = max(q_max[j], own_q)  # the name itself, as a phrase
            p_values[i] = 1.0 - q_max ** len(known)
        vecs = self.vectoriser.transform(texts)
        cos = vecs @ self.centres.T
        answer_p = np.ones_like(cos)
        for j in range(n_themes):
            above = len(self.null) - np.searchsorted(self.null[:, j], cos[:, j], side="left")
            answer_p[:, j] = (above + 1) / (len(self.null) + 1)
        answer_p[np.linalg.norm(vecs, axis=1) == 0] = 1.0
        return Evidence(p_values=p_values, best_word=best_word, answer_p=answer_p)


def _contains(tokens: Sequence[str], phrase: tuple[str, ...]) -> bool:
    """Whether ``phrase`` occurs in ``tokens`` as consecutive words."""
    size = len(phrase)
    return any(tuple(tokens[k : k + size]) == phrase for k in range(len(tokens) - size + 1))
