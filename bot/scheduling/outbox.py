"""Sending the outbox: claim due rows, let the engine decide the messages, send, record the result.

Each send goes through three steps so nothing is lost or sent twice:

1. **claim and prepare** (one transaction): due rows are reserved for this process with a lease
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL); for each, the engine starts, queues or re-prompts
   the flow and the rendered messages are stored in the row;
2. **send**, outside any transaction, through the participant's adapter;
3. **record**: ``sent`` only after the adapter returned; a failure keeps the stored messages and
   retries with backoff, and after ``max_attempts`` the row is ``failed`` with the last error.

A crash between 2 and 3 is the one window where a prompt can go out twice (the lease expires and
the stored messages are sent again); platforms offer no idempotency key to close it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.base import Adapter
from bot.clock import Clock
from bot.config import Settings
from bot.dispatcher import Dispatcher, outbound_from_json, outbound_to_json
from bot.errors import AdapterError
from bot.events import Address, DeliveryOutcome, Outbound
from bot.flows import messages as say
from bot.flows.state import ConversationState
from bot.scheduling.plan import SchedulerOptions, participant_tz
from bot.scheduling.preview import defer_past_quiet_hours, in_quiet_hours
from bot.timeparse import format_duration
from storage.outbox_repository import OutboxItem, OutboxRepo
from storage.repositories import EnrolmentRepo, StateRepo

log = logging.getLogger(__name__)
_Record = Callable[[OutboxRepo], Awaitable[None]]

_current_send: contextvars.ContextVar[list[DeliveryOutcome] | None] = contextvars.ContextVar(
    "outbox_send", default=None
)


async def on_delivery(outcome: DeliveryOutcome) -> None:
    """The adapters' ``on_delivery`` sink: ties each outcome to the outbox send in progress.

    Adapters report outcomes from inside ``send``, so a context variable set around the call
    catches them: a Slack post that failed (``send`` returns None rather than raising) becomes a
    failed attempt, and an ``uncertain`` one is recorded as such instead of being re-sent.
    Outcomes of ordinary replies are only logged.
    """
    captured = _current_send.get()
    if captured is not None:
        captured.append(outcome)
    elif outcome.status != "sent":
        log.warning("reply to %s not delivered: %s", outcome.address, outcome.error)


@dataclass(slots=True)
class DeliveryReport:
    """What one pass over the outbox did."""

    claimed: int = 0
    sent: int = 0
    queued: int = 0
    held: int = 0
    retried: int = 0
    failed: int = 0
    missed: int = 0
    cancelled: int = 0


class OutboxSender:
    """Delivers due outbox rows through the adapters of this process.

    Args:
        adapters: platform name -> adapter; only rows for these platforms are claimed, so a
            process running only Slack never takes Telegram's work.
        holder: this process's name in ``claimed_by``.
    """

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        dispatcher: Dispatcher,
        adapters: Mapping[str, Adapter],
        clock: Clock,
        options: SchedulerOptions,
        holder: str,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.dispatcher = dispatcher
        self.adapters = adapters
        self.clock = clock
        self.options = options
        self.holder = holder

    @property
    def platforms(self) -> list[str]:
        return [name for name in self.adapters if name != "console"]

    async def deliver_due(self) -> DeliveryReport:
        """Send everything due now, batch by batch, until nothing due is left.

        The next batch is claimed and prepared while the previous one is being sent, so a
        rate-limited platform is kept busy instead of waiting for the database between batches.
        """
        report = DeliveryReport()
        sending: asyncio.Task[None] | None = None
        try:
            while True:
                claimed, ready = await self._claim_and_prepare(report)
                if sending is not None:
                    await sending
                    sending = None
                if ready:
                    sending = asyncio.create_task(self._send_all(ready, report))
                if claimed < self.options.batch:
                    break
        finally:
            if sending is not None:
                await sending
        return report

    async def _send_all(self, ready: list[OutboxItem], report: DeliveryReport) -> None:
        """Send a claimed batch; results are committed in small groups while sends go on.

        One commit per send would cap throughput at the disk's fsync rate (about 30 a second on
        SQLite here); the recorder instead writes whatever results arrived while its previous
        commit ran, so a crash can repeat at most the sends of one in-flight commit.
        """
        semaphore = asyncio.Semaphore(self.options.concurrency)
        results: asyncio.Queue[_Record | None] = asyncio.Queue()
        recorder = asyncio.create_task(self._record(results))

        async def one(item: OutboxItem) -> None:
            async with semaphore:
                await results.put(await self._send(item, report))

        try:
            await asyncio.gather(*(one(item) for item in ready))
        finally:
            await results.put(None)
            await recorder

    async def _record(self, results: asyncio.Queue[_Record | None]) -> None:
        done = False
        while not done:
            group = [await results.get()]
            while not results.empty():
                group.append(results.get_nowait())
            done = None in group
            records = [r for r in group if r is not None]
            if records:
                async with self.sessionmaker.begin() as session:
                    repo = OutboxRepo(session)
                    for record in records:
                        await record(repo)

    # -- 1. claim and prepare -------------------------------------------------------------------
    async def _claim_and_prepare(self, report: DeliveryReport) -> tuple[int, list[OutboxItem]]:
        now = self.clock.now()
        ready: list[OutboxItem] = []
        async with self.sessionmaker.begin() as session:
            repo = OutboxRepo(session)
            items = await repo.claim(
                now, self.holder, now + self.options.lease, self.platforms, self.options.batch
            )
            report.claimed += len(items)
            for item in items:
                prepared = await self._prepare(session, repo, item, now, report)
                if prepared is not None:
                    ready.append(prepared)
        return len(items), ready

    async def _prepare(
        self,
        session: AsyncSession,
        repo: OutboxRepo,
        item: OutboxItem,
        now: datetime,
        report: DeliveryReport,
    ) -> OutboxItem | None:
        """Decide what a claimed row becomes: messages to send, a hold, or a final status."""
        campaign = self.settings.campaign_by_id.get(item.campaign_id)
        if campaign is None:
            report.cancelled += 1
            await repo.finish(item.id, "cancelled", now, detail="the campaign left the config")
            return None
        _, closes = self.settings.campaign_window(campaign)
        if closes is not None and now >= closes:
            report.cancelled += 1
            await repo.finish(item.id, "cancelled", now, detail="the campaign has closed")
            return None
        if item.attempts == 0 and now > item.next_attempt_at + self.options.grace:
            report.missed += 1
            await repo.finish(
                item.id,
                "missed",
                now,
                detail=(
                    f"was due {item.next_attempt_at.isoformat()}; the bot was not running within "
                    f"the {format_duration(self.options.grace)} grace period"
                ),
            )
            return None
        tz = participant_tz(item.timezone, self.settings.campaign_tz(campaign))
        quiet = self.settings.campaign_quiet_hours(campaign)
        if in_quiet_hours(now, quiet, tz):
            until = defer_past_quiet_hours(now, quiet, tz)
            report.held += 1
            await repo.hold(item.id, until, now, f"held for quiet hours until {until.isoformat()}")
            return None
        enrolment = await EnrolmentRepo(session).get(item.participant_id, item.campaign_id)
        if enrolment is None or enrolment.opted_out_at is not None:
            report.cancelled += 1
            await repo.finish(item.id, "cancelled", now, detail="no longer taking part")
            return None
        if item.payload is not None:
            return item  # prepared before a failed attempt or a crash: send the same messages
        address, replies = await self.dispatcher.offer_in(
            session,
            item.participant_id,
            item.campaign_id,
            item.entry_key,
            item.flow_id,
            reminder=item.kind == "reminder",
        )
        if address is None:
            report.cancelled += 1
            await repo.finish(item.id, "cancelled", now, detail="the participant has no address")
            return None
        if not replies:
            status, detail = await self._why_nothing(session, item)
            setattr(report, status, getattr(report, status) + 1)
            await repo.finish(item.id, status, now, detail=detail)
            return None
        if item.kind == "reminder" and replies[0].text != say.REMINDER:
            # The flow had lapsed (idle) and the engine started it afresh: still say why we write.
            replies = [Outbound(say.REMINDER), *replies]
        payload = {
            "address": asdict(address),
            "messages": [outbound_to_json(reply) for reply in replies],
        }
        await repo.set_payload(item.id, payload, now)
        return _with_payload(item, payload)

    async def _why_nothing(self, session: AsyncSession, item: OutboxItem) -> tuple[str, str]:
        """The engine offered nothing to send: say why, so the outbox explains itself."""
        state = ConversationState.from_json(await StateRepo(session).load(item.participant_id))
        if any(
            p.entry_key == item.entry_key and p.campaign_id == item.campaign_id
            for p in state.pending
        ):
            return "queued", "waits behind the flow under way; it starts when that one ends"
        if state.is_finished(item.campaign_id, item.entry_key):
            return "cancelled", "already finished"
        active = state.active
        if active and active.entry_key == item.entry_key:
            return "cancelled", "already under way (started when they joined or earlier)"
        return "cancelled", f"not offered (participant is {state.stage})"

    # -- 2 and 3. send and record ---------------------------------------------------------------
    async def _send(self, item: OutboxItem, report: DeliveryReport) -> _Record:
        """Send one row's messages; returns how to record the outcome."""
        assert item.payload is not None
        address = Address(**item.payload["address"])
        messages = [outbound_from_json(m) for m in item.payload["messages"]]
        parts = item.parts_sent
        msg_id: str | None = None
        attempts = item.attempts + 1
        try:
            adapter = self.adapters.get(address.platform)
            if adapter is None:
                raise AdapterError(f"no {address.platform} adapter is running in this process")
            uncertain = None
            for message in messages[parts:]:
                outcomes: list[DeliveryOutcome] = []
                token = _current_send.set(outcomes)
                try:
                    msg_id = await adapter.send(address, message)
                finally:
                    _current_send.reset(token)
                bad = [o for o in outcomes if o.status != "sent"]
                if any(o.status == "failed" for o in bad):
                    raise AdapterError(bad[-1].error or "the platform did not accept the message")
                if bad:
                    uncertain = bad[-1].error or "the platform may have accepted it"
                parts += 1
        except Exception as exc:  # noqa: BLE001 - any adapter failure is one failed attempt
            return self._failed(item, exc, attempts, parts, report)
        report.sent += 1
        now = self.clock.now()
        detail = f"uncertain, not repeated: {uncertain}" if uncertain else None

        async def record(repo: OutboxRepo) -> None:
            await repo.finish(
                item.id,
                "sent",
                now,
                attempts=attempts,
                parts_sent=parts,
                platform_msg_id=msg_id,
                detail=detail,
            )

        return record

    def _failed(
        self,
        item: OutboxItem,
        exc: Exception,
        attempts: int,
        parts: int,
        report: DeliveryReport,
    ) -> _Record:
        now = self.clock.now()
        error = f"{type(exc).__name__}: {exc}"
        permanent = bool(getattr(exc, "permanent", False))
        if attempts >= self.options.max_attempts or permanent:
            report.failed += 1
            log.error("giving up on outbox send %s after %s: %s", item.id, attempts, error)
            detail = (
                f"gave up after {attempts} attempt(s)"
                f"{' (the platform refused for good)' if permanent else ''}: {error}"
            )

            async def give_up(repo: OutboxRepo) -> None:
                await repo.finish(
                    item.id, "failed", now, detail=detail, attempts=attempts, parts_sent=parts
                )

            return give_up
        retry_after = exc.retry_after if isinstance(exc, AdapterError) else None
        wait = self.options.backoff_after(attempts, retry_after)
        report.retried += 1
        log.warning("outbox send %s failed (try %s): %s", item.id, attempts, error)

        async def retry(repo: OutboxRepo) -> None:
            await repo.retry_later(
                item.id,
                now,
                error=error,
                attempts=attempts,
                parts_sent=parts,
                next_attempt_at=now + wait,
            )

        return retry


def _with_payload(item: OutboxItem, payload: dict[str, object]) -> OutboxItem:
    from dataclasses import replace

    return replace(item, payload=payload)
