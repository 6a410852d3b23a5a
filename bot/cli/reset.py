"""``listening-bot reset --rehearsal``: clear what console rehearsals stored.

Live data is never reset by this command: only participants marked as rehearsal participants
(and every row that refers to them) are deleted.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from bot.cli._common import (
    ConfigOption,
    _require_database,
    _run,
    _settings,
    _with_session,
    app,
    out,
)
from bot.errors import BotError


@app.command()
def reset(
    rehearsal: Annotated[
        bool,
        typer.Option("--rehearsal", help="Clear the data stored by console rehearsals."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = None,
) -> None:
    """Clear rehearsal data (run --console); live data is never touched."""
    from storage.rehearsal import clear_rehearsals, rehearsal_participants

    if not rehearsal:
        raise typer.BadParameter(
            "reset clears rehearsal data only; say so with --rehearsal.", param_hint="--rehearsal"
        )
    settings = _settings(config)
    _require_database(settings)
    found = _run(_with_session(settings, rehearsal_participants, view="all"))
    if not found:
        out.print("There is no rehearsal data to clear.")
        return
    people = f"{found} rehearsal participant{'s' if found != 1 else ''}"
    if not yes:
        if not sys.stdin.isatty():
            raise BotError(f"Clearing {people} needs confirmation; pass --yes to skip asking.")
        if not typer.confirm(f"Delete {people} and everything they stored?"):
            raise BotError("Nothing was deleted.")

    async def clear(session: Any) -> tuple[int, int]:
        return await clear_rehearsals(session)

    participants, answers = _run(_with_session(settings, clear, view="all"))
    out.print(f"Cleared {participants} rehearsal participant(s) and {answers} answer(s).")
