"""Read a person's reply to one structured step: button values, numbers, option text or words."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.config import Step
from bot.events import Choice
from bot.flows import messages as say
from bot.flows.intents import is_blank
from bot.flows.messages import N_
from bot.localized import Localized

_YES = {"yes", "y", "yeah", "yep", "ok", "okay", "sure", "agree", "i agree", "👍"}
_NO = {"no", "n", "nope", "no thanks", "disagree", "👎"}


class InvalidAnswer(ValueError):
    """The reply does not fit the step; the message is the polite re-ask.

    ``str(exc)`` says what would fit, for when it stands alone (an edit that is refused).
    ``short`` only says that it did not fit, for when the question is asked again right after
    with its buttons or numbered options, so the hint is not said twice. Both are gettext
    msgids (English); :meth:`text` gives either in a language, with ``params`` filled in.
    """

    def __init__(self, message: str, short: str | None = None, **params: object) -> None:
        super().__init__(message.format(**params))
        self.msgid = message
        self.short = short or message
        self.params = params

    def text(self, gettext: Callable[[str], str], *, short: bool = False) -> str:
        """The message (or the short one) translated by ``gettext``, placeholders filled in."""
        return gettext(self.short if short else self.msgid).format(**self.params)


# Multi-choice options that mean "none of the others" unless the step says otherwise with
# ``exclusive:`` (an empty list turns the detection off).
EXCLUSIVE_BY_DEFAULT = frozenset(
    {"none", "none of these", "none of the above", "not applicable", "n/a", "prefer not to say"}
)


def normalise(text: str) -> str:
    return " ".join(text.strip().lower().rstrip(".!").split())


def exclusive_options(step: Step) -> tuple[str, ...]:
    """The options of a multi-choice that cannot be picked together with any other.

    ``exclusive:`` on the step names them; without it, an option such as "None of these",
    "None", "Not applicable" or "Prefer not to say" is exclusive (see ``EXCLUSIVE_BY_DEFAULT``).
    """
    if step.type != "multi":
        return ()
    if step.exclusive is not None:
        wanted = {normalise(option) for option in step.exclusive}
        return tuple(o for o in step.options if normalise(o) in wanted)
    return tuple(o for o in step.options if normalise(o) in EXCLUSIVE_BY_DEFAULT)


def parse_yesno(text: str) -> bool | None:
    """Return True/False for yes/no words, None when it is neither."""
    word = normalise(text)
    if word in _YES:
        return True
    if word in _NO:
        return False
    return None


def step_choices(
    step: Step, lang: str | None = None, *, yes_no: tuple[Choice, ...] | None = None
) -> tuple[Choice, ...]:
    """The buttons a step offers (empty for free text), labelled in ``lang``.

    A button's value never depends on the language (an option's number, a scale point,
    ``yes``/``no``), so an answer is stored the same whatever language it was given in.
    """
    if step.type in ("choice", "multi"):
        return tuple(
            Choice(option.get(lang), str(i)) for i, option in enumerate(step.options, start=1)
        )
    if step.type == "scale":
        return tuple(Choice(str(n), str(n)) for n in range(step.min, step.max + 1))
    if step.type == "yesno":
        return yes_no or (Choice("Yes", "yes"), Choice("No", "no"))
    return ()


def _texts(text: str) -> tuple[str, ...]:
    """A config text and every translation of it."""
    if isinstance(text, Localized):
        return (text, *text.translations.values())
    return (text,)


def _match_option(step: Step, token: str) -> str | None:
    """The option (its stored, default-language text) a reply names in any language."""
    token = normalise(token)
    if token.isdecimal() and 1 <= int(token) <= len(step.options):
        return str(step.options[int(token) - 1])
    for option in step.options:
        if any(normalise(text) == token for text in _texts(option)):
            return str(option)
    return None


def parse_answer(step: Step, text: str) -> str:
    """Turn a reply into the stored answer for ``step``.

    Returns:
        The answer text: the option for choices, ``"A; B"`` for multi, the number for scales,
        ``yes``/``no`` for yes/no questions, and the text itself (as sent) for free text.

    Raises:
        InvalidAnswer: with a friendly sentence saying what would fit.
    """
    if step.type == "text":
        if is_blank(text):
            raise InvalidAnswer(N_("I didn't catch an answer there. Please type a few words."))
        return text
    if step.type == "yesno":
        value = parse_yesno(text)
        if value is None:
            raise InvalidAnswer(
                say.PLEASE_YES_NO, short=N_("Sorry, I didn't understand that answer.")
            )
        return "yes" if value else "no"
    if step.type == "scale":
        token = normalise(text)
        for point, label in step.labels.items():
            if any(normalise(text) == token for text in _texts(label)):
                return str(point)
        if re.fullmatch(r"[+-]?\d+", token) and step.min <= int(token) <= step.max:
            return str(int(token))
        raise InvalidAnswer(
            say.PICK_NUMBER,
            short=N_("Sorry, that isn't one of the points on the scale."),
            low=step.min,
            high=step.max,
        )
    if step.type == "choice":
        option = _match_option(step, text)
        if option is None:
            raise InvalidAnswer(
                say.PICK_OPTION,
                short=N_("Sorry, I couldn't match that to one of the options."),
                count=len(step.options),
            )
        return option
    tokens = [t for t in re.split(r"[,;\n]+|\s+(?=\d)", text) if t.strip()]
    picked: list[str] = []
    for token in tokens:
        option = _match_option(step, token)
        if option is None:
            raise InvalidAnswer(
                say.PICK_OPTIONS, short=N_("Sorry, I couldn't match that to the options.")
            )
        if option not in picked:
            picked.append(option)
    if not picked:
        raise InvalidAnswer(
            say.PICK_AT_LEAST_ONE, short=N_("Sorry, I didn't see any of the options there.")
        )
    alone = [option for option in exclusive_options(step) if option in picked]
    if alone and len(picked) > 1:
        raise InvalidAnswer(say.NOT_COMBINED, option=alone[0])
    return "; ".join(o for o in step.options if o in picked)
