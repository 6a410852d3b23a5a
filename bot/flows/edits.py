"""An edited message is an answer given again: it passes the same checks as the first time.

Pure, like the engine: the dispatcher looks up what the edited message was stored as, asks
:func:`check_edit`, and either replaces the stored answer or leaves it and sends the hint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.events import Outbound
from bot.flows import messages as say
from bot.flows.answers import InvalidAnswer, parse_answer
from bot.flows.intents import is_blank
from bot.flows.questions import shown_answer

STRUCTURED_KINDS = frozenset({"text", "choice", "multi", "scale", "yesno"})
"""Kinds stored for a structured step (the step's type); they are checked against that step."""
FREE_KINDS = frozenset({"open", "unprompted", "import"})
"""Kinds that take any text: an open conversation, a message with no question open."""


@dataclass(frozen=True, slots=True)
class EditCheck:
    """The answer to store instead (``answer``), or None and what to tell the person."""

    answer: str | None
    replies: tuple[Outbound, ...] = ()


def check_edit(
    settings: Settings,
    flow_id: str,
    step_id: str,
    kind: str,
    text: str,
    previous: str,
    *,
    lang: str | None = None,
    gettext: Callable[[str], str] = str,
) -> EditCheck:
    """Decide what an edit of a stored answer becomes.

    Args:
        settings: the campaign file (for the step's type, options and range).
        flow_id, step_id, kind: what the edited message was stored as.
        text: the edited text, as sent.
        previous: the answer stored now, kept when the edit is refused.
        lang, gettext: the language the question was asked in, and its catalog's ``gettext``
            (the caller reads the catalog, so this stays free of I/O): the hint is said in it.

    Returns:
        The normalised answer (a scale's number, a choice's option) when the edit fits the
        step; otherwise no answer and the same hint the person got for a first answer that did
        not fit, saying the earlier answer is kept.
    """
    if is_blank(text):  # spaces or zero-width characters only: the answer stays
        return EditCheck(None)
    if kind in FREE_KINDS:
        return EditCheck(text)
    if kind not in STRUCTURED_KINDS:
        return EditCheck(None)  # a voice note or a file: a text edit cannot replace it
    flow = settings.flow_by_id.get(flow_id)
    step = next((s for s in flow.steps if s.id == step_id), None) if flow else None
    if step is None:
        return EditCheck(None)  # the question is no longer in the config: nothing to check with
    try:
        return EditCheck(parse_answer(step, text))
    except InvalidAnswer as exc:
        hint = gettext(say.EDIT_REFUSED).format(
            hint=exc.text(gettext),
            ask=step.ask.get(lang),
            previous=shown_answer(step, previous, lang, gettext),
        )
        return EditCheck(None, (Outbound(hint, lang=lang),))
