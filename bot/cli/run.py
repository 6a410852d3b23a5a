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
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what the bot does.")
    ] = False,
) -> None:
    """Start the bot: every adapter the config enables, or a rehearsal in the terminal.

    A console run is a rehearsal: what it stores is kept apart from live data (see
    ``reset --rehearsal`` and ``--include-rehearsal``).
    """
    from bot.app import BotApp
    from bot.logs import configure

    settings = _settings(config)
    configure(settings, verbose=verbose)
    _prepare_database(settings)

    async def main() -> None:
        async with BotApp(settings, console=console) as bot:
            await bot.run()

    _run(main())
