"""``listening-bot forget``: erase one participant everywhere."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bot.cli._common import (
    ConfigOption,
    _prepare_database,
    _run,
    _settings,
    _with_session,
    app,
    out,
)
from bot.errors import BotError


@app.command()
def forget(
    participant: Annotated[
        str, typer.Argument(help="The participant's pseudonym, e.g. P-1a2b3c4d5e.")
    ],
    config: ConfigOption = None,
) -> None:
    """Erase one participant's data everywhere (answers, enrolments, platform ids)."""
    from bot.privacy import audit
    from storage.personal_data import normalise_reference
    from storage.repositories import ParticipantRepo

    settings = _settings(config)
    _prepare_database(settings)

    async def erase(session: Any) -> int:
        repo = ParticipantRepo(session)
        found = await repo.by_pseudonym(normalise_reference(participant))
        if found is None:
            raise BotError(f"There is no participant {participant!r}.")
        answers = await repo.erase(found.id)
        await audit.record(session, "forget", answers=answers)
        return answers

    # Erasure reaches rehearsal participants too (the view "all" hides nothing).
    erased = _run(_with_session(settings, erase, view="all"))
    out.print(f"Erased {participant} and {erased} answer(s).")
