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
    """A line of `check`'s plan: which flow, when (local time, or relative to joining), to whom.

    Args:
        when: the send time as the organiser reads it, in the campaign's timezone, with what
            happened to it: ``(moved from 22:00 by quiet hours)``, ``(past)`` or
            ``(after the campaign closes: not sent)``.
        groups: the groups it goes to (the entry's and the flow's ``groups`` applied).
        moved_from: the time the schedule asked for, when quiet hours moved the send.
        sent: False when the send would never go out (it falls after ``closes``).
    """

    campaign_id: str
    flow_id: str
    when: str
    sort_key: datetime | None
    groups: tuple[str, ...] = ()
    moved_from: datetime | None = None
    sent: bool = True


def planned_sends(
    settings: Settings, campaign: Campaign, now: datetime, limit: int = 3
) -> list[PlannedSend]:
    """The campaign's next sends from ``now``: times, cron occurrences, join-relative offsets.

    Nothing is dropped silently: a send that quiet hours push past ``closes`` is listed as not
    sent, and one moved by quiet hours says so.
    """
    tz = settings.campaign_tz(campaign)
    opens, closes = settings.campaign_window(campaign)
    quiet = settings.campaign_quiet_hours(campaign)
    start = max(now, opens) if opens else now
    plan: list[PlannedSend] = []

    def add(entry: ScheduleEntry, nominal: datetime, suffix: str = "") -> None:
        due = defer_past_quiet_hours(nominal, quiet, tz)
        moved = nominal if due != nominal else None
        notes = []
        if moved is not None:
            notes.append(f"moved from {_fmt_time(nominal, due, tz)} by quiet hours")
        sent = closes is None or due < closes
        if not sent:
            notes.append("after the campaign closes: not sent")
        elif due < now:
            notes.append("past")
        text = _fmt(due, tz) + suffix + "".join(f" ({note})" for note in notes)
        groups = tuple(settings.entry_groups(campaign, entry))
        plan.append(PlannedSend(campaign.id, entry.flow, text, due, groups, moved, sent))

    for entry in campaign.schedule:
        if entry.after:
            groups = tuple(settings.entry_groups(campaign, entry))
            text = f"{entry.after} after each person joins"
            plan.append(PlannedSend(campaign.id, entry.flow, text, None, groups))
            continue
        if entry.at:
            add(entry, parse_local_datetime(entry.at, tz))
            continue
        trigger = cron_trigger(entry.cron or "", tz)
        previous = None
        cursor = start
        for _ in range(limit):
            fire = trigger.get_next_fire_time(previous, cursor)
            if fire is None or (closes is not None and fire >= closes):
                break
            add(entry, fire, f" (cron {entry.cron})")
            previous, cursor = fire, fire + timedelta(seconds=1)
    return plan


def _fmt(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %Y %H:%M %Z")


def _fmt_time(nominal: datetime, due: datetime, tz: ZoneInfo) -> str:
    """The asked-for time, with its date only when quiet hours moved the send to another day."""
    asked, moved = nominal.astimezone(tz), due.astimezone(tz)
    return asked.strftime("%H:%M" if asked.date() == moved.date() else "%a %d %b %H:%M")
