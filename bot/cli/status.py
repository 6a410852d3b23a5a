"""``listening-bot status``: participation and the outbox, per campaign and group."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from bot.cli._common import (
    CampaignOption,
    ConfigOption,
    _prepare_database,
    _run,
    _settings,
    _with_session,
    app,
    out,
)
from bot.config import Campaign
from storage.outbox_repository import CampaignStatusRepo, GroupStatus, OutboxRepo

COLUMNS = (
    "group",
    "enrolled",
    "prompted",
    "answered",
    "finished",
    "opted out",
    "pending",
    "sent",
    "failed",
    "missed",
)


@app.command()
def status(campaign: CampaignOption = None, config: ConfigOption = None) -> None:
    """Show participation (enrolled to opted out) and the outbox, per campaign and group."""
    settings = _settings(config)
    chosen = [settings.campaign(campaign)] if campaign else list(settings.campaigns)
    _prepare_database(settings)

    async def gather(session: Any) -> list[tuple[Campaign, list[GroupStatus], dict[Any, int]]]:
        return [
            (
                c,
                await CampaignStatusRepo(session).by_group(c.id),
                await OutboxRepo(session).counts(c.id),
            )
            for c in chosen
        ]

    for camp, groups, outbox in _run(_with_session(settings, gather)):
        out.print(status_table(camp, groups, outbox))
        other = {
            name: sum(n for (_, s), n in outbox.items() if s == name)
            for name in ("queued", "cancelled")
        }
        out.print(
            f"  queued behind another flow: {other['queued']}; cancelled (finished, stopped or "
            f"closed before sending): {other['cancelled']}"
        )
    print_consent_versions(settings, [c.id for c in chosen])


def print_consent_versions(settings: Any, campaign_ids: list[str]) -> None:
    """Per campaign, how many people agreed to (or withdrew from) each consent text version."""
    from storage.consent import ConsentRepo

    async def gather(session: Any) -> dict[str, Any]:
        return {cid: await ConsentRepo(session).counts(cid) for cid in campaign_ids}

    for campaign_id, versions in _run(_with_session(settings, gather)).items():
        if not versions:
            continue
        parts = [
            f"v{v.version} ({v.text_hash[:8]}): {v.agreed} agreed, {v.withdrawn} withdrawn"
            for v in versions
        ]
        out.print(f"  consent in {campaign_id}: " + "; ".join(parts), markup=False)


def status_table(
    campaign: Campaign, groups: list[GroupStatus], outbox: dict[tuple[str, str], int]
) -> Table:
    """One row per group of the campaign (and any group still in the data), then a total."""
    by_id = {g.group_id: g for g in groups}
    ids = list(campaign.groups) + sorted(
        {g for g in by_id if g not in campaign.groups}
        | {g for g, _ in outbox} - set(campaign.groups)
    )
    table = Table(*COLUMNS, title=f"{campaign.id}: {campaign.title}")
    totals = [0] * (len(COLUMNS) - 1)
    for group_id in ids:
        g = by_id.get(group_id, GroupStatus(group_id, 0, 0, 0, 0, 0))

        def box(*statuses: str, group_id: str = group_id) -> int:
            return sum(outbox.get((group_id, s), 0) for s in statuses)

        values = [
            g.enrolled,
            g.prompted,
            g.answered,
            g.finished,
            g.opted_out,
            box("pending", "sending"),
            box("sent"),
            box("failed"),
            box("missed"),
        ]
        totals = [a + b for a, b in zip(totals, values, strict=True)]
        table.add_row(group_id, *(str(v) for v in values))
    table.add_row("all", *(str(v) for v in totals))
    return table
