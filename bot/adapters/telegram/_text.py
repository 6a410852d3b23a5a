"""Splitting long text under Telegram's message limit without losing a character."""

from __future__ import annotations

MAX_MESSAGE = 4096
"""Telegram's limit for one message, counted in UTF-16 code units (as the Bot API counts)."""


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP (emoji) count twice."""
    return len(text.encode("utf-16-le")) // 2


def _prefix_fitting(text: str, limit: int) -> int:
    """The number of characters of ``text`` whose UTF-16 length is at most ``limit``."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut ``text`` into pieces Telegram accepts, preferring paragraph, line and word breaks.

    Every character is kept, in order: joining the pieces gives back the text (the break itself,
    a newline or space, stays at the end of the earlier piece).
    """
    if utf16_len(text) <= limit:
        return [text]
    pieces: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        cut = max(1, _prefix_fitting(rest, limit))
        window = rest[:cut]
        for separator in ("\n\n", "\n", " "):
            found = window.rfind(separator)
            if found >= cut // 2:
                cut = found + len(separator)
                break
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces
