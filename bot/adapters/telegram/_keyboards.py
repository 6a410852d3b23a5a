"""Inline keyboards: choices as buttons, multi-choice toggles, and the callback data they carry.

Callback data (at most 64 bytes) is self-describing so a press can be understood even after a
restart, when nothing is remembered in memory:

``v:<value>``  a choice, carrying its value;
``n:<k>``      a choice whose value is too long for callback data, by 1-based position;
``t:<i>``      toggle option ``i`` (0-based) of a multi-choice keyboard;
``d``          the multi-choice Done button;
``x``          an already-answered button that does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.events import Choice, Outbound
from bot.flows import messages as say
from bot.flows.catalogs import said

MAX_CALLBACK_BYTES = 64
CHECKED, UNCHECKED = "☑ ", "☐ "
DONE_LABEL = say.DONE_BUTTON
"""English; a message in another language gets the word of its catalog (``Gotowe ✓``)."""
NOOP = "x"


@dataclass(frozen=True, slots=True)
class Press:
    """A decoded button press."""

    action: str  # "value" | "position" | "toggle" | "done" | "noop" | "unknown"
    value: str = ""
    index: int = -1


def choice_data(choice: Choice, position: int) -> str:
    data = "v:" + choice.value
    if len(data.encode("utf-8")) <= MAX_CALLBACK_BYTES:
        return data
    return f"n:{position}"


def decode(data: str | None) -> Press:
    """Read callback data written by this module; anything else is ``unknown``."""
    if not data:
        return Press("unknown")
    if data == NOOP:
        return Press("noop")
    if data == "d":
        return Press("done")
    head, _, rest = data.partition(":")
    if head == "v":
        return Press("value", rest)
    if head in ("n", "t") and rest.isdigit():
        return Press("position" if head == "n" else "toggle", index=int(rest))
    return Press("unknown")


def _compact(choices: tuple[Choice, ...]) -> bool:
    """Short labels (a scale, yes/no) fit side by side on one row."""
    return len(choices) <= 8 and all(len(c.label) <= 4 for c in choices)


def keyboard_for(message: Outbound) -> InlineKeyboardMarkup | None:
    """The keyboard for a message's choices, or None for free text."""
    if not message.choices:
        return None
    if message.multi:
        done = said(say.DONE_BUTTON, message.lang)
        return multi_keyboard([c.label for c in message.choices], set(), done)
    buttons = [
        InlineKeyboardButton(c.label, callback_data=choice_data(c, i))
        for i, c in enumerate(message.choices, start=1)
    ]
    if _compact(message.choices) or (
        len(buttons) == 2 and all(len(c.label) <= 12 for c in message.choices)
    ):
        return InlineKeyboardMarkup([buttons])
    return InlineKeyboardMarkup([[b] for b in buttons])


def multi_keyboard(
    labels: list[str], selected: set[int], done: str = DONE_LABEL
) -> InlineKeyboardMarkup:
    """Toggle buttons (☑/☐) for every option, then Done (``done``: its word)."""
    rows = [
        [
            InlineKeyboardButton(
                (CHECKED if i in selected else UNCHECKED) + label, callback_data=f"t:{i}"
            )
        ]
        for i, label in enumerate(labels)
    ]
    rows.append([InlineKeyboardButton(done, callback_data="d")])
    return InlineKeyboardMarkup(rows)


def answered_keyboard(labels: list[str]) -> InlineKeyboardMarkup:
    """What a keyboard turns into once answered: the choice(s) shown, pressing does nothing."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("✓ " + label, callback_data=NOOP)] for label in labels]
    )


def read_multi(markup: InlineKeyboardMarkup | None) -> tuple[list[str], set[int]]:
    """Labels and ticked options of a multi-choice keyboard as Telegram shows it now."""
    labels: list[str] = []
    selected: set[int] = set()
    if markup is None:
        return labels, selected
    for row in markup.inline_keyboard:
        for button in row:
            press = decode(button.callback_data if isinstance(button.callback_data, str) else None)
            if press.action != "toggle":
                continue
            text = button.text
            if text.startswith(CHECKED):
                selected.add(press.index)
                text = text[len(CHECKED) :]
            elif text.startswith(UNCHECKED):
                text = text[len(UNCHECKED) :]
            while len(labels) <= press.index:
                labels.append("")
            labels[press.index] = text
    return labels, selected


def label_of(markup: InlineKeyboardMarkup | None, data: str) -> str | None:
    """The text of the button that carries ``data``."""
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return None
