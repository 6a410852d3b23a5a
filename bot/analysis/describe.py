"""Turning a partition of responses into themes a person can read: label, keywords, quotes.

Labels are the most typical *real* phrase of a theme, in the answers' own words and word order
("Waiting time", "Friendly and helpful", "Can't fault the service"); nothing is generated and
no model is downloaded. Candidates are the word runs of each clause (never across a sentence or
clause break) that start and end on a content word, counted with scikit-learn's
``CountVectorizer`` and keyed by their content words, so "staff were friendly" and "staff very
friendly" count together while the label shows the commonest wording. A phrase scores, for a
theme, the c-TF-IDF weights of its words (share of the theme's answers using the word times the
log of how much likelier they are to use it than all answers) times the square root of the
share of answers using the phrase itself. A light grammar rule keeps labels phrase-shaped
without a tagger: a phrase neither starts nor ends on a function word, a verb fragment ("get",
"need", "think") or an intensifier, keeps a negation that precedes it, and never repeats a word.
A phrase of two or more content words is preferred; a broad theme that no phrase covers is
a mix, and its label says so, with its two top words ("Mixed comments on help and patients").
Labels are distinct across themes.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from bot.analysis.model import SPECIAL_THEMES, Comment, Theme
from bot.analysis.text import GENERIC_WORDS, STOP_WORDS, Tokeniser, stem
from bot.analysis.vectors import build_vocab, count_matrix

N_KEYWORDS = 8
LABEL_LOOKAHEAD = 4
"""Top terms whose words a fallback short answer must use."""
LABEL_ANSWER_WORDS = (3, 8)
N_QUOTES = 3
QUOTE_MAX_CHARS = 300
QUOTE_MIN_WORDS = 4
DESCRIBE_SAMPLE = 20000
PHRASE_MAX_WORDS = 8
"""Longest label, in words."""
PHRASE_MAX_CONTENT = 4
PHRASE_MAX_GAP = 3
"""Most other words between two content words of one phrase ("times *for a* referral")."""
PHRASE_MIN_SHARE = 0.01
"""A label phrase is used by at least this share of its theme's answers (and by two)."""
LABEL_TOP_TERMS = 4
"""A label holds a word of one of its theme's this many top keywords."""
LABEL_MIN_COVER = 0.02
"""A phrase used by fewer of its theme's answers than this does not name a broad theme."""
_ADJECTIVES = frozenset(
    stem(w)
    for w in """good great excellent long short quick fast slow nice kind friendly bad poor
    happy lovely amazing brilliant best worse worst polite rude clean dirty busy late early
    new old first last fantastic wonderful perfect professional pleasant efficient""".split()
)
MIXED_LABEL = "Mixed comments on"
"""How a broad theme that no phrase covers is named: "Mixed comments on help and patients"."""
MULTI_MIN = 0.2
"""A phrase of two or more content words is preferred to a single word scoring up to 5x more."""

_CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”/|*•…–—\n\r\t]+|\s-+\s|\bbut\b", re.IGNORECASE)
_SURFACE_WORD = re.compile(r"[^\W_]+(?:['’&-][^\W_]+)*", re.UNICODE)
_NOT_AT_EDGE = (
    frozenset(STOP_WORDS)
    - frozenset("system bill fire interest detail call front top side name part amount".split())
) | frozenset(
    """could should nothing everything everyone nobody none anything
    get gets got getting gotten make makes made making go goes went gone come came take took
    taken give gave given feel felt think thought know knew known say said tell told want
    wanted need needs needed like liked seem seemed try tried use used let lets put see saw
    seen look looked find found ask asked thank thanks keep kept did does doing done just
    really very also quite pretty extremely absolutely totally so too always lot lots bit
    thing things way ok okay yes etc able sure actually definitely especially""".split()
)
"""Words a phrase may hold inside but neither start nor end on."""
_NEGATION = frozenset("no not never cannot nobody hardly".split())
_MAY_START = _NEGATION | frozenset("more less better".split())
_NEGATIVE_CONTRACTION = re.compile(r"n['’]t$")
_CONTRACTION = re.compile(r"['’](?:m|re|ve|ll|d|t)$|^(?:it|that|there|here|what|he|she|let)['’]s$")


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


def _clauses(text: str) -> list[list[str]]:
    """Runs of words between clause breaks, as written (case kept)."""
    return [ws for part in _CLAUSE_BREAK.split(text) if (ws := _SURFACE_WORD.findall(part))]


def _lower(word: str) -> str:
    return word.replace("’", "'").lower()


