"""Repositories for the scheduler's outbox and the campaign status counts.

Like every repository, they take a session and never commit; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (
    Enrolment,
    FlowProgress,
    OutboxRow,
    PlatformAddress,
    Response,
)

UNCERTAIN_NOTE = (
    "may have been delivered: the sender stopped after handing it to the platform and before "
    "recording the answer; not sent again"
)
"""``last_error`` of a part that may or may not have arrived (shown by ``status`` as uncertain)."""


@dataclass(frozen=True, slots=True)
class OutboxTarget:
    """An enrolled, consenting participant a planned send may go to."""

    participant_id: int
    group_id: str
    platform: str
    joined_at: datetime
    timezone: str | None


@dataclass(frozen=True, slots=True)
class ReminderTarget:
    """A participant who started a flow and has not finished it."""

    participant_id: int
    platform: str
    timezone: str | None
    entry_key: str
    flow_id: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class NewOutbox:
    """A send to plan; ``status`` is ``pending``, or ``missed`` when it is already too late."""

    participant_id: int
    campaign_id: str
    schedule_key: str
    entry_key: str
    flow_id: str
    occurrence: str
    kind: str
    platform: str
    nominal_at: datetime
    due_at: datetime
    status: str = "pending"
    detail: str | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One outbox row as the sender sees it."""

    id: int
    participant_id: int
    campaign_id: str
    schedule_key: str
    entry_key: str
    flow_id: str
    occurrence: str
    kind: str
    platform: str
    nominal_at: datetime
    due_at: datetime
    next_attempt_at: datetime
    status: str
    attempts: int
    parts_sent: int
    last_error: str | None
    payload: dict[str, Any] | None
    sent_at: datetime | None = None
    timezone: str | None = None
    uncertain_parts: int = 0
    attempt_at: datetime | None = None
    claimed_by: str | None = None


@dataclass(frozen=True, slots=True)
class Recovered:
    """What :meth:`OutboxRepo.recover` did with sends whose sender stopped holding them.

    ``released``: never handed to the platform, back to ``pending`` to be sent.
    ``uncertain``: a part may have been delivered; finished as ``uncertain``, not repeated.
    ``resumed``: a part may have been delivered and later parts were not; those are sent.
    """

    released: int = 0
    uncertain: int = 0
    resumed: int = 0

    @property
    def total(self) -> int:
        return self.released + self.uncertain + self.resumed


def _outbox_item(row: OutboxRow) -> OutboxItem:
    return OutboxItem(
        row.id,
        row.participant_id,
        row.campaign_id,
        row.schedule_key,
        row.entry_key,
        row.flow_id,
        row.occurrence,
        row.kind,
        row.platform,
        row.nominal_at,
        row.due_at,
        row.next_attempt_at,
        row.status,
        row.attempts,
        row.parts_sent,
        row.last_error,
        row.payload,
        row.sent_at,
        row.timezone,
        row.uncertain_parts or 0,
        row.attempt_at,
        row.claimed_by,
    )


