"""``listening-bot invite`` and ``invites``: make, print, list and revoke invite codes."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from bot.cli._common import (
    CampaignOption,
    ConfigOption,
    _prepare_database,
    _require_database,
    _run,
    _settings,
    app,
    err,
    out,
)
from bot.config import Settings
from bot.errors import BotError


@app.command()
def invite(
    campaign: Annotated[str | None, typer.Option("--campaign", help="Campaign id.")] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="Group the invitees join as.")
    ] = None,
    count: Annotated[int, typer.Option("--count", min=1, max=10000, help="How many codes.")] = 1,
    max_uses: Annotated[
        int | None, typer.Option("--max-uses", min=1, help="Uses per code (default: unlimited).")
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime, e.g. 14d or P2W.")
    ] = None,
    qr: Annotated[
        Path | None,
        typer.Option(
            "--qr",
            metavar="DIR",
            help="Folder to write a QR code (PNG and SVG) per deep link into.",
        ),
    ] = None,
    revoke: Annotated[
        str | None,
        typer.Option(
            "--revoke", metavar="CODE", help="Stop this code from enrolling anyone (any case)."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print invite codes and their Telegram deep links (or revoke one with --revoke)."""
    settings = _settings(config)
    if revoke is not None:
        _revoke(settings, revoke)
        return
    if not campaign or not group:
        raise typer.BadParameter("--campaign and --group are needed to make codes")
    from bot.invites import create_invites, deep_link, display, write_qr_codes

    _prepare_database(settings)
    if qr is not None and not settings.telegram.enabled:
        raise BotError("--qr needs the Telegram bot (telegram.token) to build the deep links.")
    codes, username = _run(create_invites(settings, campaign, group, count, max_uses, expires))
    for code in codes:
        link = deep_link(username, code) if username else "(no Telegram bot configured)"
        typer.echo(f"{display(code)}\t{link}")  # a real tab, for scripts and mail merges
    if qr is not None and username:
        written = write_qr_codes(qr, [(code, deep_link(username, code)) for code in codes])
        err.print(f"Wrote {len(written)} QR code file(s) (PNG and SVG) to {qr}.")


def _revoke(settings: Settings, typed: str) -> None:
    from bot.invites import display, revoke_invite

    _prepare_database(settings)
    revoked = _run(revoke_invite(settings, typed))
    out.print(
        f"Revoked {display(revoked.code)} ({revoked.campaign_id}, {revoked.group_id}); "
        "people who already joined with it stay enrolled."
    )


@app.command("invites")
def list_invites(campaign: CampaignOption = None, config: ConfigOption = None) -> None:
    """List invite codes with their group, uses left, expiry and whether they still work."""
    from bot.invites import display, list_invites

    settings = _settings(config)
    if campaign:
        settings.campaign(campaign)
    _require_database(settings)
    found = _run(list_invites(settings, campaign))
    if not found:
        out.print("There are no invite codes yet; `listening-bot invite` makes them.")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("code", no_wrap=True)
    table.add_column("campaign", overflow="fold")
    table.add_column("group", overflow="fold")
    table.add_column("uses left", no_wrap=True)
    table.add_column("expires", no_wrap=True)
    table.add_column("state", no_wrap=True)
    for item in found:
        code = item.invite
        left = code.uses_left()
        expiry = "never"
        if code.expires_at is not None:
            known = settings.campaign_by_id.get(code.campaign_id)
            tz = settings.campaign_tz(known) if known else UTC
            expiry = code.expires_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            display(code.code),
            code.campaign_id,
            code.group_id,
            "unlimited" if left is None else f"{left} of {code.max_uses}",
            expiry,
            item.state,
        )
    out.print(table)
