"""Planning the outbox: which participant gets which schedule entry (or reminder), and when.

Pure time arithmetic comes from :mod:`bot.scheduling.preview` (quiet hours, DST-safe deferral);
this module turns config + enrolments + flow progress into outbox rows. A schedule entry goes only
to the groups :meth:`bot.config.Settings.entry_groups` gives (the campaign's groups, narrowed by
the entry's and the flow's ``groups``). Planning is idempotent:
every row is keyed by (participant, campaign, entry, occurrence) and an existing row wins, so any
number of processes may plan at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Campaign, ScheduleEntry, Settings
from bot.scheduling.crontab import cron_trigger
from bot.scheduling.preview import defer_past_quiet_hours
from bot.timeparse import format_duration, parse_duration, parse_local_datetime
from storage.outbox_repository import NewOutbox, OutboxRepo, OutboxTarget

log = logging.getLogger(__name__)

SCHEDULED_PLATFORMS = ("telegram", "slack")
"""Platforms the scheduler sends to; the console is a rehearsal that offers every flow at once."""


@dataclass(frozen=True, slots=True)
class SchedulerOptions:
    """How the scheduler plans, retries and recovers.

    Args:
        grace: a send missed while the bot was down goes out on restart if it is at most this
            late; later than that it is recorded as ``missed``.
        poll: how often the outbox is checked even when no job fires (new enrolments, other
            processes' work).
        horizon: how far ahead sends are planned (so ``status`` shows them as pending).
        max_attempts: attempts before a send is given up as ``failed`` with its last error.
        backoff: wait after the first failed attempt; doubles each time up to ``max_backoff``.
        lease: how long a claimed send stays reserved without a renewal; the sender renews
            it every third of this while it works, so a dead process's claims pass to another
            sender this long after it died.
        batch: sends claimed per database transaction.
        concurrency: sends handed to adapters at once (the adapters do the rate limiting);
            also the most sends a kill can leave ``uncertain`` in one process.
        max_catch_up: old cron occurrences recorded as missed at most, per entry and restart.
    """

    grace: timedelta = timedelta(hours=6)
    poll: timedelta = timedelta(seconds=15)
    horizon: timedelta = timedelta(hours=1)
    max_attempts: int = 5
    backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(seconds=10)
    batch: int = 100
    concurrency: int = 4
    max_catch_up: int = 50

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SchedulerOptions:
        """Read ``LISTENING_SCHEDULER_<FIELD>`` overrides (durations like ``6h``, or integers).

        Raises:
            ValueError: naming the variable whose value cannot be read.
        """
        env = os.environ if environ is None else environ
        options = cls()
        changes: dict[str, Any] = {}
        for field in fields(cls):
            name = f"LISTENING_SCHEDULER_{field.name.upper()}"
            raw = env.get(name)
            if not raw:
                continue
            try:
                if isinstance(getattr(options, field.name), timedelta):
                    changes[field.name] = parse_duration(raw)
                else:
                    changes[field.name] = max(int(raw), 1)
            except ValueError as exc:
                raise ValueError(f"{name}={raw!r}: {exc}") from None
        return replace(options, **changes)

    def backoff_after(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """The wait before attempt ``attempts + 1``; a platform's own ``retry_after`` wins."""
        wait = min(self.backoff * (2 ** max(attempts - 1, 0)), self.max_backoff)
        if retry_after is not None:
            wait = max(wait, timedelta(seconds=retry_after))
        return wait


def occurrence_id(moment: datetime) -> str:
    """A stable name for one firing of an entry: its nominal time in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def participant_tz(name: str | None, default: ZoneInfo) -> ZoneInfo:
    """The participant's own timezone when the platform told us one, else the campaign's."""
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


class Planner:
    """Materialises due and soon-due sends as outbox rows, once each."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        options: SchedulerOptions,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.options = options

    def platforms(self, campaign: Campaign) -> list[str]:
        return [p for p in self.settings.campaign_channels(campaign) if p in SCHEDULED_PLATFORMS]

    async def plan(self, now: datetime) -> int:
        """Plan every campaign up to ``now + horizon``; returns how many rows were new."""
        total = 0
        for campaign in self.settings.campaigns:
            async with self.sessionmaker.begin() as session:
                total += await self._plan_campaign(OutboxRepo(session), campaign, now)
        return total

    async def _plan_campaign(self, repo: OutboxRepo, campaign: Campaign, now: datetime) -> int:
        platforms = self.platforms(campaign)
        opens, closes = self.settings.campaign_window(campaign)
        if not platforms or (closes is not None and now >= closes):
            return 0
        end = now + self.options.horizon
        if closes is not None:
            end = min(end, closes)
        ctx = _Context(
            campaign,
            self.settings.campaign_tz(campaign),
            self.settings.campaign_quiet_hours(campaign),
            opens,
            closes,
            now,
            self.options.grace,
            platforms,
        )
        rows: list[NewOutbox] = []
        for entry in campaign.schedule:
            if entry.after:
                rows += await self._plan_after(repo, ctx, entry, end)
            else:
                for nominal in await self._occurrences(repo, ctx, entry, end):
                    occurrence = occurrence_id(nominal)
                    key = entry.key if entry.at else f"{entry.key}#{occurrence}"
                    targets = await repo.targets_without(
                        campaign.id,
                        key,
                        occurrence,
                        joined_before=nominal,
                        groups=self.settings.entry_groups(campaign, entry),
                        platforms=platforms,
                    )
                    rows += [
                        ctx.row(t, entry.key, key, entry.flow, occurrence, "prompt", nominal)
                        for t in targets
                    ]
        rows += await self._plan_reminders(repo, ctx, end)
        return await repo.plan(rows, now)

    async def _plan_after(
        self, repo: OutboxRepo, ctx: _Context, entry: ScheduleEntry, end: datetime
    ) -> list[NewOutbox]:
        delay = parse_duration(entry.after or "0s")
        if delay <= timedelta(0):
            # The engine starts `after: 0` flows the moment someone joins; planning them again
            # would only produce rows that cancel themselves.
            return []
        targets = await repo.targets_without(
            ctx.campaign.id,
            entry.key,
            "join",
            joined_before=end - delay,
            groups=self.settings.entry_groups(ctx.campaign, entry),
            platforms=ctx.platforms,
        )
        rows = []
        for target in targets:
            nominal = target.joined_at + delay
            if ctx.opens is not None and nominal < ctx.opens:
                nominal = ctx.opens
            rows.append(
                ctx.row(target, entry.key, entry.key, entry.flow, "join", "prompt", nominal)
            )
        return rows

    async def _occurrences(
        self, repo: OutboxRepo, ctx: _Context, entry: ScheduleEntry, end: datetime
    ) -> list[datetime]:
        """Nominal firings of an ``at`` or ``cron`` entry that may still need rows."""
        if entry.at:
            nominal = parse_local_datetime(entry.at, ctx.tz)
            if (ctx.opens is not None and nominal < ctx.opens) or nominal > end:
                return []
            return [nominal]
        trigger = cron_trigger(entry.cron or "", ctx.tz)
        last = await repo.last_nominal(ctx.campaign.id, entry.key)
        if last is None:
            first_join = await repo.earliest_join(ctx.campaign.id)
            if first_join is None:
                return []
            start = max(first_join, ctx.opens) if ctx.opens else first_join
        else:
            # Re-plan the latest occurrence too: someone may have joined just before it fired.
            start = min(last, ctx.now)
        too_late = ctx.now - self.options.grace
        fires: list[datetime] = []
        old = 0
        cursor = start
        while len(fires) < 1000:
            fire = trigger.get_next_fire_time(None, cursor)
            if fire is None or fire > end:
                break
            if fire < too_late:
                old += 1
                if old > self.options.max_catch_up:
                    log.warning(
                        "campaign %s: skipping cron occurrences of %s before %s (bot was down)",
                        ctx.campaign.id,
                        entry.key,
                        too_late.isoformat(),
                    )
                    cursor = max(cursor + timedelta(seconds=1), too_late)
                    old = -(10**9)
                    continue
            fires.append(fire)
            cursor = fire + timedelta(seconds=1)
        return fires

    async def _plan_reminders(
        self, repo: OutboxRepo, ctx: _Context, end: datetime
    ) -> list[NewOutbox]:
        reminders = ctx.campaign.reminders
        if reminders is None or reminders.max <= 0:
            return []
        every = parse_duration(reminders.after)
        rows = []
        for number in range(1, reminders.max + 1):
            occurrence = f"reminder-{number}"
            targets = await repo.reminder_targets(
                ctx.campaign.id,
                occurrence,
                started_before=end - every * number,
                groups=ctx.campaign.groups,
                platforms=ctx.platforms,
            )
            for t in targets:
                who = OutboxTarget(t.participant_id, "", t.platform, t.started_at, t.timezone)
                schedule_key = t.entry_key.split("#", 1)[0]
                nominal = t.started_at + every * number
                rows.append(
                    ctx.row(
                        who, schedule_key, t.entry_key, t.flow_id, occurrence, "reminder", nominal
                    )
                )
        return rows


@dataclass(frozen=True, slots=True)
class _Context:
    """What every row of one campaign's planning pass shares."""

    campaign: Campaign
    tz: ZoneInfo
    quiet: tuple[time, time] | None
    opens: datetime | None
    closes: datetime | None
    now: datetime
    grace: timedelta
    platforms: list[str]

    def row(
        self,
        target: OutboxTarget,
        schedule_key: str,
        entry_key: str,
        flow_id: str,
        occurrence: str,
        kind: str,
        nominal: datetime,
    ) -> NewOutbox:
        tz = participant_tz(target.timezone, self.tz)
        due = defer_past_quiet_hours(nominal, self.quiet, tz)
        status, detail = "pending", None
        if self.closes is not None and due >= self.closes:
            status, detail = "cancelled", "would fall after the campaign closes"
        elif self.now > due + self.grace:
            status = "missed"
            detail = (
                f"was due {due.astimezone(tz):%Y-%m-%d %H:%M %Z}; the bot was not running "
                f"within the {format_duration(self.grace)} grace period"
            )
        return NewOutbox(
            participant_id=target.participant_id,
            campaign_id=self.campaign.id,
            schedule_key=schedule_key,
            entry_key=entry_key,
            flow_id=flow_id,
            occurrence=occurrence,
            kind=kind,
            platform=target.platform,
            nominal_at=nominal,
            due_at=due,
            status=status,
            detail=detail,
            timezone=target.timezone,
        )
