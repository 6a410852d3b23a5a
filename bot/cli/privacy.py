"""``listening-bot forget``: erase one participant everywhere, after asking.

The participant is named by their reference, the pseudonym (``P-…``) that ``/mydata`` shows
them and exports carry, so a person can quote it in an emailed erasure request. Erasure cannot
be undone, so the command asks first; ``--yes`` is for scripts. With nobody to ask (standard
input closed or empty) and no ``--yes`` it erases nothing and exits 1.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from bot.cli._common import (
    ConfigOption,
    _prepare_database,
    _run,
    _settings,
    _with_session,
    app,
    err,
    out,
)
from bot.errors import BotError
from bot.flows.answers import parse_yesno


def _confirmed(reference: str, answers: int) -> bool:
    """Ask on the terminal (or read a piped answer); refuse when there is nobody to ask.

    Raises:
        BotError: standard input is closed or empty (a script without ``--yes``).
    """
    stdin = sys.stdin
    if stdin is not None and stdin.isatty():
        err.print(
            f"Erase {reference} and their {answers} answer(s) everywhere? "
            "This cannot be undone. Type yes to erase: ",
            end="",
            markup=False,
        )
    line = stdin.readline() if stdin is not None else ""
    if not line:
        raise BotError(
            "Nothing was erased: there is nobody to confirm, so add --yes to erase without asking."
        )
    return parse_yesno(line) is True


@app.command()
def forget(
    participant: Annotated[
        str,
        typer.Argument(
            help="The participant's reference (pseudonym), e.g. P-1a2b3c4d5e, as /mydata shows it."
        ),
    ],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Erase without asking (for scripts).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Erase one participant's data everywhere (answers, enrolments, platform ids)."""
    from bot.privacy import audit
    from storage.personal_data import normalise_reference
    from storage.repositories import ParticipantRepo, ResponseRepo

    settings = _settings(config)
    reference = normalise_reference(participant)
    _prepare_database(settings)

    async def answers_of(session: Any) -> int:
        found = await ParticipantRepo(session).by_pseudonym(reference)
        if found is None:
            raise BotError(f"There is no participant {reference!r}.")
        return len(await ResponseRepo(session).rows(participant_id=found.id))

    held = _run(_with_session(settings, answers_of, view="all"))
    if not yes and not _confirmed(reference, held):
        raise BotError("Nothing was erased.")

    async def erase(session: Any) -> int:
        repo = ParticipantRepo(session)
        found = await repo.by_pseudonym(reference)
        if found is None:
            raise BotError(f"There is no participant {reference!r}.")
        answers = await repo.erase(found.id)
        await audit.record(session, "forget", answers=answers)
        return answers

    # Erasure reaches rehearsal participants too (the view "all" hides nothing).
    erased = _run(_with_session(settings, erase, view="all"))
    out.print(f"Erased {reference} and {erased} answer(s).", markup=False)
