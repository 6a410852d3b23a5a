"""Masking what identifies a person in free text, for reports, theme quotes and redacted exports.

The consent text promises reports "without anything that identifies you", but people type names,
phone numbers and addresses into their answers. The database keeps every answer exactly as sent;
whatever leaves it for a reader goes through :class:`Redactor` first.

What is masked, in this order (each match becomes a placeholder):

1. email addresses → ``[email]``; links to a person's page (social profiles, ``t.me/…``) →
   ``[link]``;
2. phone numbers → ``[phone]``: UK shapes (``07…``, ``01…``, ``+44 …``) by pattern, and any
   number Google's libphonenumber (the ``phonenumbers`` package) finds valid;
3. UK postcodes (full ones: ``LS8 2AB``) → ``[postcode]``;
4. @mentions and Slack mentions (``<@U123>``) → ``[name]``;
5. names → ``[name]``: the participant's own platform first and last name (any case), every
   other participant's (capitalised), a capitalised word after a cue ("my son", "called",
   "Mrs"), and capitalised words in a list of first names shipped offline by the ``faker``
   package (many locales, minus words that are ordinary English), with a surname next to one.

It is pure (no I/O apart from reading the packaged name list once) and never raises on odd text.
It is a safety net, not a guarantee: a name that is also an ordinary word ("Rose", "Will") is
masked only after a cue or as someone's known name. ``bench/redaction_eval.py`` measures it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

NAME = "[name]"
PHONE = "[phone]"
EMAIL = "[email]"
POSTCODE = "[postcode]"
LINK = "[link]"

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PROFILE_LINK = re.compile(
    r"(?:https?://)?(?:www\.|m\.)?"
    r"(?:facebook\.com|fb\.com|instagram\.com|twitter\.com|x\.com|tiktok\.com|t\.me|"
    r"linkedin\.com/in|youtube\.com/@?|threads\.net|snapchat\.com/add|wa\.me)"
    r"/@?[\w.\-/?=&%]+",
    re.IGNORECASE,
)
# UK numbers as people type them: 07xxx xxxxxx, 0113 496 0000, (0113) 4960000, +44 (0)7…
_UK_PHONE = re.compile(
    r"(?<![\w+])(?:\+44\s?\(?0?\)?\s?|\(?0)(?:\d[\s\-)]{0,2}){9,10}(?!\d)",
)
_POSTCODE = re.compile(
    r"\b(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b", re.IGNORECASE
)
_SLACK_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
_AT_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_][A-Za-z0-9_.]{1,30}\b")
_WORD = re.compile(r"[^\W\d_][^\W\d_'’\-]*(?:[\-'’][^\W\d_]+)*")
# A capitalised word right after one of these is a name whether or not any list knows it.
_CUES = (
    r"(?:my|our|her|his|their|the)\s+(?:son|daughter|boy|girl|baby|child|kid|husband|wife|"
    r"partner|mum|mom|dad|sister|brother|nan|gran|grandson|granddaughter|friend|neighbour|"
    r"key ?worker|health ?visitor|social ?worker|manager|teacher|nephew|niece|ex)"
    r"|(?:called|named|name is|name's|names are|know as|known as|ask for|speak to|spoke to|"
    r"talk to|talked to|contact|thanks to|thank you to|love to)"
    r"|(?:mr|mrs|ms|miss|mx|dr|nurse|cllr|councillor|aunty|auntie|uncle)\.?"
)
_CUED_NAME = re.compile(
    rf"\b(?i:{_CUES})\s+(?P<name>[A-Z][^\W\d_]+(?:[\-'’][A-Z][^\W\d_]+)?"
    r"(?:\s+[A-Z][^\W\d_]+(?:[\-'’][A-Z][^\W\d_]+)?)?)"
)
_REPEATED_NAME = re.compile(r"\[name\](?:[ \t]+\[name\])+")
# Common English words that are also first names somewhere; they are masked only by a cue or
# as a participant's known name, never on the list's word alone.
_ORDINARY = frozenset(
    """
    able addition age aid ali all also am amber an and angel april are art as august autumn baby
    bay be bear bell belle berry best bill blue bo bond boy bright brook brooks buck bud by
    camp can candy cash chance charity cherry child christian church city clay cliff close cole
    coral crystal dale dash dawn day dean deal del dell do dot dove drew duke early east eden
    ever faith fan fay fern field fine fisher ford forest fox frank free gay gem general gift
    glad glen gold golden grace grant gray green grey grove guy hale hall happy harbour hart
    hazel heath heather hero hill holly honey hope hunter iris island ivy jade jay jewel joy
    june just king lake lane last law lee leaf liberty light lily long love lovely lucky ma
    major mark marsh mason may meadow merry mica miles mill miller mint misty moon more moss
    much my navy new nice noble north nova now oak ocean olive page palm park pat patience
    peace pearl penny pepper percy piper pink poppy post pray prince queen rain rainbow raven
    ray reed rich ring river robin rock rose rosy ruby rush sage saint sal sandy scout sea
    secret she shell sky slate snow so sol sonny sparrow spring star stone storm story sue
    summer sun sunny sunshine sweet taylor the thor tiny true trust unity unique us van violet
    wade walker ward west white will willow win winter wood woods worth wren young zen little
    children centre centres council group groups parents school family families staff
    monday tuesday wednesday thursday friday saturday sunday january february march
    june july september october november december leeds london england british
    """.split()
)
_TITLE_WORDS = frozenset({"i", "i'm", "im", "i've", "i'd", "i'll"})


@dataclass(frozen=True, slots=True)
class Span:
    """One masked stretch of text: where it is and which placeholder replaces it."""

    start: int
    end: int
    label: str


def _fold(word: str) -> str:
    """Case- and accent-insensitive form of a word, for comparing names."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=1)
