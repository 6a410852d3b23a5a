"""``listening-bot audit``: what organisers did to the data, when and as whom (counts only)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from bot.cli._common import (
    ConfigOption,
    _prepare_database,
    _run,
    _settings,
    _with_session,
    app,
    out,
)


@app.command()
def audit(
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action (e.g. export, forget).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """List organisers' actions (import, export, forget, purge, report, ...) with who and when."""
    from storage.audit import AuditRepo

    settings = _settings(config)
    _prepare_database(settings)

    async def lines(session: Any) -> list[Any]:
        return await AuditRepo(session).lines(action=action)

    found = _run(_with_session(settings, lines))
    if not found:
        out.print("The audit log is empty." if not action else f"No {action!r} in the audit log.")
        return
    table = Table("when (UTC)", "who", "action", "campaign", "counts", title="Audit log")
    for line in found:
        table.add_row(
            line.at.strftime("%Y-%m-%d %H:%M"),
            line.actor,
            line.action,
            line.campaign_id or "—",
            json.dumps(line.details, sort_keys=True),
        )
    out.print(table)


def audited(settings: Any, action: str, campaign_id: str | None = None, **counts: Any) -> None:
    """Record one organiser action (counts and options only) in its own short transaction."""
    from bot.privacy.audit import record

    async def write(session: Any) -> None:
        await record(session, action, campaign_id=campaign_id, **counts)

    _run(_with_session(settings, write))
