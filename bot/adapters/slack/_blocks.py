"""Outbound messages as Slack Block Kit: choices and scales become buttons, pressed ones freeze."""

from __future__ import annotations

import html
from typing import Any

from bot.adapters.console import render as render_plain
from bot.events import Outbound

ACTION_PREFIX = "choice-"
SECTION_LIMIT = 3000
BUTTON_LIMIT = 75
MAX_BUTTONS = 25


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """What the person typed: Slack sends ``&amp;``, ``&lt;`` and ``&gt;`` in message text."""
    return html.unescape(text)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(message: Outbound) -> tuple[str, list[dict[str, Any]] | None]:
    """Fallback text and blocks for one message; None blocks means plain text is enough.

    Multiple-choice questions stay text (people type the numbers, e.g. ``1,3``), because buttons
    would answer after the first press.
    """
    if not message.choices or message.multi or len(message.choices) > MAX_BUTTONS:
        return render_plain(message), None
    buttons = [
        {
            "type": "button",
            "action_id": f"{ACTION_PREFIX}{index}",
            "text": {"type": "plain_text", "text": _clip(choice.label, BUTTON_LIMIT)},
            "value": choice.value,
        }
        for index, choice in enumerate(message.choices)
    ]
    blocks = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _clip(escape(message.text), SECTION_LIMIT)},
        },
        {"type": "actions", "block_id": "choices", "elements": buttons},
    ]
    return message.text, blocks


def answered(blocks: list[dict[str, Any]] | None, label: str) -> list[dict[str, Any]]:
    """The same message with its buttons replaced by what was chosen, so it cannot be pressed
    again."""
    kept = [b for b in blocks or [] if b.get("type") != "actions"]
    kept.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"✓ You chose: *{escape(label)}*"}],
        }
    )
    return kept