def library_names() -> tuple[frozenset[str], frozenset[str]]:
    """First names and surnames from the ``faker`` package's person providers (folded).

    Read once, offline, from the package's own files. Without ``faker`` both sets are empty and
    masking falls back to patterns, cues and the participants' known names.
    """
    try:
        import importlib
        import pkgutil

        import faker.providers.person as people
    except ImportError:
        return frozenset(), frozenset()
    firsts: set[str] = set()
    lasts: set[str] = set()
    for module in pkgutil.iter_modules(people.__path__):
        try:
            provider = importlib.import_module(f"{people.__name__}.{module.name}").Provider
        except Exception:  # a locale that fails to import is simply not used
            continue
        for attribute, values in vars(provider).items():
            if "first_names" in attribute:
                into = firsts
            elif "last_names" in attribute:
                into = lasts
            else:
                continue
            if isinstance(values, dict):
                values = list(values)
            if not isinstance(values, (list, tuple, set, frozenset)):
                continue
            for value in values:
                if isinstance(value, str) and _is_plain_name(value):
                    into.add(_fold(value))
    return frozenset(firsts - _ORDINARY), frozenset(lasts - _ORDINARY)


def _is_plain_name(value: str) -> bool:
    return len(value) >= 3 and value.isalpha() and value[:1].isupper() and value.isascii()


