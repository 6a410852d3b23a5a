"""``listening-bot run``: start the adapters, the scheduler and the flows."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli._common import (
    ConfigOption,
    _prepare_database,
    _run,
    _settings,
    app,
)


@app.command()
def run(
    config: ConfigOption = None,
    console: Annotated[
        bool, typer.Option("--console", help="Chat in the terminal as one participant.")
    ] = False,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang", help="Rehearse in this language (console only; default: the first)."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what the bot does.")
    ] = False,
) -> None:
    """Start the bot: every adapter the config enables, or a rehearsal in the terminal.

    A console run is a rehearsal: what it stores is kept apart from live data (see
    ``reset --rehearsal`` and ``--include-rehearsal``).
    """
    from bot.app import BotApp
    from bot.errors import BotError
    from bot.logs import configure
    from bot.translations import language_problem

    settings = _settings(config)
    if lang is not None and not console:
        raise BotError("--lang is for console rehearsals; people choose their own language.")
    for code in [lang] if lang is not None else settings.languages:
        problem = language_problem(settings, code)
        if problem:
            raise BotError(problem)
    configure(settings, verbose=verbose)
    _prepare_database(settings)

    async def main() -> None:
        async with BotApp(settings, console=console, console_language=lang) as bot:
            await bot.run()

    _run(main())
