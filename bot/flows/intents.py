"""What a message means before it is an answer: blank or not, and plain-word commands.

People do not type slashes. "Stop", "STOP!", "unsubscribe" and "skip" mean what they say, and a
message that shows nothing on screen (zero-width characters, variation selectors, spaces of any
kind) is not an answer, however many bytes it has. The engine asks these questions here, on
the text *as seen*; what it stores is always the text exactly as sent.
"""

from __future__ import annotations

import unicodedata

# Words that stop a person's participation at once, whatever the conversation is doing.
STOP_WORDS = frozenset({"stop", "unsubscribe"})
SKIP_WORDS = frozenset({"skip"})

# Characters that render as nothing (or as blank space) but are not in Unicode's "format" or
# "separator" categories: Hangul fillers, the braille blank and the Mongolian vowel separator.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


def _invisible(char: str) -> bool:
    if char.isspace() or char in _INVISIBLE_LETTERS:
        return True
    category = unicodedata.category(char)
    # Cf: zero-width space/joiners, BOM, word joiner, bidi marks, tag characters.
    # Zs/Zl/Zp: every kind of space. Mn/Me alone (no base letter): variation selectors and
    # combining marks with nothing to combine with.
    return category in ("Cf", "Zs", "Zl", "Zp", "Cc", "Mn", "Me")


def visible_text(text: str) -> str:
    """The text with every invisible character removed (for deciding meaning, never storing)."""
    return "".join(char for char in text if not _invisible(char))


def is_blank(text: str) -> bool:
    """True when the message would show nothing on screen.

    A lone combining mark or variation selector counts as blank, but a mark on a letter or an
    emoji with its selector does not (the visible base character remains).
    """
    return not visible_text(text)


def plain_word(text: str) -> str:
    """The message as one lower-case word or phrase, invisible characters and end marks gone.

    ``"  STOP! "`` and ``"s\u200btop"`` both give ``"stop"``.
    """
    cleaned = "".join(" " if char.isspace() else char for char in text if not _skippable(char))
    return " ".join(cleaned.split()).lower().strip(".!?…")


def _skippable(char: str) -> bool:
    return not char.isspace() and _invisible(char)


def is_stop(text: str) -> bool:
    """A plain "stop" or "unsubscribe" (any case, trimmed, with or without a slash)."""
    word = plain_word(text)
    return word.lstrip("/") in STOP_WORDS


def is_skip_word(text: str) -> bool:
    """A plain "skip" without a slash (``/skip`` is an ordinary command)."""
    return plain_word(text) in SKIP_WORDS
