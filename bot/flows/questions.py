"""The words of the question an answer was given to, for people (``/mydata``) and reports."""

from __future__ import annotations

from collections.abc import Callable

from bot.config import Settings, Step
from bot.flows.messages import ANYTHING_ELSE, NO, UNPROMPTED, YES

__all__ = ["ANYTHING_ELSE", "UNPROMPTED", "answer_text", "clip", "question_text", "shown_answer"]


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


def shown_answer(
    step: Step, answer: str, lang: str | None, gettext: Callable[[str], str] = str
) -> str:
    """A stored answer as the person saw it: options in their language, their yes/no word.

    Options are stored in the default language (so every language counts together); a person
    who answered in Polish is shown "Co miesiąc", not "Monthly".
    """
    if step.type == "yesno" and answer in ("yes", "no"):
        return gettext(YES if answer == "yes" else NO)
    if not step.options:
        return answer
    by_value = {str(option): option.get(lang) for option in step.options}
    return "; ".join(by_value.get(part, part) for part in answer.split("; "))


def answer_text(
    settings: Settings,
    flow_id: str,
    step_id: str,
    answer: str,
    lang: str | None = None,
    gettext: Callable[[str], str] = str,
) -> str:
    """:func:`shown_answer` for a stored row (free text and unknown steps as stored)."""
    flow = settings.flow_by_id.get(flow_id)
    step = next((s for s in flow.steps if s.id == step_id), None) if flow else None
    return answer if step is None else shown_answer(step, answer, lang, gettext)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
