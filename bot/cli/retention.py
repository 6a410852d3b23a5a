"""``listening-bot purge``: apply each campaign's retention now (or list it with --dry-run)."""

from __future__ import annotations

from datetime import UTC, datetime
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


@app.command()
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be removed; change nothing.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Remove contact details and answers whose retention time is up, as the config says."""
    from bot.privacy.retention import policies, run_purge

    settings = _settings(config)
    if not policies(settings):
        out.print("No campaign sets a retention period with a close date; nothing to purge.")
        return
    _prepare_database(settings)
    now = datetime.now(UTC)

    async def work(session: Any) -> Any:
        return await run_purge(session, settings, now, apply=not dry_run)

    # Retention reaches rehearsal data too (the view "all" hides nothing).
    report = _run(_with_session(settings, work, view="all"))
    verb = "Would remove" if dry_run else "Removed"
    if report.empty:
        out.print("Nothing is due for removal now.")
        return
    for campaign in report.campaigns:
        lines = []
        if campaign.contact_details_of:
            people = ", ".join(campaign.contact_details_of)
            lines.append(f"contact details of {len(campaign.contact_details_of)}: {people}")
        if campaign.answers_deleted:
            lines.append(f"{campaign.answers_deleted} answer(s) deleted")
        if campaign.answers_anonymised:
            lines.append(f"{campaign.answers_anonymised} answer(s) anonymised")
        if lines:
            out.print(f"{verb} in {campaign.campaign_id}: " + "; ".join(lines) + ".")
    if report.participants_removed:
        out.print(
            f"{verb} {len(report.participants_removed)} participant(s) with nothing left: "
            + ", ".join(report.participants_removed)
            + "."
        )
    if report.quarantined_of_others:
        out.print(
            f"{verb} {report.quarantined_of_others} quarantined update(s) from people not "
            "taking part."
        )