def _is_negation(word: str) -> bool:
    return word in _NEGATION or bool(_NEGATIVE_CONTRACTION.search(word))


def _may_start(word: str) -> bool:
    """Content words, and the negations and quantities that may open a phrase ("not enough")."""
    return _is_negation(word) or (
        len(word) > 1
        and word not in _NOT_AT_EDGE
        and not any(ch.isdigit() for ch in word)
        and not _CONTRACTION.search(word)
    )


def _may_end(word: str) -> bool:
    return _may_start(word) and word not in _MAY_START and not _is_negation(word)


def _spans(clause: list[str]) -> list[tuple[str, int, int]]:
    """(key, start, end) of every phrase-shaped span of one clause.

    A span starts and ends on a content word, holds 1 to ``PHRASE_MAX_CONTENT`` content words
    with at most ``PHRASE_MAX_GAP`` other words between two of them, at most
    ``PHRASE_MAX_WORDS`` words in all, and no repeated word. Its key is the stems of its content
    words, so "staff were friendly and helpful" and "staff very friendly and helpful" count as
    one phrase; the label shows the wording the answers use most. A span never starts right
    after a negation, which would turn its sense around.
    """
    low = [_lower(w) for w in clause]
    content = [i for i, w in enumerate(low) if _may_start(w)]
    stems = {i: stem(low[i]) for i in content}
    out = []
    for a, first in enumerate(content):
        if first > 0 and _is_negation(low[first - 1]):
            continue  # "fault the service" would drop the "can't" that gives it its sense
        seen: set[str] = set()
        for b in range(a, min(len(content), a + PHRASE_MAX_CONTENT)):
            i = content[b]
            if stems[i] in seen or i - first >= PHRASE_MAX_WORDS:
                break
            if b > a and i - content[b - 1] - 1 > PHRASE_MAX_GAP:
                break
            seen.add(stems[i])
            if _may_end(low[i]):
                out.append((" ".join(stems[k] for k in content[a : b + 1]), first, i))
    return out


def phrase_keys(text: str) -> list[str]:
    """The keys of every phrase-shaped span of ``text`` (the n-gram analyser of the labels)."""
    return [key for clause in _clauses(text) for key, _, _ in _spans(clause)]


_FUNCTION_STEMS = frozenset(stem(w) for w in _NOT_AT_EDGE | _MAY_START)


