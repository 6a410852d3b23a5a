"""The words of the question an answer was given to, for people (``/mydata``) and reports."""

from __future__ import annotations

from bot.config import Settings

UNPROMPTED = "A message you sent when no question was open"
ANYTHING_ELSE = "Anything else you added"


def question_text(settings: Settings, flow_id: str, step_id: str) -> str:
    """The question as it was asked, or a plain description when there was no question.

    Open conversations store their answers under ``opening``, ``probe-N`` and ``more``; a
    comment sent when nothing was open is ``unprompted``. An id the config no longer knows
    is shown as ``flow/step`` rather than hidden.
    """
    if step_id == "unprompted":
        return UNPROMPTED
    flow = settings.flow_by_id.get(flow_id)
    if flow is None:
        return f"{flow_id}/{step_id}"
    if flow.kind == "open":
        if step_id == "opening" and flow.opening:
            return " ".join(flow.opening.split())
        if step_id.startswith("probe-") and step_id[6:].isdigit():
            index = int(step_id[6:]) - 1
            if 0 <= index < len(flow.probes):
                return " ".join(flow.probes[index].split())
        if step_id == "more":
            return ANYTHING_ELSE
    for step in flow.steps:
        if step.id == step_id:
            return " ".join(step.ask.split())
    return f"{flow_id}/{step_id}"


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
