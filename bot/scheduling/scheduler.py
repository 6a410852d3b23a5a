"""The campaign scheduler: APScheduler 3 jobs that wake the outbox planner and sender on time.

APScheduler decides *when* to look; the outbox decides *what* to send. Jobs live in memory and
are rebuilt at every start from the config (one job per ``at``/``cron`` entry, stable ids,
``replace_existing``) and from the outbox (a ``wake`` job at the next due send), plus a ``pump``
that polls for new enrolments, reminders and retries. Nothing is pickled, so a restart never
runs stale jobs, and the outbox's uniqueness makes a repeated tick harmless.

Several processes may share one PostgreSQL database (rows are claimed with ``SKIP LOCKED`` and
short leases renewed by a heartbeat, so a dead process's claims pass to another within seconds;
see :mod:`bot.scheduling.outbox`); on SQLite only one process may run the scheduler, enforced by
a lock file next to the database, and it settles every claim left behind when it starts.

:meth:`CampaignScheduler.state` is a cheap snapshot for a health check to read, and
:meth:`CampaignScheduler.health` its verdict as ``(healthy, reason)``.

Usage::

    async with CampaignScheduler(settings, sessionmaker, dispatcher, adapters, clock):
        ...  # the bot runs; prompts go out on time
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.base import Adapter
from bot.clock import Clock
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.errors import BotError, ConfigError
from bot.scheduling.outbox import DeliveryReport, OutboxSender
from bot.scheduling.plan import Planner, SchedulerOptions, cron_trigger, occurrence_id
from bot.scheduling.preview import defer_past_quiet_hours
from bot.timeparse import parse_local_datetime
from storage.outbox_repository import OutboxRepo

log = logging.getLogger(__name__)

__all__ = [
    "CampaignScheduler",
    "SchedulerLockError",
    "SchedulerOptions",
    "SchedulerState",
    "TickReport",
]


class SchedulerLockError(BotError):
    """Another process already runs the scheduler on this SQLite database."""

    def __init__(self, message: str, lock_path: str) -> None:
        super().__init__(message)
        self.lock_path = lock_path

    def __repr__(self) -> str:
        return f"SchedulerLockError(message={self.message!r}, lock_path={self.lock_path!r})"


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one scheduler pass did: rows planned, and what became of the due ones."""

    planned: int
    delivery: DeliveryReport
    channel_posts: int = 0


@dataclass(frozen=True, slots=True)
class SchedulerState:
    """What a health check may report about this process's scheduler; reading it costs nothing
    (no database query), so a load balancer may poll it as often as it likes.

    Args:
        running: started and not stopping.
        holder: this process's name in the outbox's ``claimed_by``.
        last_tick_at: when the last pass (plan, send, channel prompts) finished without error.
        last_error_at: when a pass last raised (None if never); compare with ``last_tick_at``.
        tick_started_at: when the pass under way began (None when idle).
        leases_held: outbox rows this process has claimed and not yet settled.
        last_lease_renewal_at: when the heartbeat last renewed those leases.
        lease_seconds: how long a claim survives without a renewal.
    """

    running: bool
    holder: str
    last_tick_at: datetime | None
    last_error_at: datetime | None
    tick_started_at: datetime | None
    leases_held: int
    last_lease_renewal_at: datetime | None
    lease_seconds: float

    @property
    def ticking(self) -> bool:
        return self.tick_started_at is not None

    def assess(self, now: datetime, *, stale_after: timedelta) -> tuple[bool, str]:
        """Healthy or not, and why in a few words (no ids): running, and a pass finished within
        ``stale_after`` or one under way is making progress (a long fan-out renews its leases).
        """
        if not self.running:
            return False, "not running"
        if self.last_tick_at is not None and now - self.last_tick_at <= stale_after:
            return True, "running"
        if self.tick_started_at is not None:
            if now - self.tick_started_at <= stale_after:
                return True, "running (a pass is under way)"
            renewed = self.last_lease_renewal_at
            if renewed is not None and now - renewed <= stale_after:
                return True, "running (sending a long fan-out)"
        return False, "no scheduler pass has finished recently"