def phrase_labels(
    texts: Sequence[str],
    labels: np.ndarray,
    n_labels: int,
    wanted: dict[int, set[str]],
    *,
    seed: int = 0,
) -> dict[int, str]:
    """A distinct phrase label for each theme index in ``wanted`` that has a typical phrase.

    ``wanted`` maps a theme index to the stems of its top keywords; a label holds one of them,
    so it names what the theme's keywords say rather than a side topic.

    Each phrase scores ``share * log(lift) * length bonus`` for a theme, where ``share`` is the
    share of the theme's answers that use it and ``lift`` how much likelier they are to use it
    than all answers. Phrases are handed out best score first, so a phrase common to two themes
    names the one it describes best, and no two labels share the same content words (nor does
    one label's set of content words contain another's).
    """
    idx = np.arange(len(texts))
    if len(idx) > DESCRIBE_SAMPLE:
        idx = np.sort(np.random.default_rng(seed).choice(idx, DESCRIBE_SAMPLE, replace=False))
    try:
        counts = CountVectorizer(analyzer=phrase_keys, binary=True, min_df=2, dtype=np.float64)
        x = counts.fit_transform([texts[i] for i in idx])
    except ValueError:  # no phrase occurs twice
        return {}
    vocab = counts.get_feature_names_out()
    member = sp.csr_matrix(
        (np.ones(len(idx)), (labels[idx], np.arange(len(idx)))), shape=(n_labels, len(idx))
    )
    per_theme = (member @ x).tocsr()
    sizes = np.bincount(labels[idx], minlength=n_labels)
    background = (np.asarray(x.sum(axis=0)).ravel() + 1.0) / (len(idx) + 1.0)
    unigram = {str(term): j for j, term in enumerate(vocab) if " " not in term}
    ranked: dict[int, list[tuple[float, str]]] = {}
    for c in wanted:
        row = per_theme.getrow(c)
        if sizes[c] == 0 or row.nnz == 0:
            continue
        share = row.data / sizes[c]
        lift = share / background[row.indices]
        weight = dict(zip(row.indices, share * np.log(np.maximum(lift, 1.0)), strict=True))
        need = max(2.0, math.ceil(PHRASE_MIN_SHARE * sizes[c]))
        top = set(wanted[c])
        scored = []
        for j, s_, l_, n_ in zip(row.indices, share, lift, row.data, strict=True):
            if n_ < need or l_ <= 1.0:
                continue
            words_ = _content_set(str(vocab[j]))
            if not words_ & top:
                continue
            fit = sum(weight.get(unigram.get(w, -1), 0.0) for w in words_) * math.sqrt(s_)
            scored.append((fit, len(words_) >= 2 and s_ >= LABEL_MIN_COVER, str(vocab[j])))
        best_single = max((f for f, _, k in scored if len(_content_set(k)) < 2), default=0.0)
        ranked[c] = sorted(
            (
                (f + (1.0 if multi and f >= MULTI_MIN * best_single else 0.0), k)
                for f, multi, k in scored
            ),
            key=lambda t: (-t[0], t[1]),
        )[:50]
    chosen: dict[int, str] = {}
    used: list[frozenset[str]] = []
    while True:
        best: tuple[float, int, str] | None = None
        for c, options in ranked.items():
            if c in chosen:
                continue
            while options and _clashes(options[0][1], used):
                options.pop(0)
            if options and (best is None or options[0][0] > best[0]):
                best = (options[0][0], c, options[0][1])
        if best is None:
            break
        _, c, key = best
        theme_texts = [texts[i] for i in idx[labels[idx] == c]]
        row = per_theme.getrow(c)
        if " " in key:
            chosen[c] = _surface(key, theme_texts)
        elif pair := _pair(key, ranked[c], row, vocab, sizes[c], used):
            together = _commonest(row, vocab, (f"{key} {pair}", f"{pair} {key}"))
            if together:  # the answers' own phrase for the two words ("helping patients")
                chosen[c] = _surface(together, theme_texts)
            else:
                # No phrase is common to its answers: say it is a mix, so nobody reads it as
                # one topic ("Help and patients" looked like a finding).
                first, second = _noun_form(key, theme_texts), _noun_form(pair, theme_texts)
                chosen[c] = f"{MIXED_LABEL} {first} and {second}"
            key = f"{key} {pair}"
        else:
            rare = (k for _, k in ranked[c] if len(_content_set(k)) > 1 and not _clashes(k, used))
            key = _widen(key, row, vocab, used) or next(rare, key)
            chosen[c] = _surface(key, theme_texts)
        used.append(_content_set(key))
    return chosen


def _pair(
    word: str,
    options: list[tuple[float, str]],
    row: sp.csr_matrix,
    vocab: np.ndarray,
    size: int,
    used: list[frozenset[str]],
) -> str | None:
    """A second word to name a broad theme with ("Mixed comments on help and listening"), or None.

    A theme whose best phrase covers few of its answers is named by its two most distinctive
    words, each used by at least ``LABEL_MIN_COVER`` of its answers, when both read as nouns
    (no "-ly", "-ful" or common adjective: "Service and good" would read as a word list).
    """
    share = dict(zip((str(vocab[j]) for j in row.indices), row.data / max(1, size), strict=True))
    if _adjective(word) or share.get(word, 0.0) < LABEL_MIN_COVER:
        return None
    for _, other in options:
        if " " in other or other == word or share.get(other, 0.0) < LABEL_MIN_COVER:
            continue
        if not _adjective(other) and not _clashes(f"{word} {other}", used):
            return other
    return None


def _commonest(row: sp.csr_matrix, vocab: np.ndarray, keys: Sequence[str]) -> str | None:
    """The key among ``keys`` that most of the theme's answers use (at least two), or None."""
    found = {str(vocab[j]): n for j, n in zip(row.indices, row.data, strict=True)}
    best = max(keys, key=lambda k: (found.get(k, 0), k))
    return best if found.get(best, 0) >= 2 else None


def _adjective(stem_: str) -> bool:
    return stem_ in _ADJECTIVES or stem_.endswith(("ly", "ful", "ous", "iv", "ive", "abl", "less"))


