"""When each schedule entry would fire: pure time arithmetic shared by `check` and the scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import Campaign, ScheduleEntry, Settings
from bot.scheduling.crontab import cron_trigger
from bot.timeparse import parse_duration, parse_local_datetime


def in_quiet_hours(moment: datetime, quiet: tuple[time, time] | None, tz: ZoneInfo) -> bool:
    """True when ``moment`` falls in the local quiet span (which may cross midnight)."""
    if quiet is None:
        return False
    start, end = quiet
    local = moment.astimezone(tz).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def defer_past_quiet_hours(
    moment: datetime, quiet: tuple[time, time] | None, tz: ZoneInfo
) -> datetime:
    """Move a send that falls in quiet hours to the moment they end (local wall clock, DST-safe)."""
    if not in_quiet_hours(moment, quiet, tz):
        return moment
    assert quiet is not None
    local = moment.astimezone(tz)
    end = quiet[1]
    candidate = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate = (local + timedelta(days=1)).replace(
            hour=end.hour, minute=end.minute, second=0, microsecond=0
        )
    # Rebuild from wall-clock fields so a DST change overnight lands on the right UTC instant.
    naive = candidate.replace(tzinfo=None)
    return naive.replace(tzinfo=tz)


def first_send(
    settings: Settings, campaign: Campaign, entry: ScheduleEntry, joined_at: datetime
) -> datetime | None:
    """The first time ``entry`` goes to someone who joined at ``joined_at`` (None: never)."""
    tz = settings.campaign_tz(campaign)
    opens, closes = settings.campaign_window(campaign)
    earliest = max(joined_at, opens) if opens else joined_at
    if entry.at:
        due = parse_local_datetime(entry.at, tz)
    elif entry.after:
        due = max(joined_at + parse_duration(entry.after), earliest)
    elif entry.cron:
        trigger = cron_trigger(entry.cron, tz)
        due = trigger.get_next_fire_time(None, earliest)
        if due is None:
            return None
    else:
        return None
    due = defer_past_quiet_hours(due, settings.campaign_quiet_hours(campaign), tz)
    if closes is not None and due >= closes:
        return None
    return due


@dataclass(frozen=True, slots=True)
class PlannedSend:
    """A line of `check`'s plan: which flow, when (or relative to joining), to whom."""

    campaign_id: str
    flow_id: str
    when: str
    sort_key: datetime | None


def planned_sends(
    settings: Settings, campaign: Campaign, now: datetime, limit: int = 3
) -> list[PlannedSend]:
    """The campaign's next sends from ``now``: times, cron occurrences, join-relative offsets."""
    tz = settings.campaign_tz(campaign)
    opens, closes = settings.campaign_window(campaign)
    quiet = settings.campaign_quiet_hours(campaign)
    start = max(now, opens) if opens else now
    plan: list[PlannedSend] = []
    for entry in campaign.schedule:
        if entry.after:
            plan.append(
                PlannedSend(campaign.id, entry.flow, f"{entry.after} after each person joins", None)
            )
            continue
        if entry.at:
            due = defer_past_quiet_hours(parse_local_datetime(entry.at, tz), quiet, tz)
            if due < now:
                plan.append(PlannedSend(campaign.id, entry.flow, f"{_fmt(due, tz)} (past)", due))
            elif closes is None or due < closes:
                plan.append(PlannedSend(campaign.id, entry.flow, _fmt(due, tz), due))
            continue
        trigger = cron_trigger(entry.cron or "", tz)
        previous = None
        cursor = start
        for _ in range(limit):
            fire = trigger.get_next_fire_time(previous, cursor)
            if fire is None or (closes is not None and fire >= closes):
                break
            shown = defer_past_quiet_hours(fire, quiet, tz)
            plan.append(
                PlannedSend(
                    campaign.id, entry.flow, f"{_fmt(shown, tz)} (cron {entry.cron})", shown
                )
            )
            previous, cursor = fire, fire + timedelta(seconds=1)
    return plan


def _fmt(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %Y %H:%M %Z")
