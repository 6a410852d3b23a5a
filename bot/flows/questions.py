"""The words of the question an answer was given to, for people (``/mydata``) and reports."""

from __future__ import annotations

from collections.abc import Callable

from bot.config import Settings
from bot.flows.messages import ANYTHING_ELSE, UNPROMPTED

__all__ = ["ANYTHING_ELSE", "UNPROMPTED", "clip", "question_text"]


def question_text(
    settings: Settings,
    flow_id: str,
    step_id: str,
    lang: str | None = None,
    gettext: Callable[[str], str] = str,
) -> str:
    """The question as it was asked, or a plain description when there was no question.

    Open conversations store their answers under ``opening``, ``probe-N`` and ``more``; a
    comment sent when nothing was open is ``unprompted``. An id the config no longer knows
    is shown as ``flow/step`` rather than hidden. ``lang`` picks the question's translation
    and ``gettext`` the bot's own descriptions (both the default language when not given).
    """
    if step_id == "unprompted":
        return gettext(UNPROMPTED)
    flow = settings.flow_by_id.get(flow_id)
    if flow is None:
        return f"{flow_id}/{step_id}"
    if flow.kind == "open":
        if step_id == "opening" and flow.opening:
            return " ".join(flow.opening.get(lang).split())
        if step_id.startswith("probe-") and step_id[6:].isdigit():
            index = int(step_id[6:]) - 1
            if 0 <= index < len(flow.probes):
                return " ".join(flow.probes[index].get(lang).split())
        if step_id == "more":
            return gettext(ANYTHING_ELSE)
    for step in flow.steps:
        if step.id == step_id:
            return " ".join(step.ask.get(lang).split())
    return f"{flow_id}/{step_id}"


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
