"""Sending the outbox: claim due rows, let the engine decide the messages, send, record the result.

Each send goes through these steps:

1. **claim and prepare** (one transaction): due ``pending`` rows are reserved for this process
   with a short lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL); for each, the engine starts,
   queues or re-prompts the flow and the rendered messages are stored in the row;
2. **mark**: before each message (part) of a row goes to the platform, ``attempt_at`` is set and
   *committed* (:mod:`bot.scheduling.send_journal` groups these commits);
3. **send**, outside any transaction, through the participant's adapter;
4. **record**: ``sent`` once the adapter returned (committed with the next group, usually within
   one commit's time); a failure clears the mark, keeps the stored messages and retries with
   backoff, and after ``max_attempts`` the row is ``failed`` with the last error.

The guarantee, on SQLite and PostgreSQL alike, wherever the process is killed:

* a part is handed to the platform only after its mark is durable, so the parts that *may* have
  been delivered without a recorded result are exactly the rows found marked and unrecorded;
* such a part is never sent again: the row becomes ``uncertain`` (``status`` counts it), or, when
  later parts remain, those are sent and the row ends ``uncertain``; the reminder machinery
  re-asks anyone whose flow then stays unfinished;
* rows claimed but never marked were certainly not sent, and go back to ``pending``;
* an adapter that raises means the platform did not take the message (retried); one that may
  have taken it reports an ``uncertain`` :class:`~bot.events.DeliveryOutcome` instead (a timeout
  after sending), which is recorded the same way and not repeated.

Who settles a dead sender's claims: on SQLite (one sender, enforced by a file lock) the next
start settles every claim at once; on PostgreSQL any process settles claims whose lease lapsed.
Leases are short (``SchedulerOptions.lease``, default 10 s) and renewed by a heartbeat while the
sender works, so a dead process's work passes to another within seconds. A sender only marks,
and only records, rows it still holds, so a claim taken over after a lapse is never sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.base import Adapter, noting_writes
from bot.clock import Clock
from bot.config import Settings
from bot.dispatcher import Dispatcher, outbound_from_json, outbound_to_json
from bot.errors import AdapterError
from bot.events import Address, DeliveryOutcome, Outbound
from bot.flows import messages as say
from bot.flows.catalogs import said
from bot.flows.state import ConversationState
from bot.scheduling.plan import SchedulerOptions, participant_tz
from bot.scheduling.preview import defer_past_quiet_hours, in_quiet_hours
from bot.scheduling.send_journal import MarkRefused, Record, SendJournal
from bot.timeparse import format_duration
from storage.outbox_repository import UNCERTAIN_NOTE, OutboxItem, OutboxRepo
from storage.repositories import EnrolmentRepo, StateRepo

log = logging.getLogger(__name__)

PREPARE_CHUNK = 4
"""Claimed rows prepared per transaction: short enough that marks never wait long for it."""

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
    uncertain: int = 0
    queued: int = 0
    held: int = 0
    retried: int = 0
    failed: int = 0
    missed: int = 0
    cancelled: int = 0
    recovered: int = 0
    taken_over: int = 0


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
        bind = sessionmaker.kw.get("bind")
        self._one_writer = bind is not None and bind.dialect.name == "sqlite"
        """SQLite has one write lock for the whole file: preparing waits for the journal."""
        self.held: set[int] = set()
        """Rows this sender has claimed and not yet settled (what its heartbeat keeps)."""
        self.last_renewal: datetime | None = None

    @property
    def platforms(self) -> list[str]:
        return [name for name in self.adapters if name != "console"]

    async def deliver_due(self) -> DeliveryReport:
        """Send everything due now, batch by batch, until nothing due is left.

        The next batch is claimed and prepared while the previous one is being sent, so a
        rate-limited platform is kept busy instead of waiting for the database between batches.
        Every claim lapsed by another (dead) sender is settled first, in the same transactions.
        """
        report = DeliveryReport()
        sending: asyncio.Task[None] | None = None
        journal = SendJournal(self.sessionmaker, self.clock, self.holder, self.options.lease)
        heartbeat = asyncio.create_task(self._heartbeat(), name="outbox-heartbeat")
        try:
            async with journal:
                try:
                    while True:
                        claimed, ready = await self._claim_and_prepare(report, journal)
                        if sending is not None:
                            await sending
                            sending = None
                        if ready:
                            sending = asyncio.create_task(self._send_all(ready, report, journal))
                        if claimed < self.options.batch:
                            break
                finally:
                    if sending is not None:
                        await sending
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self._release_leftovers()
        return report

    async def _heartbeat(self) -> None:
        """Renew this sender's leases every third of a lease while it works."""
        every = max(self.options.lease.total_seconds() / 3, 0.1)
        while True:
            await asyncio.sleep(every)
            if not self.held:
                continue
            now = self.clock.now()
            try:
                async with self.sessionmaker.begin() as session:
                    await OutboxRepo(session).renew(self.holder, now, now + self.options.lease)
                self.last_renewal = now
            except Exception as exc:  # noqa: BLE001 - tried again; a lapse is safe, only slower
                log.warning("outbox: renewing leases failed (%s)", type(exc).__name__)

    async def _release_leftovers(self) -> None:
        """Give back rows still claimed after a pass (a mark the database refused)."""
        if not self.held:
            return
        try:
            async with self.sessionmaker.begin() as session:
                await OutboxRepo(session).release_unattempted(
                    self.holder, sorted(self.held), self.clock.now()
                )
        except Exception as exc:  # noqa: BLE001 - their leases lapse and anyone settles them
            log.warning("outbox: giving back unsent claims failed (%s)", type(exc).__name__)
        self.held.clear()

    async def _send_all(
        self, ready: list[OutboxItem], report: DeliveryReport, journal: SendJournal
    ) -> None:
        """Send a claimed batch, ``concurrency`` rows at a time; results go to the journal."""
        semaphore = asyncio.Semaphore(self.options.concurrency)

        async def one(item: OutboxItem) -> None:
            async with semaphore:
                record = await self._send(item, report, journal)
            if record is not None:
                journal.record(record)
            self.held.discard(item.id)

        await asyncio.gather(*(one(item) for item in ready))

    # -- 1. claim and prepare -------------------------------------------------------------------
    async def _claim_and_prepare(
        self, report: DeliveryReport, journal: SendJournal | None = None
    ) -> tuple[int, list[OutboxItem]]:
        """Settle lapsed claims and claim a batch (one short transaction), then prepare it in
        small transactions, so marks and results of the batch being sent are never held up
        for long behind the database's write lock (SQLite has one for the whole file)."""
        now = self.clock.now()
        async with self.sessionmaker.begin() as session:
            repo = OutboxRepo(session)
            recovered = await repo.recover(now, exclude_holder=self.holder if self.held else None)
            items = await repo.claim(
                now, self.holder, now + self.options.lease, self.platforms, self.options.batch
            )
        if recovered.total:
            report.recovered += recovered.total
            report.uncertain += recovered.uncertain
            log.warning(
                "outbox: settled %d send(s) a stopped sender held: %d back to pending, "
                "%d uncertain (not repeated), %d resumed after an uncertain part",
                recovered.total,
                recovered.released,
                recovered.uncertain,
                recovered.resumed,
            )
        report.claimed += len(items)
        self.held.update(item.id for item in items)
        ready: list[OutboxItem] = []
        for start in range(0, len(items), PREPARE_CHUNK):
            if journal is not None and self._one_writer:
                await journal.idle()  # the sends under way write first
            settled: list[int] = []
            async with self.sessionmaker.begin() as session:
                repo = OutboxRepo(session)
                for item in items[start : start + PREPARE_CHUNK]:
                    prepared = await self._prepare(session, repo, item, now, report)
                    if prepared is None:
                        settled.append(item.id)
                    else:
                        ready.append(prepared)
            self.held.difference_update(settled)
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
        reminder = said(say.REMINDER, replies[0].lang)  # in the person's language
        if item.kind == "reminder" and replies[0].text != reminder:
            # The flow had lapsed (idle) and the engine started it afresh: still say why we write.
            replies = [Outbound(reminder, lang=replies[0].lang), *replies]
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

    # -- 2, 3 and 4. mark, send and record -----------------------------------------------------
    async def _send(
        self, item: OutboxItem, report: DeliveryReport, journal: SendJournal
    ) -> Record | None:
        """Send one row's remaining messages, each after its durable mark; returns how to
        record the outcome (None when another sender took the row over)."""
        assert item.payload is not None
        address = Address(**item.payload["address"])
        messages = [outbound_from_json(m) for m in item.payload["messages"]]
        parts, uncertain = item.parts_sent, item.uncertain_parts
        msg_id: str | None = None
        attempts = item.attempts + 1
        note: str | None = None
        try:
            adapter = self.adapters.get(address.platform)
            if adapter is None:
                raise AdapterError(f"no {address.platform} adapter is running in this process")
            # An adapter that keeps a write note marks each part itself, after its rate-limit
            # and retry waits, right before the request is written; for any other the mark
            # comes first (a crash while it waits then counts the part as uncertain).
            late = bool(getattr(adapter, "notes_writes", False))
            for message in messages[parts:]:
                mark = _Mark(journal, item.id, parts, uncertain)
                outcomes: list[DeliveryOutcome] = []
                token = _current_send.set(outcomes)
                try:
                    if late:
                        with noting_writes(mark):
                            msg_id = await adapter.send(address, message)
                    else:
                        await mark.before()
                        msg_id = await adapter.send(address, message)
                except MarkRefused as exc:
                    return self._unmarked(item, parts, uncertain, exc)
                except _TakenOver:
                    report.taken_over += 1
                    log.warning("outbox send %s was taken over by another sender", item.id)
                    return None
                finally:
                    _current_send.reset(token)
                bad = [o for o in outcomes if o.status != "sent"]
                if any(o.status == "failed" for o in bad):
                    raise AdapterError(bad[-1].error or "the platform did not accept the message")
                if bad:
                    uncertain += 1
                    note = bad[-1].error or "the platform may have accepted it"
                parts += 1
        except Exception as exc:  # noqa: BLE001 - any adapter failure is one failed attempt
            return self._failed(item, exc, attempts, parts, uncertain, report)
        now = self.clock.now()
        status = "uncertain" if uncertain else "sent"
        detail = None
        if uncertain:
            report.uncertain += 1
            detail = f"uncertain, not repeated: {note or UNCERTAIN_NOTE}"
        else:
            report.sent += 1

        async def record(repo: OutboxRepo) -> None:
            kept = await repo.finish(
                item.id,
                status,
                now,
                attempts=attempts,
                parts_sent=parts,
                uncertain_parts=uncertain,
                platform_msg_id=msg_id,
                detail=detail,
                holder=self.holder,
            )
            if not kept:  # our claim lapsed and another sender settled it as uncertain
                log.warning("outbox send %s went out after its claim lapsed", item.id)

        return record

    def _unmarked(self, item: OutboxItem, parts: int, uncertain: int, exc: MarkRefused) -> Record:
        """The database did not take a mark: nothing more was sent; try again shortly."""
        now = self.clock.now()
        error = f"the database did not record the send: {exc}"

        async def later(repo: OutboxRepo) -> None:
            await repo.retry_later(
                item.id,
                now,
                error=error,
                attempts=item.attempts,
                parts_sent=parts,
                uncertain_parts=uncertain,
                next_attempt_at=now + self.options.backoff,
                holder=self.holder,
            )

        return later

    def _failed(
        self,
        item: OutboxItem,
        exc: Exception,
        attempts: int,
        parts: int,
        uncertain: int,
        report: DeliveryReport,
    ) -> Record:
        now = self.clock.now()
        error = f"{type(exc).__name__}: {exc}"
        permanent = bool(getattr(exc, "permanent", False))
        if attempts >= self.options.max_attempts or permanent:
            report.failed += 1
            log.error(
                "giving up on outbox send %s after %s: %s",
                item.id,
                attempts,
                error,
                extra={"campaign": item.campaign_id, "flow": item.flow_id},
            )
            detail = (
                f"gave up after {attempts} attempt(s)"
                f"{' (the platform refused for good)' if permanent else ''}: {error}"
            )

            async def give_up(repo: OutboxRepo) -> None:
                await repo.finish(
                    item.id,
                    "failed",
                    now,
                    detail=detail,
                    attempts=attempts,
                    parts_sent=parts,
                    uncertain_parts=uncertain,
                    holder=self.holder,
                )

            return give_up
        retry_after = exc.retry_after if isinstance(exc, AdapterError) else None
        wait = self.options.backoff_after(attempts, retry_after)
        report.retried += 1
        log.warning(
            "outbox send %s failed (try %s): %s",
            item.id,
            attempts,
            error,
            extra={"campaign": item.campaign_id, "flow": item.flow_id},
        )

        async def retry(repo: OutboxRepo) -> None:
            await repo.retry_later(
                item.id,
                now,
                error=error,
                attempts=attempts,
                parts_sent=parts,
                uncertain_parts=uncertain,
                next_attempt_at=now + wait,
                holder=self.holder,
            )

        return retry


