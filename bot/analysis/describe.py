"""Turning a partition of responses into themes a person can read: label, keywords, quotes."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp

from bot.analysis.model import SPECIAL_THEMES, Comment, Theme
from bot.analysis.text import GENERIC_WORDS, Tokeniser, stem
from bot.analysis.vectors import build_vocab, count_matrix

N_KEYWORDS = 8
LABEL_LOOKAHEAD = 4
LABEL_ANSWER_WORDS = (3, 8)
N_QUOTES = 3
QUOTE_MAX_CHARS = 300
QUOTE_MIN_WORDS = 4
DESCRIBE_SAMPLE = 20000


def distinctive_terms(
    texts: Sequence[str], labels: np.ndarray, n_labels: int, tokeniser: Tokeniser, *, seed: int = 0
) -> list[list[str]]:
    """Per label, terms and phrases ranked by class-based TF-IDF (as in BERTopic's c-TF-IDF).

    A term scores high for a theme when it is frequent inside the theme and rare across themes,
    which is what makes a label tell themes apart rather than repeat "service" everywhere.
    """
    idx = np.arange(len(texts))
    if len(idx) > DESCRIBE_SAMPLE:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(idx, DESCRIBE_SAMPLE, replace=False))
    token_lists = [tokeniser.unigrams_bigrams(texts[i]) for i in idx]
    vocab = build_vocab(token_lists, min_df=2, max_terms=20000)
    if not vocab:
        vocab = build_vocab(token_lists, min_df=1, max_terms=20000)
    if not vocab:
        return [[] for _ in range(n_labels)]
    counts = count_matrix(token_lists, vocab)
    member = sp.csr_matrix(
        (np.ones(len(idx)), (labels[idx], np.arange(len(idx)))), shape=(n_labels, len(idx))
    )
    per_class = np.asarray((member @ counts).todense())
    docs_per_class = np.asarray((member @ (counts > 0).astype(np.float64)).todense())
    totals = per_class.sum(axis=1, keepdims=True)
    tf = np.divide(per_class, totals, out=np.zeros_like(per_class), where=totals > 0)
    freq = per_class.sum(axis=0)
    avg = max(totals.mean(), 1.0)
    ctfidf = tf * np.log1p(avg / np.maximum(freq, 1.0))
    terms = sorted(vocab, key=vocab.__getitem__)
    generic = {stem(w) for w in GENERIC_WORDS}
    out = []
    for c in range(n_labels):
        order = np.lexsort((np.arange(len(terms)), -ctfidf[c]))
        out.append(
            [
                terms[j]
                for j in order[:60]
                if ctfidf[c, j] > 0 and docs_per_class[c, j] >= 2 and terms[j] not in generic
            ]
        )
    return out


def label_from(terms: Sequence[str], tokeniser: Tokeniser, short_answer: str | None = None) -> str:
    """A short phrase a person would write: "Waiting time and appointments".

    The head is the first two-word phrase (without "not", "could"...) among the theme's top
    distinctive terms, with a second term that shares no word with it added with "and". When
    the theme has no such phrase, its most typical short answer is the label ("Could not have
    done better"), as two loose words ("think and thing") name nothing; failing both, the top
    words are joined.
    """
    generic = {stem(w) for w in GENERIC_WORDS}
    clean = [t for t in terms if not set(t.split(" ")) & generic]
    phrases = [t for t in clean[: 2 * LABEL_LOOKAHEAD] if " " in t]
    if not phrases and short_answer:
        return short_answer
    if not clean:
        return "(no distinctive words)"
    top = clean[:LABEL_LOOKAHEAD]
    head = phrases[0] if phrases else top[0]
    words_used = set(head.split(" "))
    extra = next((t for t in top if t != head and not set(t.split(" ")) & words_used), None)
    phrase = tokeniser.display(head)
    if extra is not None:
        phrase += " and " + tokeniser.display(extra)
    return phrase[:1].upper() + phrase[1:]


def short_typical_answer(
    texts: Sequence[str],
    members: np.ndarray,
    typicality: np.ndarray,
    terms: Sequence[str],
    tokeniser: Tokeniser,
) -> str | None:
    """The most typical answer of 3-8 words that uses two of the theme's top words, or None."""
    generic = {stem(w) for w in GENERIC_WORDS}
    top = {w for t in terms[:LABEL_LOOKAHEAD] for w in t.split(" ")} - generic
    order = members[np.lexsort((members, -typicality[members]))]
    for i in order[:200]:
        text = " ".join(texts[i].split()).strip(" .!,;")
        if not LABEL_ANSWER_WORDS[0] <= len(text.split()) <= LABEL_ANSWER_WORDS[1]:
            continue
        if len(top & set(tokeniser.tokens(text))) >= min(2, len(top)):
            return text[:1].upper() + text[1:]
    return None


def keywords_from(terms: Sequence[str], tokeniser: Tokeniser) -> tuple[str, ...]:
    """The first distinct readable terms, at most ``N_KEYWORDS``."""
    out: list[str] = []
    for term in terms:
        shown = tokeniser.display(term)
        if shown not in out:
            out.append(shown)
        if len(out) == N_KEYWORDS:
            break
    return tuple(out)


def pick_quotes(
    texts: Sequence[str], members: np.ndarray, typicality: np.ndarray, n: int = N_QUOTES
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The most typical distinct texts (and their row numbers), preferring readable lengths."""
    order = members[np.lexsort((members, -typicality[members]))]
    good: list[int] = []
    fallback: list[int] = []
    seen: set[str] = set()
    for i in order:
        text = " ".join(texts[i].split())
        key = text.lower().strip(" .!")
        if not key or key in seen:
            continue
        seen.add(key)
        readable = len(text.split()) >= QUOTE_MIN_WORDS and len(text) <= QUOTE_MAX_CHARS
        (good if readable else fallback).append(int(i))
        if len(good) == n:
            break
    fallback.sort(key=lambda i: (len(texts[i]) > QUOTE_MAX_CHARS, -min(len(texts[i]), 300)))
    rows = (good + fallback)[:n]
    return tuple(_clip(" ".join(texts[i].split())) for i in rows), tuple(rows)


def _clip(text: str) -> str:
    if len(text) <= QUOTE_MAX_CHARS:
        return text
    return text[: QUOTE_MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"


def build_themes(
    comments: Sequence[Comment],
    labels: np.ndarray,
    theme_ids: Sequence[str],
    groups: Sequence[str],
    typicality: np.ndarray,
    tokeniser: Tokeniser,
    *,
    fixed_labels: Sequence[str | None] | None = None,
    seed: int = 0,
    second: np.ndarray | None = None,
    descriptions: Sequence[str] | None = None,
    question: str = "",
) -> tuple[Theme, ...]:
    """One Theme per id that has members, ordered by size (then id) descending.

    Args:
        labels: index into ``theme_ids`` for each comment.
        typicality: per comment, how central it is to its theme (for choosing quotes).
        fixed_labels: per theme, a label to use instead of the discovered phrases (codebook).
        second: per comment, the index of its second theme or -1 (counted apart from size).
    """
    texts = [c.text for c in comments]
    ranked = distinctive_terms(texts, labels, len(theme_ids), tokeniser, seed=seed)
    themes = []
    for t, theme_id in enumerate(theme_ids):
        members = np.flatnonzero(labels == t)
        if len(members) == 0:
            continue
        counts = dict.fromkeys(groups, 0)
        for i in members:
            counts[comments[i].group] += 1
        label = fixed_labels[t] if fixed_labels and fixed_labels[t] else None
        if label is None:
            short = short_typical_answer(texts, members, typicality, ranked[t], tokeniser)
            label = label_from(ranked[t], tokeniser, short)
        quotes, quote_rows = pick_quotes(texts, members, typicality)
        themes.append(
            Theme(
                theme_id=theme_id,
                label=label,
                keywords=keywords_from(ranked[t], tokeniser),
                size=int(len(members)),
                counts=MappingProxyType(counts),
                quotes=quotes,
                question=question,
                second=int((second == t).sum()) if second is not None else 0,
                description=descriptions[t] if descriptions else "",
                quote_groups=tuple(comments[i].group for i in quote_rows),
            )
        )
    themes.sort(key=lambda th: (th.theme_id in SPECIAL_THEMES, -th.size, th.theme_id))
    return tuple(themes)
