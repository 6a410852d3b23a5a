"""``listening-bot check``: validate the config and show the plan."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from rich.table import Table

from bot.cli._common import (
    ConfigOption,
    _settings,
    app,
    out,
)
from bot.config import Campaign, Settings
from bot.scheduling.preview import PlannedSend
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
        tz = settings.campaign_tz(campaign)
        out.print(
            f"[bold]Campaign {campaign.id}[/bold]: {campaign.title}\n"
            f"  groups: {', '.join(campaign.groups)}; channels: "
            f"{', '.join(settings.campaign_channels(campaign))}\n"
            f"  opens: {_local(opens, tz) if opens else 'now'}; closes: "
            f"{_local(closes, tz) if closes else 'never'}; quiet hours: {quiet}; timezone: "
            f"{tz.key}"
        )
        sends = planned_sends(settings, campaign, now)
        out.print(plan_table(campaign, sends, tz.key))
        out.print(per_group_table(campaign, sends))
        out.print(
            "  retention: " + "; ".join(retention_plan_lines(settings, campaign)), markup=False
        )
    print_languages(settings)


def print_languages(settings: Settings) -> None:
    """The config's languages and, per language, every text still untranslated."""
    from bot.translations import untranslated

    if settings.languages == [settings.default_language] and settings.default_language == "en":
        return
    out.print(
        f"Languages: {', '.join(settings.languages)} (default {settings.default_language})",
        markup=False,
    )
    stale = settings.stale_translations
    for lang, missing in untranslated(settings).items():
        for text_id in stale.get(lang, []):
            out.print(
                f"  {lang}: {text_id} is stale: its {settings.default_language} text changed "
                "since it was translated",
                markup=False,
            )
        if not missing:
            out.print(f"  {lang}: every text is translated", markup=False)
            continue
        out.print(
            f"  {lang}: {len(missing)} untranslated, so `run` will not start in {lang}:",
            markup=False,
        )
        for text in missing:
            out.print(f"    {text.path}: {str(text.text).strip()[:60]}", markup=False)


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %Y %H:%M %Z")


def _audience(campaign: Campaign, groups: tuple[str, ...]) -> str:
    return "every group" if list(groups) == list(campaign.groups) else ", ".join(groups)


def plan_table(campaign: Campaign, sends: list[PlannedSend], tz_name: str) -> Table:
    """Every planned send in local time, to whom, and what quiet hours or closing did to it."""
    table = Table(title=f"Next sends for {campaign.id} (local times, {tz_name})")
    table.add_column("flow", overflow="fold")
    table.add_column("goes out", overflow="fold")
    table.add_column("to", overflow="fold")
    for send in sends:
        table.add_row(send.flow_id, send.when, _audience(campaign, send.groups))
    if campaign.reminders:
        table.add_row(
            "(reminders)",
            f"after {campaign.reminders.after}, at most {campaign.reminders.max}, to people "
            "who have not finished",
            "",
        )
    return table


def per_group_table(campaign: Campaign, sends: list[PlannedSend]) -> Table:
    """The same plan seen by each group: which flows its people get, in order.

    Groups that get exactly the same sends share a row, so a campaign with one group-limited
    flow shows two rows, not one per group.
    """
    table = Table(title=f"What each group gets in {campaign.id}")
    table.add_column("groups", overflow="fold")
    table.add_column("flows, in order", overflow="fold")
    rows: dict[tuple[str, ...], list[str]] = {}
    for group in campaign.groups:
        flows = tuple(
            f"{send.flow_id} ({send.when})" for send in sends if group in send.groups and send.sent
        )
        rows.setdefault(flows, []).append(group)
    for flows, groups in rows.items():
        table.add_row(", ".join(groups), "\n".join(flows) or "nothing: no flow is for them")
    return table