def _noun_form(stem_: str, texts: Sequence[str]) -> str:
    """The answers' commonest form of a word as a noun: "-ing" for a past tense ("listening"),
    the plural when the answers use it too ("patients")."""
    forms: Counter[str] = Counter()
    for text in texts:
        for word in _SURFACE_WORD.findall(text):
            low = _lower(word)
            if stem(low) == stem_:
                forms[low] += 1
    if not forms:
        return stem_
    common = min(forms, key=lambda w: (-forms[w], w))
    gerund = sorted((w for w in forms if w.endswith("ing")), key=lambda w: (-forms[w], w))
    if gerund and common.endswith("ed"):
        return gerund[0]
    plural = common + "s"
    form = plural if 4 * forms.get(plural, 0) >= forms[common] else common
    capitals = Counter(
        w
        for text in texts
        for clause in _clauses(text)
        for w in clause[1:]
        if _lower(w) == form and w[:1].isupper()
    )
    inside = sum(
        1 for text in texts for clause in _clauses(text) for w in clause[1:] if _lower(w) == form
    )
    return capitals.most_common(1)[0][0] if capitals and 2 * capitals.total() > inside else form


def _widen(word: str, row: sp.csr_matrix, vocab: np.ndarray, used: list) -> str | None:
    """The commonest phrase of two or more content words around ``word`` in the theme.

    One word ("Help") names no theme; the phrase its answers most often put it in ("help and
    support") does, even when that phrase is not distinctive enough to win on its own.
    """
    options = [
        (n, str(vocab[j]))
        for j, n in zip(row.indices, row.data, strict=True)
        if n >= 2 and word in _content_set(str(vocab[j])) and len(_content_set(str(vocab[j]))) > 1
    ]
    options = [o for o in options if not _clashes(o[1], used)]
    return min(options, key=lambda o: (-o[0], len(o[1]), o[1]))[1] if options else None


def _content_set(key: str) -> frozenset[str]:
    return frozenset(w for w in key.split(" ") if w not in _FUNCTION_STEMS and not _is_negation(w))


def _clashes(key: str, used: Sequence[frozenset[str]]) -> bool:
    words_ = _content_set(key)
    return any(words_ <= other or other <= words_ for other in used)


def _surface(key: str, texts: Sequence[str]) -> str:
    """The wording of a phrase key that the answers use most, as a label.

    Only the first word is capitalised, except words the answers themselves mostly write with
    a capital inside a sentence ("GP", "NHS", "I").
    """
    forms: Counter[tuple[str, ...]] = Counter()
    inside: Counter[str] = Counter()  # occurrences of a word not at a clause start
    capital: Counter[tuple[str, str]] = Counter()
    for text in texts:
        for clause in _clauses(text):
            for found, start, end in _spans(clause):
                if found != key:
                    continue
                forms[tuple(_lower(w) for w in clause[start : end + 1])] += 1
                for i in range(max(1, start), end + 1):
                    inside[_lower(clause[i])] += 1
                    if clause[i][:1].isupper():
                        capital[(_lower(clause[i]), clause[i])] += 1
    if not forms:
        return key[:1].upper() + key[1:]
    words_ = list(min(forms.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[0])
    for p, word in enumerate(words_):
        upper = sorted(((k, w) for (low, w), k in capital.items() if low == word), reverse=True)
        if word == "i":
            words_[p] = "I"
        elif upper and 2 * sum(k for k, _ in upper) > inside[word]:
            words_[p] = upper[0][1]
    phrase = " ".join(words_)
    return phrase[:1].upper() + phrase[1:]


def label_from(terms: Sequence[str], tokeniser: Tokeniser, short_answer: str | None = None) -> str:
    """A fallback label for a theme with no phrase used by two of its answers.

    Its most typical short answer ("Could not have done better") when there is one, else its
    most distinctive term alone: loose words joined with "and" ("think and thing") read like a
    word list, not like something a person would write.
    """
    if short_answer:
        return short_answer
    generic = {stem(w) for w in GENERIC_WORDS}
    clean = [t for t in terms if not set(t.split(" ")) & generic]
    if not clean:
        return "(no distinctive words)"
    phrase = tokeniser.display(clean[0])
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
    unnamed = [
        t
        for t, theme_id in enumerate(theme_ids)
        if not (fixed_labels and fixed_labels[t]) and theme_id not in SPECIAL_THEMES
    ]
    generic = {stem(w) for w in GENERIC_WORDS}
    top_words = {
        t: {w for term in ranked[t][:LABEL_TOP_TERMS] for w in term.split(" ")} - generic
        for t in unnamed
    }
    phrases = phrase_labels(texts, labels, len(theme_ids), top_words, seed=seed) if unnamed else {}
    taken = {p.lower() for p in phrases.values()}
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
            label = phrases.get(t)
        if label is None:
            short = short_typical_answer(texts, members, typicality, ranked[t], tokeniser)
            label = label_from(ranked[t], tokeniser, short)
            if label.lower() in taken:
                label = f"{label} ({theme_id})"
            taken.add(label.lower())
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