class _SqliteLock:
    """An exclusive ``flock`` on ``<database>.scheduler.lock``; the OS drops it if we die."""

    def __init__(self, database: str) -> None:
        self.path = database + ".scheduler.lock"
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # not on POSIX: no cross-process guard, as before
            return
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held while running
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise SchedulerLockError(
                f"The scheduler is already running for this SQLite database ({owner}); only "
                "one `listening-bot run` may send scheduled prompts from SQLite. Stop the other "
                "one, or use PostgreSQL to run several.",
                self.path,
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file releases the flock
            self._handle = None


class CampaignScheduler:
    """Runs every campaign's schedule: planning, sending, reminders, recovery.

    Args:
        settings: the validated campaign file.
        sessionmaker: the app's sessions (its engine tells SQLite from PostgreSQL).
        dispatcher: offers flows to participants inside the outbox's transaction.
        adapters: platform name -> started adapter; the scheduler sends through these.
        clock: "now" for every decision (APScheduler only decides when to wake up).
        options: grace period, retries, polling; defaults from ``LISTENING_SCHEDULER_*``.
    """

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        dispatcher: Dispatcher,
        adapters: Mapping[str, Adapter],
        clock: Clock,
        options: SchedulerOptions | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.clock = clock
        try:
            self.options = options or SchedulerOptions.from_env()
        except ValueError as exc:
            raise ConfigError(f"A scheduler setting cannot be used: {exc}.") from None
        self.adapters = adapters
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.planner = Planner(settings, sessionmaker, self.options)
        self.sender = OutboxSender(
            settings, sessionmaker, dispatcher, adapters, clock, self.options, self.holder
        )
        self.aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(self.options.grace.total_seconds()),
            },
        )
        self.aps.add_listener(self._on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        self._tick_lock = asyncio.Lock()
        self._posted: set[tuple[str, str]] = set()
        url = make_url(str(sessionmaker.kw["bind"].url))
        self._sqlite = url.get_backend_name() == "sqlite"
        database = url.database or ""
        self._lock = (
            _SqliteLock(str(Path(database).resolve()))
            if self._sqlite and database and database != ":memory:"
            else None
        )
        self._started = False
        self._stopping = False
        self._last_tick_at: datetime | None = None
        self._last_error_at: datetime | None = None
        self._tick_started_at: datetime | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> CampaignScheduler:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Take the SQLite lock, recover claimed sends, build the jobs and start ticking.

        Raises:
            SchedulerLockError: another process runs the scheduler on this SQLite database.
        """
        if self._lock is not None:
            self._lock.acquire()
        try:
            if self._sqlite:
                # We hold the only lock, so sends claimed by a process that died are ours to
                # settle now: unmarked ones go back to pending, marked ones become uncertain.
                async with self.sessionmaker.begin() as session:
                    found = await OutboxRepo(session).recover(self.clock.now(), everyone=True)
                if found.total:
                    log.warning(
                        "settled %d send(s) left mid-way by a stopped process: %d back to "
                        "pending, %d uncertain (not repeated), %d resumed after an uncertain part",
                        found.total,
                        found.released,
                        found.uncertain,
                        found.resumed,
                    )
            self._stopping = False
            self.rebuild_jobs()
            self.aps.start()
            self._started = True
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise

    async def stop(self) -> None:
        """Stop the jobs, let a running tick finish, release the lock."""
        self._stopping = True
        if self._started:
            self.aps.shutdown(wait=False)
            self._started = False
        async with self._tick_lock:  # wait for the tick in progress, if any
            pass
        if self._lock is not None:
            self._lock.release()

    def rebuild_jobs(self) -> list[str]:
        """(Re)create every job with a stable id; returns the ids."""
        now = datetime.now(UTC)
        ids = ["pump"]
        self.aps.add_job(
            self._job,
            IntervalTrigger(seconds=max(self.options.poll.total_seconds(), 1), timezone=UTC),
            id="pump",
            name="plan and send due prompts",
            replace_existing=True,
            next_run_time=now,  # catch up at once after a restart
        )
        for campaign in self.settings.campaigns:
            tz = self.settings.campaign_tz(campaign)
            _, closes = self.settings.campaign_window(campaign)
            if closes is not None and closes <= now:
                continue
            for entry in campaign.schedule:
                job_id = f"entry:{campaign.id}:{entry.key}"
                if entry.at:
                    when = parse_local_datetime(entry.at, tz)
                    if when + self.options.grace < now:
                        continue  # long past: the planner records it as missed
                    trigger: Any = DateTrigger(run_date=when, timezone=UTC)
                elif entry.cron:
                    trigger = cron_trigger(entry.cron, tz)
                else:
                    continue  # `after` entries are per participant: the pump and wake handle them
                self.aps.add_job(
                    self._job,
                    trigger,
                    id=job_id,
                    name=f"{campaign.id}: {entry.flow} ({entry.at or entry.cron})",
                    replace_existing=True,
                )
                ids.append(job_id)
        return ids

    # -- work -----------------------------------------------------------------------------------
    async def _job(self) -> None:
        if self._stopping:
            return  # submitted just before shutdown: the app is going away
        await self.tick()

    def _on_job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_ERROR:
            log.error("scheduler job %s failed", event.job_id, exc_info=event.exception)
        else:
            log.warning("scheduler job %s missed %s", event.job_id, event.scheduled_run_time)

    def state(self) -> SchedulerState:
        """A snapshot of this scheduler's state for a health check (no I/O)."""
        return SchedulerState(
            running=self._started and not self._stopping,
            holder=self.holder,
            last_tick_at=self._last_tick_at,
            last_error_at=self._last_error_at,
            tick_started_at=self._tick_started_at,
            leases_held=len(self.sender.held),
            last_lease_renewal_at=self.sender.last_renewal,
            lease_seconds=self.options.lease.total_seconds(),
        )

    def health(self) -> tuple[bool, str]:
        """Healthy or not and why, for a readiness check: see :meth:`SchedulerState.assess`;
        a pass counts as recent within three polls (at least a minute)."""
        stale_after = max(self.options.poll * 3, timedelta(minutes=1))
        return self.state().assess(self.clock.now(), stale_after=stale_after)

    async def tick(self) -> TickReport:
        """Plan what is due or soon due, send what is due now, post channel prompts."""
        async with self._tick_lock:
            self._tick_started_at = self.clock.now()
            try:
                now = self.clock.now()
                planned = await self.planner.plan(now)
                delivery = await self.sender.deliver_due()
                posts = await self._post_channel_prompts(now)
                await self._schedule_wake()
            except Exception:
                self._last_error_at = self.clock.now()
                raise
            finally:
                self._tick_started_at = None
            self._last_tick_at = self.clock.now()
            return TickReport(planned, delivery, posts)

    async def _schedule_wake(self) -> None:
        """Wake exactly when the next planned send comes due (held, deferred or retried)."""
        if not self._started:
            return
        async with self.sessionmaker() as session:
            due = await OutboxRepo(session).next_due(self.sender.platforms)
        if due is None:
            return
        run_at = max(due, datetime.now(UTC))
        self.aps.add_job(
            self._job,
            DateTrigger(run_date=run_at, timezone=UTC),
            id="wake",
            name="next due send",
            replace_existing=True,
        )

    async def _post_channel_prompts(self, now: datetime) -> int:
        """Ask adapters that post in shared channels (Slack) to post due ``at``/``cron`` prompts.

        The adapter remembers what it posted across restarts; the set here only saves asking it
        again on every tick.
        """
        posters = [a for a in self.adapters.values() if hasattr(a, "post_channel_prompts")]
        if not posters:
            return 0
        count = 0
        for campaign in self.settings.campaigns:
            tz = self.settings.campaign_tz(campaign)
            opens, closes = self.settings.campaign_window(campaign)
            if closes is not None and now >= closes:
                continue
            quiet = self.settings.campaign_quiet_hours(campaign)
            for entry in campaign.schedule:
                nominal = self._latest_occurrence(entry.at, entry.cron, tz, now)
                if nominal is None or (opens is not None and nominal < opens):
                    continue
                due = defer_past_quiet_hours(nominal, quiet, tz)
                if due > now or now > due + self.options.grace:
                    continue
                key = entry.key if entry.at else f"{entry.key}#{occurrence_id(nominal)}"
                if (campaign.id, key) in self._posted:
                    continue
                for poster in posters:
                    try:
                        post = poster.post_channel_prompts  # type: ignore[attr-defined]
                        await post(campaign.id, key, entry.flow)
                        count += 1
                    except Exception:  # noqa: BLE001 - retried on the next tick
                        log.exception("posting channel prompts for %s failed", key)
                        break
                else:
                    self._posted.add((campaign.id, key))
        return count

    def _latest_occurrence(
        self, at: str | None, cron: str | None, tz: Any, now: datetime
    ) -> datetime | None:
        if at:
            return parse_local_datetime(at, tz)
        if not cron:
            return None
        trigger = cron_trigger(cron, tz)
        latest = None
        cursor = now - self.options.grace
        for _ in range(10_000):
            fire = trigger.get_next_fire_time(None, cursor)
            if fire is None or fire > now:
                break
            latest = fire
            cursor = fire + timedelta(seconds=1)
        return latest
