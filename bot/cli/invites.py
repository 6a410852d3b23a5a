"""``listening-bot invite``: invite codes and deep links."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli._common import (
    ConfigOption,
    _prepare_database,
    _run,
    _settings,
    app,
    out,
)


@app.command()
def invite(
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign id.")],
    group: Annotated[str, typer.Option("--group", help="Group the invitees join as.")],
    count: Annotated[int, typer.Option("--count", min=1, max=10000, help="How many codes.")] = 1,
    max_uses: Annotated[
        int | None, typer.Option("--max-uses", min=1, help="Uses per code (default: unlimited).")
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime, e.g. 14d or P2W.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print invite codes and their Telegram deep links."""
    from bot.invites import create_invites

    settings = _settings(config)
    _prepare_database(settings)
    codes, username = _run(create_invites(settings, campaign, group, count, max_uses, expires))
    for code in codes:
        link = (
            f"https://t.me/{username}?start={code}" if username else "(no Telegram bot configured)"
        )
        out.print(f"{code}\t{link}")