class OutboxRepo:
    """Planned sends: planned idempotently, claimed by one sender, finished with a reason."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- planning -------------------------------------------------------------------------------
    async def plan(self, rows: Sequence[NewOutbox], now: datetime) -> int:
        """Insert sends not planned yet; an existing (participant, entry, occurrence) wins.

        Returns:
            How many rows were new.
        """
        if not rows:
            return 0
        values = [
            {
                "participant_id": r.participant_id,
                "campaign_id": r.campaign_id,
                "schedule_key": r.schedule_key,
                "entry_key": r.entry_key,
                "flow_id": r.flow_id,
                "occurrence": r.occurrence,
                "kind": r.kind,
                "platform": r.platform,
                "timezone": r.timezone,
                "nominal_at": r.nominal_at,
                "due_at": r.due_at,
                "next_attempt_at": r.due_at,
                "status": r.status,
                "attempts": 0,
                "parts_sent": 0,
                "last_error": r.detail,
                "created_at": now,
                "updated_at": now,
            }
            for r in rows
        ]
        if self.session.bind.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt: Any = pg_insert(OutboxRow).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(OutboxRow).on_conflict_do_nothing()
        inserted = 0
        for start in range(0, len(values), 500):
            # RETURNING lists only the rows that were new (rowcount is unreliable in bulk).
            result = await self.session.execute(
                stmt.returning(OutboxRow.id), values[start : start + 500]
            )
            inserted += len(result.all())
        return inserted

    async def targets_without(
        self,
        campaign_id: str,
        entry_key: str,
        occurrence: str,
        *,
        joined_before: datetime,
        groups: Sequence[str],
        platforms: Sequence[str],
    ) -> list[OutboxTarget]:
        """Active enrolments joined by ``joined_before`` with no outbox row for ``occurrence``."""
        planned = exists().where(
            OutboxRow.participant_id == Enrolment.participant_id,
            OutboxRow.campaign_id == campaign_id,
            OutboxRow.entry_key == entry_key,
            OutboxRow.occurrence == occurrence,
        )
        query = (
            select(
                Enrolment.participant_id,
                Enrolment.group_id,
                Enrolment.channel,
                Enrolment.joined_at,
                PlatformAddress.timezone,
            )
            .outerjoin(
                PlatformAddress,
                and_(
                    PlatformAddress.participant_id == Enrolment.participant_id,
                    PlatformAddress.platform == Enrolment.channel,
                ),
            )
            .where(
                Enrolment.campaign_id == campaign_id,
                Enrolment.opted_out_at.is_(None),
                Enrolment.joined_at <= joined_before,
                Enrolment.group_id.in_(list(groups)),
                Enrolment.channel.in_(list(platforms)),
                ~planned,
            )
            .order_by(Enrolment.id)
        )
        rows = (await self.session.execute(query)).all()
        seen: set[int] = set()
        out = []
        for r in rows:
            if r.participant_id in seen:  # two addresses on one platform: plan once
                continue
            seen.add(r.participant_id)
            out.append(
                OutboxTarget(r.participant_id, r.group_id, r.channel, r.joined_at, r.timezone)
            )
        return out

    async def reminder_targets(
        self,
        campaign_id: str,
        occurrence: str,
        *,
        started_before: datetime,
        groups: Sequence[str],
        platforms: Sequence[str],
    ) -> list[ReminderTarget]:
        """Unfinished flows started by ``started_before`` with no ``occurrence`` reminder yet."""
        planned = exists().where(
            OutboxRow.participant_id == FlowProgress.participant_id,
            OutboxRow.campaign_id == campaign_id,
            OutboxRow.entry_key == FlowProgress.entry_key,
            OutboxRow.occurrence == occurrence,
        )
        query = (
            select(
                FlowProgress.participant_id,
                Enrolment.channel,
                PlatformAddress.timezone,
                FlowProgress.entry_key,
                FlowProgress.flow_id,
                FlowProgress.started_at,
            )
            .join(
                Enrolment,
                and_(
                    Enrolment.participant_id == FlowProgress.participant_id,
                    Enrolment.campaign_id == FlowProgress.campaign_id,
                ),
            )
            .outerjoin(
                PlatformAddress,
                and_(
                    PlatformAddress.participant_id == Enrolment.participant_id,
                    PlatformAddress.platform == Enrolment.channel,
                ),
            )
            .where(
                FlowProgress.campaign_id == campaign_id,
                FlowProgress.finished_at.is_(None),
                FlowProgress.started_at.is_not(None),
                FlowProgress.started_at <= started_before,
                Enrolment.opted_out_at.is_(None),
                Enrolment.group_id.in_(list(groups)),
                Enrolment.channel.in_(list(platforms)),
                ~planned,
            )
            .order_by(FlowProgress.id)
        )
        rows = (await self.session.execute(query)).all()
        return [
            ReminderTarget(
                r.participant_id, r.channel, r.timezone, r.entry_key, r.flow_id, r.started_at
            )
            for r in rows
        ]

    async def last_nominal(self, campaign_id: str, schedule_key: str) -> datetime | None:
        """The latest occurrence of a schedule entry planned so far (for cron catch-up)."""
        value = await self.session.scalar(
            select(func.max(OutboxRow.nominal_at)).where(
                OutboxRow.campaign_id == campaign_id,
                OutboxRow.schedule_key == schedule_key,
                OutboxRow.kind == "prompt",
            )
        )
        return _aware(value)

    async def earliest_join(self, campaign_id: str) -> datetime | None:
        value = await self.session.scalar(
            select(func.min(Enrolment.joined_at)).where(
                Enrolment.campaign_id == campaign_id, Enrolment.opted_out_at.is_(None)
            )
        )
        return _aware(value)

    # -- sending --------------------------------------------------------------------------------
    def _locked(self, query: Any) -> Any:
        """``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock already serialises."""
        if self.session.bind.dialect.name == "postgresql":
            return query.with_for_update(skip_locked=True)
        return query

    async def claim(
        self,
        now: datetime,
        holder: str,
        lease_until: datetime,
        platforms: Sequence[str],
        limit: int,
    ) -> list[OutboxItem]:
        """Take up to ``limit`` due ``pending`` sends for ``holder`` until ``lease_until``.

        On PostgreSQL concurrent senders skip each other's rows (``FOR UPDATE SKIP LOCKED``);
        on SQLite the transaction holds the database's write lock. A claim that lapsed is not
        claimable here: :meth:`recover` first decides what it becomes.

        A person's sends keep their planned order across processes: a send is not taken while
        an earlier one of the same person and campaign is claimed by another sender (perhaps
        one that died before preparing it). Taking it would start the later flow first and
        queue the earlier one behind it (challenge 1 before the pulse due at the same time).
        """
        if not platforms:
            return []
        earlier = aliased(OutboxRow)
        held_elsewhere = exists().where(
            earlier.participant_id == OutboxRow.participant_id,
            earlier.campaign_id == OutboxRow.campaign_id,
            earlier.id < OutboxRow.id,
            earlier.status == "sending",
            earlier.claimed_by != holder,
        )
        due = self._locked(
            select(OutboxRow.id)
            .where(
                OutboxRow.platform.in_(list(platforms)),
                OutboxRow.status == "pending",
                OutboxRow.next_attempt_at <= now,
                ~held_elsewhere,
            )
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
        )
        ids = list((await self.session.scalars(due)).all())
        if not ids:
            return []
        await self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(ids))
            .values(
                status="sending",
                claimed_by=holder,
                lease_until=lease_until,
                attempt_at=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        rows = await self.session.scalars(
            select(OutboxRow)
            .where(OutboxRow.id.in_(ids))
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .execution_options(populate_existing=True)
        )
        return [_outbox_item(r) for r in rows]

    async def renew(self, holder: str, now: datetime, lease_until: datetime) -> int:
        """Extend every lease ``holder`` has (its heartbeat); returns how many it holds."""
        result = await self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.claimed_by == holder, OutboxRow.status == "sending")
            .values(lease_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def mark_attempts(
        self,
        holder: str,
        marks: Sequence[tuple[int, int, int]],
        now: datetime,
        lease_until: datetime,
    ) -> set[int]:
        """Note that part ``parts_sent`` of each ``(id, parts_sent, uncertain_parts)`` is about
        to go to the platform; returns the ids still claimed by ``holder`` (only those may be
        sent: another process may have taken over a claim that lapsed)."""
        groups: dict[tuple[int, int], list[int]] = {}
        for outbox_id, parts, uncertain in marks:
            groups.setdefault((parts, uncertain), []).append(outbox_id)
        owned: set[int] = set()
        for (parts, uncertain), ids in groups.items():
            result = await self.session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id.in_(ids),
                    OutboxRow.claimed_by == holder,
                    OutboxRow.status == "sending",
                )
                .values(
                    attempt_at=now,
                    parts_sent=parts,
                    uncertain_parts=uncertain,
                    lease_until=lease_until,
                    updated_at=now,
                )
                .returning(OutboxRow.id)
                .execution_options(synchronize_session=False)
            )
            owned.update(result.scalars().all())
        return owned

    async def unmark_attempts(self, holder: str, ids: Sequence[int], now: datetime) -> None:
        """Take back :meth:`mark_attempts` on rows ``holder`` still holds: the platform refused
        that try (a 429, an error answer, a connection that never opened), so the part did not
        arrive and a crash from here on must not count it as possibly delivered."""
        if not ids:
            return
        await self.session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id.in_(list(ids)),
                OutboxRow.claimed_by == holder,
                OutboxRow.status == "sending",
            )
            .values(attempt_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    async def recover(
        self, now: datetime, *, everyone: bool = False, exclude_holder: str | None = None
    ) -> Recovered:
        """Settle claimed sends whose sender stopped renewing its lease (or died).

        A row marked as being attempted may have reached the platform: that part is counted
        uncertain and never sent again; the row finishes as ``uncertain`` or, when later parts
        remain, goes back to ``pending`` for them. A row never attempted goes back to
        ``pending`` as it was. ``everyone`` settles every claim whatever its lease (SQLite at
        start-up, where a file lock proves no other sender is alive).
        """
        query = select(OutboxRow).where(OutboxRow.status == "sending")
        if not everyone:
            query = query.where(OutboxRow.lease_until <= now)
        if exclude_holder is not None:
            query = query.where(
                or_(OutboxRow.claimed_by.is_(None), OutboxRow.claimed_by != exclude_holder)
            )
        rows = list(
            await self.session.scalars(
                self._locked(query.order_by(OutboxRow.id)).execution_options(populate_existing=True)
            )
        )
        released: list[int] = []
        uncertain = resumed = 0
        for row in rows:
            if row.attempt_at is None:
                released.append(row.id)
                continue
            parts = row.parts_sent + 1
            total = len((row.payload or {}).get("messages", [])) or parts
            values: dict[str, Any] = {
                "parts_sent": parts,
                "uncertain_parts": (row.uncertain_parts or 0) + 1,
                "attempts": row.attempts + 1,
                "attempt_at": None,
                "claimed_by": None,
                "lease_until": None,
                "updated_at": now,
            }
            if parts >= total:
                uncertain += 1
                values.update(status="uncertain", payload=None, last_error=UNCERTAIN_NOTE)
                values.update(sent_at=now)
            else:
                resumed += 1
                values.update(status="pending", next_attempt_at=now, last_error=UNCERTAIN_NOTE)
            await self._set(row.id, **values)
        if released:
            await self.session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(released))
                .values(status="pending", claimed_by=None, lease_until=None, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        return Recovered(len(released), uncertain, resumed)

    async def release_unattempted(self, holder: str, ids: Sequence[int], now: datetime) -> int:
        """Give back claimed sends ``holder`` never handed to the platform (e.g. it stopped)."""
        if not ids:
            return 0
        result = await self.session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id.in_(list(ids)),
                OutboxRow.claimed_by == holder,
                OutboxRow.status == "sending",
                OutboxRow.attempt_at.is_(None),
            )
            .values(status="pending", claimed_by=None, lease_until=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def _set(self, outbox_id: int, holder: str | None = None, **values: Any) -> bool:
        """Update one row; with ``holder``, only while that sender still holds its claim."""
        query = update(OutboxRow).where(OutboxRow.id == outbox_id)
        if holder is not None:
            query = query.where(OutboxRow.claimed_by == holder, OutboxRow.status == "sending")
        result = await self.session.execute(
            query.values(**values).execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 1))

    async def set_payload(self, outbox_id: int, payload: dict[str, Any], now: datetime) -> None:
        await self._set(outbox_id, payload=payload, updated_at=now)

    async def hold(self, outbox_id: int, until: datetime, now: datetime, note: str) -> None:
        """Put a claimed send back to wait (quiet hours): not an attempt, not an error."""
        await self._set(
            outbox_id,
            status="pending",
            next_attempt_at=until,
            claimed_by=None,
            lease_until=None,
            last_error=note,
            updated_at=now,
        )

    async def finish(
        self,
        outbox_id: int,
        status: str,
        now: datetime,
        *,
        detail: str | None = None,
        attempts: int | None = None,
        parts_sent: int | None = None,
        uncertain_parts: int | None = None,
        platform_msg_id: str | None = None,
        holder: str | None = None,
    ) -> bool:
        """Close a send for good (sent, uncertain, queued, cancelled, missed, failed) and drop
        its payload; with ``holder``, only while that sender still holds the claim.

        Returns:
            False when ``holder`` no longer held it (another sender settled it meanwhile).
        """
        values: dict[str, Any] = {
            "status": status,
            "last_error": detail,
            "payload": None,
            "claimed_by": None,
            "lease_until": None,
            "attempt_at": None,
            "updated_at": now,
        }
        if status in ("sent", "uncertain"):
            values["sent_at"] = now
            values["platform_msg_id"] = platform_msg_id
        if attempts is not None:
            values["attempts"] = attempts
        if parts_sent is not None:
            values["parts_sent"] = parts_sent
        if uncertain_parts is not None:
            values["uncertain_parts"] = uncertain_parts
        return await self._set(outbox_id, holder, **values)

    async def retry_later(
        self,
        outbox_id: int,
        now: datetime,
        *,
        error: str,
        attempts: int,
        parts_sent: int,
        next_attempt_at: datetime,
        uncertain_parts: int = 0,
        holder: str | None = None,
    ) -> bool:
        """Record a failed attempt and when to try again (the payload is kept)."""
        return await self._set(
            outbox_id,
            holder,
            status="pending",
            attempts=attempts,
            parts_sent=parts_sent,
            uncertain_parts=uncertain_parts,
            last_error=error,
            next_attempt_at=next_attempt_at,
            claimed_by=None,
            lease_until=None,
            attempt_at=None,
            updated_at=now,
        )

    async def get(self, outbox_id: int) -> OutboxItem | None:
        row = await self.session.get(OutboxRow, outbox_id, populate_existing=True)
        return _outbox_item(row) if row else None

    async def all(self, campaign_id: str | None = None) -> list[OutboxItem]:
        query = select(OutboxRow).order_by(OutboxRow.id)
        if campaign_id:
            query = query.where(OutboxRow.campaign_id == campaign_id)
        rows = await self.session.scalars(query.execution_options(populate_existing=True))
        return [_outbox_item(r) for r in rows]

    async def next_due(self, platforms: Sequence[str]) -> datetime | None:
        """When the next claimable send comes due (pending, or a claimed one's lease ends)."""
        if not platforms:
            return None
        pending = await self.session.scalar(
            select(func.min(OutboxRow.next_attempt_at)).where(
                OutboxRow.status == "pending", OutboxRow.platform.in_(list(platforms))
            )
        )
        leased = await self.session.scalar(
            select(func.min(OutboxRow.lease_until)).where(
                OutboxRow.status == "sending", OutboxRow.platform.in_(list(platforms))
            )
        )
        found = [_aware(v) for v in (pending, leased) if v is not None]
        return min((v for v in found if v is not None), default=None)

    async def counts(self, campaign_id: str) -> dict[tuple[str, str], int]:
        """Outbox rows per (group, status) for one campaign."""
        rows = (
            await self.session.execute(
                select(Enrolment.group_id, OutboxRow.status, func.count())
                .join(
                    Enrolment,
                    and_(
                        Enrolment.participant_id == OutboxRow.participant_id,
                        Enrolment.campaign_id == OutboxRow.campaign_id,
                    ),
                )
                .where(OutboxRow.campaign_id == campaign_id)
                .group_by(Enrolment.group_id, OutboxRow.status)
            )
        ).all()
        return {(g, s): int(n) for g, s, n in rows}


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates bypass the column type on SQLite: make their datetimes aware UTC again."""
    from datetime import UTC

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class GroupStatus:
    """Participation in one campaign by one group (distinct participants)."""

    group_id: str
    enrolled: int
    prompted: int
    answered: int
    finished: int
    opted_out: int


class CampaignStatusRepo:
    """The numbers behind ``listening-bot status``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_group(self, campaign_id: str) -> list[GroupStatus]:
        """Per group: enrolled (still taking part), prompted, answered, finished, opted out.

        ``prompted`` counts people who were asked at least one flow; ``finished`` those who
        finished every flow they were asked; ``answered`` those with at least one stored answer.
        """
        enrolments = (
            await self.session.execute(
                select(Enrolment.participant_id, Enrolment.group_id, Enrolment.opted_out_at).where(
                    Enrolment.campaign_id == campaign_id
                )
            )
        ).all()
        progress = (
            await self.session.execute(
                select(FlowProgress.participant_id, FlowProgress.finished_at).where(
                    FlowProgress.campaign_id == campaign_id
                )
            )
        ).all()
        answered = set(
            (
                await self.session.scalars(
                    select(Response.participant_id)
                    .where(
                        Response.campaign_id == campaign_id,
                        Response.participant_id.is_not(None),
                    )
                    .distinct()
                )
            ).all()
        )
        prompted: set[int] = set()
        unfinished: set[int] = set()
        for pid, finished_at in progress:
            prompted.add(pid)
            if finished_at is None:
                unfinished.add(pid)
        groups: dict[str, list[int]] = {}
        for pid, group, opted_out_at in enrolments:
            counts = groups.setdefault(group, [0, 0, 0, 0, 0])
            if opted_out_at is not None:
                counts[4] += 1
                continue
            counts[0] += 1
            counts[1] += pid in prompted
            counts[2] += pid in answered
            counts[3] += pid in prompted and pid not in unfinished
        return [GroupStatus(g, *c) for g, c in sorted(groups.items())]
