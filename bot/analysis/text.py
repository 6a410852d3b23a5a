"""Tokenising short feedback: words, a tiny stemmer, and a stop list that keeps meaning.

Short answers ("not good", "nothing", "more staff") lose their point when negation and
quantity words are dropped, so the stop list is scikit-learn's English list minus those words.
The stemmer is a cut-down Porter step 1 (plurals, -ed, -ing): enough to merge "wait", "waiting"
and "waited" without a download.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_KEEP = frozenset(
    "no not nothing none never nobody more less better could should everything everyone "
    "cannot".split()
)
GENERIC_WORDS: frozenset[str] = _KEEP
"""Kept for meaning inside phrases, but too generic to name a theme on their own."""
STOP_WORDS: frozenset[str] = frozenset(ENGLISH_STOP_WORDS - _KEEP) | frozenset(
    "s t d ll m re ve don didn doesn isn wasn weren couldn wouldn shouldn haven hasn".split()
)

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
_NEG = re.compile(r"n't\b")
_IRREGULAR_NEG = (("can't", "can not"), ("won't", "will not"), ("shan't", "shall not"))
_VOWELS = frozenset("aeiouy")


def _is_consonant(word: str, i: int) -> bool:
    ch = word[i]
    if ch in "aeiou":
        return False
    if ch == "y":
        return i == 0 or not _is_consonant(word, i - 1)
    return True


def _measure(stem: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in ``stem``."""
    m, prev_vowel = 0, False
    for i in range(len(stem)):
        cons = _is_consonant(stem, i)
        if cons and prev_vowel:
            m += 1
        prev_vowel = not cons
    return m


def _cvc(stem: str) -> bool:
    return (
        len(stem) >= 3
        and _is_consonant(stem, -3 % len(stem))
        and not _is_consonant(stem, len(stem) - 2)
        and _is_consonant(stem, len(stem) - 1)
        and stem[-1] not in "wxy"
    )


def stem(word: str) -> str:
    """Strip English plural and -ed/-ing endings (Porter step 1a/1b); other scripts pass as is."""
    if len(word) <= 3 or not word.isascii():
        return word
    if word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("ies"):
        word = word[:-3] + "y" if len(word) > 4 else word[:-1]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix):
            base = word[: -len(suffix)]
            if not any(ch in _VOWELS for ch in base) or len(base) < 2:
                break
            if base.endswith(("at", "bl", "iz")):
                word = base + "e"
            elif len(base) >= 2 and base[-1] == base[-2] and base[-1] not in "lsz":
                word = base[:-1]
            elif _measure(base) == 1 and _cvc(base):
                word = base + "e"
            else:
                word = base
            break
    return _drop_final_e(word)


def _drop_final_e(word: str) -> str:
    """Porter step 5a, so that "arrive" and "arrived" share a stem."""
    if word.endswith("e") and len(word) > 3:
        base = word[:-1]
        m = _measure(base)
        if m > 1 or (m == 1 and not _cvc(base)):
            return base
    return word


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` in any script, with "n't" turned into "not"."""
    text = text.replace("’", "'").lower()
    for short, full in _IRREGULAR_NEG:
        text = text.replace(short, full)
    text = _NEG.sub(" not", text)
    return [w.replace("'", "") for w in _WORD.findall(text)]


class Tokeniser:
    """Stems content words and remembers the commonest surface form of each stem for display."""

    def __init__(self) -> None:
        self._surface: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._cache: dict[str, str] = {}

    def tokens(self, text: str) -> list[str]:
        """Stems of the non-stop words of ``text``, in order."""
        out = []
        for w in words(text):
            if w in STOP_WORDS or len(w) < 2:
                continue
            s = self._cache.get(w)
            if s is None:
                s = self._cache[w] = stem(w)
            self._surface[s][w] += 1
            out.append(s)
        return out

    def unigrams_bigrams(self, text: str) -> list[str]:
        """Stems plus adjacent stem pairs, for describing themes by phrases."""
        toks = self.tokens(text)
        return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False) if a != b]

    def display(self, term: str) -> str:
        """Readable form of a stemmed term or phrase (the most frequent original word)."""
        parts = []
        for part in term.split(" "):
            seen = self._surface.get(part)
            parts.append(min(seen.items(), key=lambda kv: (-kv[1], kv[0]))[0] if seen else part)
        return " ".join(parts)


def tokens_of(texts: Iterable[str], tokeniser: Tokeniser) -> list[list[str]]:
    """Tokenise many texts with one shared tokeniser."""
    return [tokeniser.tokens(t) for t in texts]


_NON_SUBSTANTIVE = frozenset(
    """thanks thank you thankyou ty cheers ta no nope nah nothing none nil na n a not applicable
    comment comments ok okay yes yeah yep sure don t dont know dunno really to add else further
    more at all for asking us much many very that s it is that's nothing's no-one idk
    """.split()
)


def is_non_substantive(text: str) -> bool:
    """True for answers that say nothing to analyse: "thanks", "no", "n/a", "nothing", emoji.

    An answer is non-substantive when it has no letters at all (emoji, punctuation, numbers) or
    every word is a courtesy or a "nothing to add" word, also when typed run together
    ("NOTHINGTHANK YOU", "nothanks"). "Nothing, all good" is not caught: "good" is a view.
    """
    found = words(text.replace("/", " "))
    return not found or all(w in _NON_SUBSTANTIVE or _run_together(w) for w in found)


def _run_together(word: str) -> bool:
    """Whether ``word`` is two or more courtesy words typed without a space ("nothingthank").

    Each part must be at least two letters and one at least four, so a short word that merely
    starts like one ("note", "nana") is not taken apart.
    """
    if len(word) < 6:
        return False
    # ways[i]: the longest part used in some split of word[:i] into courtesy words (0: none).
    ways = [0] * (len(word) + 1)
    ways[0] = 1
    for end in range(2, len(word) + 1):
        for start in range(max(0, end - _LONGEST), end - 1):
            part = word[start:end]
            if ways[start] and part in _NON_SUBSTANTIVE:
                ways[end] = max(ways[end], ways[start], len(part))
    return ways[-1] >= 4


_LONGEST = max(len(w) for w in _NON_SUBSTANTIVE)