class Redactor:
    """Masks identifying details; build one per report or export and reuse it.

    Args:
        known_names: every participant's platform first and last names; a capitalised word
            equal to one of them is masked in anyone's answer.
        use_library: also mask capitalised words found in the packaged first-name list.
    """

    def __init__(self, known_names: Iterable[str] = (), *, use_library: bool = True) -> None:
        self._known = frozenset(
            _fold(part)
            for name in known_names
            for part in _WORD.findall(name or "")
            if len(part) >= 2 and _fold(part) not in _TITLE_WORDS
        )
        firsts, lasts = library_names() if use_library else (frozenset(), frozenset())
        self._firsts = firsts
        self._lasts = lasts

    def is_name(self, word: str) -> bool:
        """Whether one word (a theme keyword, any case) is a known or listed first name."""
        folded = _fold(word.strip())
        return folded in self._known or folded in self._firsts

    def mask(self, text: str, own_names: Iterable[str] = ()) -> str:
        """``text`` with every identifying detail replaced by its placeholder.

        Args:
            own_names: the author's own platform first and last name, masked in any case.
        """
        if not text:
            return text
        spans = self.spans(text, own_names)
        if not spans:
            return text
        pieces: list[str] = []
        at = 0
        for span in spans:
            pieces.append(text[at : span.start])
            pieces.append(span.label)
            at = span.end
        pieces.append(text[at:])
        return _REPEATED_NAME.sub(NAME, "".join(pieces))

    def spans(self, text: str, own_names: Iterable[str] = ()) -> list[Span]:
        """Where :meth:`mask` would replace, in order and never overlapping."""
        found: list[Span] = []
        taken = bytearray(len(text))

        def add(start: int, end: int, label: str) -> None:
            if start >= end or any(taken[start:end]):
                return
            taken[start:end] = b"\x01" * (end - start)
            found.append(Span(start, end, label))

        for match in _EMAIL.finditer(text):
            add(match.start(), match.end(), EMAIL)
        for match in _PROFILE_LINK.finditer(text):
            add(match.start(), match.end(), LINK)
        for start, end in _phone_spans(text):
            add(start, end, PHONE)
        for match in _POSTCODE.finditer(text):
            if any(c.isdigit() for c in match.group()) and _looks_like_postcode(match.group()):
                add(match.start(), match.end(), POSTCODE)
        for match in _SLACK_MENTION.finditer(text):
            add(match.start(), match.end(), NAME)
        for match in _AT_HANDLE.finditer(text):
            add(match.start(), match.end(), NAME)
        for match in _CUED_NAME.finditer(text):
            start = match.start("name")
            for word in _WORD.finditer(match.group("name")):
                if _fold(word.group()) not in _ORDINARY or _fold(word.group()) in self._known:
                    add(start + word.start(), start + word.end(), NAME)
                else:
                    break
        own = {
            _fold(part) for name in own_names for part in _WORD.findall(name or "") if len(part) > 1
        }
        words = [_Word.of(match) for match in _WORD.finditer(text)]
        for index, word in enumerate(words):
            if word.folded in own or (word.capital and word.folded in self._known):
                add(word.start, word.end, NAME)
            elif (
                word.capital
                and word.first_part in self._firsts
                and not _after_saint(text, word.start)
                and not _shouting(text)
            ):
                add(word.start, word.end, NAME)
                following = words[index + 1] if index + 1 < len(words) else None
                if (
                    following is not None
                    and following.capital
                    and following.folded in self._lasts | self._firsts
                    and text[word.end : following.start].strip() == ""
                ):
                    add(following.start, following.end, NAME)
        found.sort(key=lambda s: s.start)
        return found


_POSSESSIVE = re.compile(r"['’]s?$")


@dataclass(frozen=True, slots=True)
class _Word:
    """A word of the text as names are looked up: without a possessive ``'s``, folded."""

    start: int
    end: int
    folded: str
    first_part: str
    capital: bool

    @classmethod
    def of(cls, match: re.Match[str]) -> _Word:
        raw = match.group()
        base = _POSSESSIVE.sub("", raw) or raw
        folded = _fold(base)
        return cls(
            match.start(),
            match.start() + len(base),
            folded,
            folded.split("-", 1)[0],
            base[:1].isupper(),
        )


_SAINT = re.compile(r"\b(?:St|Saint)\.?\s+$")


def _after_saint(text: str, start: int) -> bool:
    """ "St James's", "St Mary's": a church, school or hospital, not a person."""
    return bool(_SAINT.search(text[max(0, start - 8) : start]))


def _shouting(text: str) -> bool:
    """ALL CAPS text capitalises every word; the name list would mask half of it."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) > 12 and sum(c.isupper() for c in letters) > 0.8 * len(letters)


def _looks_like_postcode(value: str) -> bool:
    """A full postcode has its inward part: a digit then two letters (``2AB``)."""
    compact = value.replace(" ", "")
    return len(compact) >= 5 and compact[-3].isdigit() and compact[-2:].isalpha()


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _UK_PHONE.finditer(text):
        digits = sum(c.isdigit() for c in match.group())
        if 10 <= digits <= 12:
            trailing = len(match.group()) - len(match.group().rstrip(" -)"))
            spans.append((match.start(), match.end() - trailing))
    try:
        from phonenumbers import Leniency, PhoneNumberMatcher
    except ImportError:  # the pattern above still covers UK numbers
        return spans
    try:
        for found in PhoneNumberMatcher(text, "GB", leniency=Leniency.VALID):
            spans.append((found.start, found.end))
    except Exception:  # libphonenumber on odd input: the UK pattern still applies
        pass
    return spans
