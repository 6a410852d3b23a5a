"""``listening-bot check``: validate the config and show the plan."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.table import Table

from bot.cli._common import (
    ConfigOption,
    _settings,
    app,
    out,
)
from bot.timeparse import format_duration


@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate the config and print groups, flows, campaigns and the next scheduled sends."""
    from bot.privacy.retention import plan_lines as retention_plan_lines
    from bot.scheduling.preview import planned_sends

    settings = _settings(config)
    now = datetime.now(UTC)
    out.print(
        f"[bold]Config OK[/bold]: {len(settings.groups)} groups, {len(settings.flows)} flows, "
        f"{len(settings.campaigns)} campaign(s); "
        f"platforms: {', '.join(settings.enabled_platforms())}"
    )
    groups = Table("group", "label", "joins without invite", title="Groups")
    for group in settings.groups:
        groups.add_row(group.id, group.label, "yes" if group.self_select else "invite only")
    out.print(groups)
    flows = Table("flow", "kind", "questions", title="Flows")
    for flow in settings.flows:
        detail = (
            f"opening + {len(flow.probes)} probe(s), "
            f"closes after {format_duration(flow.idle_timeout)} idle"
            if flow.kind == "open"
            else ", ".join(f"{s.id} ({s.type})" for s in flow.steps)
        )
        flows.add_row(flow.id, flow.kind, detail)
    out.print(flows)
    for campaign in settings.campaigns:
        opens, closes = settings.campaign_window(campaign)
        quiet = campaign.quiet_hours or settings.quiet_hours or "none"
        out.print(
            f"[bold]Campaign {campaign.id}[/bold]: {campaign.title}\n"
            f"  groups: {', '.join(campaign.groups)}; channels: "
            f"{', '.join(settings.campaign_channels(campaign))}\n"
            f"  opens: {opens.isoformat() if opens else 'now'}; closes: "
            f"{closes.isoformat() if closes else 'never'}; quiet hours: {quiet}; timezone: "
            f"{settings.campaign_tz(campaign).key}"
        )
        plan = Table("flow", "goes out", title=f"Next sends for {campaign.id}")
        for send in planned_sends(settings, campaign, now):
            plan.add_row(send.flow_id, send.when)
        if campaign.reminders:
            plan.add_row(
                "(reminders)",
                f"after {campaign.reminders.after}, at most "
                f"{campaign.reminders.max}, to people who have not finished",
            )
        out.print(plan)
        out.print(
            "  retention: " + "; ".join(retention_plan_lines(settings, campaign)), markup=False
        )