class _TakenOver(Exception):
    """The row is no longer this sender's (its claim lapsed and another took it): do not send."""


class _Mark:
    """One part's durable "about to send" mark (a :class:`~bot.adapters.base.WriteNote`).

    ``before`` commits the mark (raising :class:`MarkRefused` or :class:`_TakenOver` to stop
    the send); ``refused`` takes it back after a try the platform refused, so only a part whose
    request may have been written is ever found marked after a crash.
    """

    __slots__ = ("item_id", "journal", "marked", "parts", "uncertain")

    def __init__(self, journal: SendJournal, item_id: int, parts: int, uncertain: int) -> None:
        self.journal = journal
        self.item_id = item_id
        self.parts = parts
        self.uncertain = uncertain
        self.marked = False

    async def before(self) -> None:
        if self.marked:
            return
        if not await self.journal.mark(self.item_id, self.parts, self.uncertain):
            raise _TakenOver()
        self.marked = True

    async def refused(self) -> None:
        if not self.marked:
            return
        try:
            await self.journal.unmark(self.item_id)
            self.marked = False
        except MarkRefused:
            log.warning("outbox send %s: could not take back its mark", self.item_id)


def _with_payload(item: OutboxItem, payload: dict[str, object]) -> OutboxItem:
    from dataclasses import replace

    return replace(item, payload=payload)
