"""Repositories: the only code that speaks SQL. Each takes a session and never commits.

The caller (the dispatcher or a CLI command) owns the transaction, as SQLAlchemy recommends:
"keep the lifecycle of the session separate and external".
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (
    ConversationRow,
    Enrolment,
    FlowProgress,
    ImportBatch,
    InboundLog,
    Invite,
    Participant,
    PlatformAddress,
    Response,
)
from storage.records import (
    AddressRef,
    EnrolmentRef,
    ImportBatchRef,
    InviteRef,
    NewResponse,
    ParticipantRef,
    ResponseRow,
)
from storage.rehearsal import creates_rehearsal_participants


def new_pseudonym() -> str:
    """A random, stable pseudonym: derived from nothing, so it reveals nothing."""
    return "P-" + secrets.token_hex(5)


INVITE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""Invite code characters: digits 2-9 and A-Z without I, L and O, so nothing is misread."""
INVITE_LENGTH = 8


def new_invite_code() -> str:
    """Eight characters of :data:`INVITE_ALPHABET` (31**8 ≈ 8.5e11 codes), stored upper-case."""
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))


def new_response_uid() -> str:
    return "R-" + secrets.token_hex(8)


class ParticipantRepo:
    """Participants and the platform addresses that reach them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find_by_address(self, platform: str, user_ref: str) -> ParticipantRef | None:
        row = (
            await self.session.execute(
                select(Participant.id, Participant.pseudonym)
                .join(PlatformAddress, PlatformAddress.participant_id == Participant.id)
                .where(PlatformAddress.platform == platform, PlatformAddress.user_ref == user_ref)
            )
        ).first()
        return ParticipantRef(row.id, row.pseudonym) if row else None

    async def language_at(self, platform: str, user_ref: str) -> str | None:
        """The language the person at this address chose (None: unknown or not chosen)."""
        return await self.session.scalar(
            select(Participant.language)
            .join(PlatformAddress, PlatformAddress.participant_id == Participant.id)
            .where(PlatformAddress.platform == platform, PlatformAddress.user_ref == user_ref)
        )

    async def set_language(self, participant_id: int, language: str | None) -> None:
        await self.session.execute(
            update(Participant).where(Participant.id == participant_id).values(language=language)
        )

    async def by_pseudonym(self, pseudonym: str) -> ParticipantRef | None:
        row = (
            await self.session.execute(
                select(Participant.id, Participant.pseudonym).where(
                    Participant.pseudonym == pseudonym
                )
            )
        ).first()
        return ParticipantRef(row.id, row.pseudonym) if row else None

    async def create(
        self,
        platform: str,
        user_ref: str,
        chat_ref: str,
        now: datetime,
        *,
        timezone: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> ParticipantRef:
        """A new participant with a fresh pseudonym and their platform address.

        ``timezone`` is the person's own IANA zone when the platform tells us (Slack does), so
        quiet hours can follow their clock rather than the campaign's. ``first_name`` and
        ``last_name`` are the platform's display names, kept with the address (so erasure takes
        them too) only to mask them in what leaves the database.
        """
        participant = Participant(
            pseudonym=new_pseudonym(),
            created_at=now,
            rehearsal=creates_rehearsal_participants(self.session),
        )
        self.session.add(participant)
        await self.session.flush()
        self.session.add(
            PlatformAddress(
                participant_id=participant.id,
                platform=platform,
                user_ref=user_ref,
                chat_ref=chat_ref,
                timezone=timezone,
                first_name=(first_name or "")[:128] or None,
                last_name=(last_name or "")[:128] or None,
            )
        )
        await self.session.flush()
        return ParticipantRef(participant.id, participant.pseudonym)

    async def addresses(self, participant_id: int) -> list[AddressRef]:
        rows = await self.session.scalars(
            select(PlatformAddress).where(PlatformAddress.participant_id == participant_id)
        )
        return [AddressRef(r.participant_id, r.platform, r.user_ref, r.chat_ref) for r in rows]

    async def names(self) -> dict[str, tuple[str, ...]]:
        """Each participant's platform first and last names, by pseudonym (for masking)."""
        rows = await self.session.execute(
            select(Participant.pseudonym, PlatformAddress.first_name, PlatformAddress.last_name)
            .join(PlatformAddress, PlatformAddress.participant_id == Participant.id)
            .where(
                or_(PlatformAddress.first_name.is_not(None), PlatformAddress.last_name.is_not(None))
            )
        )
        found: dict[str, tuple[str, ...]] = {}
        for pseudonym, first, last in rows:
            found[pseudonym] = found.get(pseudonym, ()) + tuple(n for n in (first, last) if n)
        return found

    async def erase(self, participant_id: int) -> int:
        """Delete the participant and everything that refers to them; returns answers erased.

        Every table is reached, found from the schema (see :mod:`storage.personal_data`).
        """
        from storage.personal_data import erase

        removed = await erase(self.session, participant_id)
        return removed.get(Response.__tablename__, 0)


class StateRepo:
    """The engine's JSON state per participant."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def load(self, participant_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
        query = select(ConversationRow.state).where(
            ConversationRow.participant_id == participant_id
        )
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def load_by_address(
        self, platform: str, user_ref: str
    ) -> tuple[ParticipantRef, dict[str, Any] | None, bool] | None:
        """The participant behind a platform address with their state, in one locked query.

        Returns:
            ``(participant, state, has_row)``, or None for someone we have never met. The
            participant's row is locked (on PostgreSQL) so one person's messages run in turn.
        """
        query = (
            select(
                Participant.id,
                Participant.pseudonym,
                ConversationRow.state,
                ConversationRow.participant_id.label("state_owner"),
            )
            .join(PlatformAddress, PlatformAddress.participant_id == Participant.id)
            .outerjoin(ConversationRow, ConversationRow.participant_id == Participant.id)
            .where(PlatformAddress.platform == platform, PlatformAddress.user_ref == user_ref)
            .with_for_update(of=Participant)
        )
        row = (await self.session.execute(query)).first()
        if row is None:
            return None
        return ParticipantRef(row.id, row.pseudonym), row.state, row.state_owner is not None

    async def load_many(
        self, platform: str, user_refs: Sequence[str]
    ) -> dict[str, tuple[ParticipantRef, dict[str, Any] | None, bool]]:
        """:meth:`load_by_address` for many people of one platform in one query, by user_ref."""
        query = (
            select(
                PlatformAddress.user_ref,
                Participant.id,
                Participant.pseudonym,
                ConversationRow.state,
                ConversationRow.participant_id.label("state_owner"),
            )
            .join(PlatformAddress, PlatformAddress.participant_id == Participant.id)
            .outerjoin(ConversationRow, ConversationRow.participant_id == Participant.id)
            .where(PlatformAddress.platform == platform, PlatformAddress.user_ref.in_(user_refs))
            .with_for_update(of=Participant)
        )
        return {
            row.user_ref: (
                ParticipantRef(row.id, row.pseudonym),
                row.state,
                row.state_owner is not None,
            )
            for row in await self.session.execute(query)
        }

    async def save_many(self, states: dict[int, dict[str, Any]], now: datetime) -> None:
        """Update existing states in one statement (ORM bulk update by primary key)."""
        if states:
            await self.session.execute(
                update(ConversationRow),
                [
                    {"participant_id": pid, "state": state, "updated_at": now}
                    for pid, state in states.items()
                ],
            )

    async def save(
        self,
        participant_id: int,
        state: dict[str, Any],
        now: datetime,
        *,
        exists: bool | None = None,
    ) -> None:
        """Write the state; pass ``exists`` when known to save a look-up."""
        if exists is None:
            exists = await self.session.get(ConversationRow, participant_id) is not None
        if exists:
            await self.session.execute(
                update(ConversationRow)
                .where(ConversationRow.participant_id == participant_id)
                .values(state=state, updated_at=now)
            )
        else:
            self.session.add(
                ConversationRow(participant_id=participant_id, state=state, updated_at=now)
            )


class EnrolmentRepo:
    """Who takes part in which campaign, as which group."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enrol(
        self,
        participant_id: int,
        campaign_id: str,
        group_id: str,
        channel: str,
        invite_code: str | None,
        now: datetime,
    ) -> None:
        row = (
            await self.session.scalars(
                select(Enrolment).where(
                    Enrolment.participant_id == participant_id,
                    Enrolment.campaign_id == campaign_id,
                )
            )
        ).first()
        if row is None:
            self.session.add(
                Enrolment(
                    participant_id=participant_id,
                    campaign_id=campaign_id,
                    group_id=group_id,
                    channel=channel,
                    invite_code=invite_code,
                    consented_at=now,
                    joined_at=now,
                )
            )
        else:
            row.group_id, row.consented_at, row.opted_out_at = group_id, now, None
        await self.session.flush()

    async def opt_out(self, participant_id: int, campaign_id: str | None, now: datetime) -> None:
        query = update(Enrolment).where(Enrolment.participant_id == participant_id)
        if campaign_id:
            query = query.where(Enrolment.campaign_id == campaign_id)
        await self.session.execute(query.values(opted_out_at=now))

    async def get(self, participant_id: int, campaign_id: str) -> EnrolmentRef | None:
        row = (
            await self.session.scalars(
                select(Enrolment).where(
                    Enrolment.participant_id == participant_id,
                    Enrolment.campaign_id == campaign_id,
                )
            )
        ).first()
        return _enrolment(row) if row else None

    async def for_participant(self, participant_id: int) -> list[EnrolmentRef]:
        rows = await self.session.scalars(
            select(Enrolment).where(Enrolment.participant_id == participant_id)
        )
        return [_enrolment(r) for r in rows]

    async def for_campaign(self, campaign_id: str) -> list[EnrolmentRef]:
        rows = await self.session.scalars(
            select(Enrolment).where(Enrolment.campaign_id == campaign_id).order_by(Enrolment.id)
        )
        return [_enrolment(r) for r in rows]


def _enrolment(row: Enrolment) -> EnrolmentRef:
    return EnrolmentRef(
        row.participant_id,
        row.campaign_id,
        row.group_id,
        row.channel,
        row.joined_at,
        row.opted_out_at,
    )


class ProgressRepo:
    """Which schedule entries each participant was prompted for and finished."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _row(
        self, participant_id: int, campaign_id: str, entry_key: str
    ) -> FlowProgress | None:
        return (
            await self.session.scalars(
                select(FlowProgress).where(
                    FlowProgress.participant_id == participant_id,
                    FlowProgress.campaign_id == campaign_id,
                    FlowProgress.entry_key == entry_key,
                )
            )
        ).first()

    async def mark(
        self,
        participant_id: int,
        campaign_id: str,
        flow_id: str,
        entry_key: str,
        now: datetime,
        *,
        finished: bool,
    ) -> None:
        row = await self._row(participant_id, campaign_id, entry_key)
        if row is None:
            row = FlowProgress(
                participant_id=participant_id,
                campaign_id=campaign_id,
                flow_id=flow_id,
                entry_key=entry_key,
                started_at=now,
            )
            self.session.add(row)
        if finished and row.finished_at is None:
            row.finished_at = now
        await self.session.flush()


class ResponseRepo:
    """Answers: stored exactly as sent, edited with the original kept, exported pseudonymously."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, response: NewResponse) -> str:
        uid = new_response_uid()
        self.session.add(
            Response(
                response_uid=uid,
                participant_id=response.participant_id,
                campaign_id=response.campaign_id,
                flow_id=response.flow_id,
                step_id=response.step_id,
                group_id=response.group_id,
                channel=response.channel,
                kind=response.kind,
                answer=response.answer,
                file_id=response.file_id,
                source=response.source,
                source_msg_id=response.source_msg_id,
                answered_at=response.answered_at,
                language=response.language,
            )
        )
        return uid

    async def add_many(self, responses: Iterable[NewResponse]) -> int:
        rows = [
            {
                "response_uid": new_response_uid(),
                "participant_id": r.participant_id,
                "campaign_id": r.campaign_id,
                "flow_id": r.flow_id,
                "step_id": r.step_id,
                "group_id": r.group_id,
                "channel": r.channel,
                "kind": r.kind,
                "answer": r.answer,
                "file_id": r.file_id,
                "source": r.source,
                "source_msg_id": r.source_msg_id,
                "answered_at": r.answered_at,
                "language": r.language,
                "import_batch_id": r.import_batch_id,
            }
            for r in responses
        ]
        if rows:
            await self.session.execute(Response.__table__.insert(), rows)
        return len(rows)

    async def edit(self, channel: str, source_msg_id: str, answer: str, now: datetime) -> bool:
        """Replace an answer after the author edited it, keeping the first version."""
        row = (
            await self.session.scalars(
                select(Response).where(
                    Response.channel == channel, Response.source_msg_id == source_msg_id
                )
            )
        ).first()
        if row is None:
            return False
        if row.original_answer is None:
            row.original_answer = row.answer
        row.answer, row.edited_at = answer, now
        # A translation of the words the author has just replaced would mislead the analysis.
        row.translation, row.translated_at = None, None
        return True

    async def translate(self, translations: dict[str, str], now: datetime) -> int:
        """Store English translations beside answers, by response id; the answers stay as sent.

        A later import for the same answer replaces its translation (never the answer).
        """
        for response_id, text in translations.items():
            await self.session.execute(
                update(Response)
                .where(Response.response_uid == response_id)
                .values(translation=text, translated_at=now)
            )
        return len(translations)

    async def translation_targets(
        self, campaign_id: str, response_ids: Sequence[str]
    ) -> dict[str, tuple[str, str, str | None]]:
        """Per response id of the campaign: its kind, its channel and its current translation."""
        found: dict[str, tuple[str, str, str | None]] = {}
        ids = list(dict.fromkeys(response_ids))
        for start in range(0, len(ids), 500):  # keep IN (...) within every database's limits
            rows = await self.session.execute(
                select(
                    Response.response_uid, Response.kind, Response.channel, Response.translation
                ).where(
                    Response.campaign_id == campaign_id,
                    Response.response_uid.in_(ids[start : start + 500]),
                )
            )
            for uid, kind, channel, translation in rows.all():
                found[uid] = (kind, channel, translation)
        return found

    async def find_by_source(self, channel: str, source_msg_id: str) -> ResponseRow | None:
        """The answer a platform message was stored as (to check an edit of it)."""
        found = (
            await self.session.execute(
                select(Response, Participant.pseudonym)
                .outerjoin(Participant, Participant.id == Response.participant_id)
                .where(Response.channel == channel, Response.source_msg_id == source_msg_id)
            )
        ).first()
        if found is None:
            return None
        r, pseudo = found
        return _response_row(r, pseudo)

    async def delete_by_source(self, channel: str, source_msg_id: str) -> bool:
        result = await self.session.execute(
            delete(Response).where(
                Response.channel == channel, Response.source_msg_id == source_msg_id
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def rows(
        self,
        campaign_id: str | None = None,
        participant_id: int | None = None,
    ) -> list[ResponseRow]:
        query = (
            select(Response, Participant.pseudonym)
            .outerjoin(Participant, Participant.id == Response.participant_id)
            .order_by(Response.answered_at, Response.id)
        )
        if campaign_id:
            query = query.where(Response.campaign_id == campaign_id)
        if participant_id is not None:
            query = query.where(Response.participant_id == participant_id)
        result = await self.session.execute(query)
        return [_response_row(r, pseudo) for r, pseudo in result.all()]

    async def count(self, campaign_id: str | None = None) -> int:
        query = select(func.count()).select_from(Response)
        if campaign_id:
            query = query.where(Response.campaign_id == campaign_id)
        return int(await self.session.scalar(query) or 0)


def erasing_digest(platform_msg_id: str) -> str:
    """The stand-in id of an erasing message: ``erased:`` and a SHA-256 digest of the real id."""
    import hashlib

    return "erased:" + hashlib.sha256(platform_msg_id.encode()).hexdigest()[:48]


def _response_row(r: Response, pseudonym: str | None) -> ResponseRow:
    """One stored answer as exports and analysis see it (pseudonym, never a platform id)."""
    return ResponseRow(
        r.response_uid,
        r.campaign_id,
        r.flow_id,
        r.step_id,
        r.group_id,
        pseudonym or "",
        r.channel,
        r.kind,
        r.answer,
        r.answered_at,
        r.original_answer,
        r.language,
        r.translation,
    )


def _messages(platform: str, msg_ids: Sequence[str]) -> tuple[Any, Any]:
    """The inbound-log rows of these platform messages (a WHERE clause, in two parts)."""
    return InboundLog.platform == platform, InboundLog.platform_msg_id.in_(list(msg_ids))


class InboundLogRepo:
    """Remembers handled platform messages so redelivery changes nothing and repeats the reply."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replies_for(self, platform: str, platform_msg_id: str) -> list[dict[str, Any]] | None:
        return (
            await self.session.execute(
                select(InboundLog.replies).where(
                    InboundLog.platform == platform, InboundLog.platform_msg_id == platform_msg_id
                )
            )
        ).scalar_one_or_none()

    async def undelivered_replies_for(
        self, platform: str, platform_msg_id: str
    ) -> list[dict[str, Any]] | None:
        """What a redelivered message should get again: its replies never attempted.

        A reply whose sending had begun may have arrived and is not repeated. Returns None for a
        message never handled.
        """
        row = (
            await self.session.execute(
                select(
                    InboundLog.replies, InboundLog.replied_at, InboundLog.replies_attempted
                ).where(
                    InboundLog.platform == platform, InboundLog.platform_msg_id == platform_msg_id
                )
            )
        ).first()
        if row is None:
            return None
        return [] if row.replied_at is not None else list(row.replies)[row.replies_attempted :]

    async def record_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert many log rows at once (keys as :meth:`record`'s arguments)."""
        if rows:
            await self.session.execute(
                InboundLog.__table__.insert(),
                [
                    {**row, "replied_at": None if row["replies"] else row["handled_at"]}
                    for row in rows
                ],
            )

    async def mark_sending(self, platform: str, msg_ids: Sequence[str], now: datetime) -> None:
        """The request of one more reply to each of these messages is about to be written.

        Called (and committed) right before each reply's first request, so after a crash the
        count tells the replies never attempted (sent on restart) from the one that may have
        arrived (not repeated). ``sending_at`` becomes ``now``: a sender's claim is fresh while
        it works, and only a stale one may be taken over (:meth:`unreplied`).
        """
        if not msg_ids:
            return
        await self.session.execute(
            update(InboundLog)
            .where(
                *_messages(platform, msg_ids),
                InboundLog.replied_at.is_(None),
            )
            .values(replies_attempted=InboundLog.replies_attempted + 1, sending_at=now)
        )

    async def renew_sending(self, platform: str, msg_ids: Sequence[str], now: datetime) -> None:
        """The sender of these messages' replies is alive and still at it: renew its claim."""
        if not msg_ids:
            return
        await self.session.execute(
            update(InboundLog)
            .where(
                *_messages(platform, msg_ids),
                InboundLog.replied_at.is_(None),
            )
            .values(sending_at=now)
        )

    async def unmark_sending(self, platform: str, msg_ids: Sequence[str]) -> None:
        """Undo one :meth:`mark_sending`: the platform refused that try (it did not arrive)."""
        if not msg_ids:
            return
        await self.session.execute(
            update(InboundLog)
            .where(
                *_messages(platform, msg_ids),
                InboundLog.replies_attempted > 0,
            )
            # ``sending_at`` stays: it is also the claim (``claim_sending``) of whoever sends
            # these replies, and that sender is still at it (it waits and tries again), so a
            # redelivery of the message must still find it claimed.
            .values(replies_attempted=InboundLog.replies_attempted - 1)
        )

    async def mark_uncertain(self, platform: str, msg_ids: Sequence[str]) -> None:
        """One reply to each of these messages may or may not have arrived; it is not repeated."""
        if not msg_ids:
            return
        await self.session.execute(
            update(InboundLog)
            .where(*_messages(platform, msg_ids))
            .values(replies_uncertain=InboundLog.replies_uncertain + 1)
        )

    async def uncertain_count(self, platform: str | None = None) -> int:
        """Replies that may not have arrived (timed out after sending, or cut off by a crash)."""
        query = select(func.coalesce(func.sum(InboundLog.replies_uncertain), 0))
        if platform is not None:
            query = query.where(InboundLog.platform == platform)
        return int(await self.session.scalar(query) or 0)

    async def mark_replied(self, platform: str, msg_ids: Sequence[str], now: datetime) -> None:
        """Every reply to these messages went out (or was given up on, with its outcome logged)."""
        await self._stamp("replied_at", platform, msg_ids, now)

    async def claim_sending(self, platform: str, msg_id: str, now: datetime) -> bool:
        """Take the right to send this message's replies: True for exactly one caller.

        Whichever process (or retry) stamps ``sending_at`` first sends; any later delivery of the
        same message, on any worker, finds it stamped and sends nothing, so a person never gets
        the same reply twice. A sender that dies after claiming leaves the replies uncertain.
        """
        result = await self.session.execute(
            update(InboundLog)
            .where(
                InboundLog.platform == platform,
                InboundLog.platform_msg_id == msg_id,
                InboundLog.sending_at.is_(None),
            )
            .values(sending_at=now)
        )
        return bool(result.rowcount)

    async def _stamp(
        self, column: str, platform: str, msg_ids: Sequence[str], now: datetime
    ) -> None:
        """Set ``column`` to ``now`` on these messages' rows where it is not set yet."""
        if not msg_ids:
            return
        await self.session.execute(
            update(InboundLog)
            .where(
                *_messages(platform, msg_ids),
                getattr(InboundLog, column).is_(None),
            )
            .values({column: now})
        )

    async def unreplied(
        self,
        platform: str,
        since: datetime,
        handled_before: datetime,
        limit: int = 500,
        *,
        claimed_before: datetime | None = None,
        now: datetime | None = None,
    ) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """Messages handled since ``since`` whose replies did not all go out, oldest first,
        each claimed for the caller: exactly one caller gets each batch.

        A batch is taken only if nobody claimed its sending (``sending_at``) or the claim was
        last renewed before ``claimed_before`` (default ``handled_before``): a sender renews it
        with every attempt, so a live one keeps its batch and a dead one's goes to whoever
        takes it first. Taking it stamps ``sending_at`` with ``now`` in the same statement, so
        two processes recovering at once never both get it.

        Only a person's latest message counts: if they wrote again after it, the conversation has
        moved on and its replies would ask again what they already answered. Of the others, the
        replies never attempted are due; the one whose request may have been written when the
        process died may have reached the person: it is not sent twice, and counts as uncertain.
        Superseded messages, the ones older than ``since``, those of erased people and those
        with nothing left to send are marked as replied.

        Returns:
            ``(platform_msg_id, chat_ref, replies)`` for each message with replies due.
        """
        newer = aliased(InboundLog)
        superseded = exists().where(
            newer.participant_id == InboundLog.participant_id, newer.id > InboundLog.id
        )
        await self.session.execute(
            update(InboundLog)
            .where(
                InboundLog.platform == platform,
                InboundLog.replied_at.is_(None),
                InboundLog.handled_at < handled_before,
                or_(
                    InboundLog.handled_at < since,
                    InboundLog.participant_id.is_(None),
                    superseded,
                ),
            )
            .values(replied_at=since)
        )
        claimed_before = handled_before if claimed_before is None else claimed_before
        unclaimed = or_(InboundLog.sending_at.is_(None), InboundLog.sending_at < claimed_before)
        rows = await self.session.execute(
            select(
                InboundLog.id,
                InboundLog.platform_msg_id,
                PlatformAddress.chat_ref,
                InboundLog.replies,
                InboundLog.replies_attempted,
            )
            .join(
                PlatformAddress,
                and_(
                    PlatformAddress.participant_id == InboundLog.participant_id,
                    PlatformAddress.platform == InboundLog.platform,
                ),
            )
            .where(
                InboundLog.platform == platform,
                InboundLog.replied_at.is_(None),
                InboundLog.handled_at < handled_before,
                unclaimed,
            )
            .order_by(InboundLog.id)
            .limit(limit)
        )
        found = list(rows)
        if found:
            taken = set(
                (
                    await self.session.execute(
                        update(InboundLog)
                        .where(InboundLog.id.in_([r.id for r in found]), unclaimed)
                        .values(sending_at=now or handled_before)
                        .returning(InboundLog.id)
                        .execution_options(synchronize_session=False)
                    )
                ).scalars()
            )
            found = [r for r in found if r.id in taken]
        due: list[tuple[str, str, list[dict[str, Any]]]] = []
        cut_off: list[int] = []
        finished: list[int] = []
        for r in found:
            if r.replies_attempted:
                cut_off.append(r.id)
            rest = list(r.replies)[r.replies_attempted :]
            if rest:
                due.append((r.platform_msg_id, r.chat_ref, rest))
            else:
                finished.append(r.id)
        if cut_off:
            await self.session.execute(
                update(InboundLog)
                .where(InboundLog.id.in_(cut_off))
                .values(replies_uncertain=InboundLog.replies_uncertain + 1)
            )
        if finished:
            await self.session.execute(
                update(InboundLog).where(InboundLog.id.in_(finished)).values(replied_at=since)
            )
        return due

    async def record_erasing(
        self, platform: str, platform_msg_id: str, replies: Sequence[dict[str, Any]], now: datetime
    ) -> None:
        """Log a message that erased its sender (``/delete``, declined consent) without its id.

        The platform's message id names the chat, and the person asked to be forgotten, so only
        a one-way digest is kept: enough to know a redelivery of this message (see
        :meth:`was_erasing`), linked to nothing else we hold.
        """
        await self.record(platform, erasing_digest(platform_msg_id), None, replies, now)

    async def was_erasing(self, platform: str, platform_msg_id: str) -> bool:
        """True if this message was already handled and erased its sender."""
        found = await self.session.scalar(
            select(InboundLog.id).where(
                InboundLog.platform == platform,
                InboundLog.platform_msg_id == erasing_digest(platform_msg_id),
            )
        )
        return found is not None

    async def record(
        self,
        platform: str,
        platform_msg_id: str,
        participant_id: int | None,
        replies: Sequence[dict[str, Any]],
        now: datetime,
    ) -> None:
        self.session.add(
            InboundLog(
                platform=platform,
                platform_msg_id=platform_msg_id,
                participant_id=participant_id,
                replies=list(replies),
                handled_at=now,
                replied_at=None if replies else now,
            )
        )


class InviteRepo:
    """Invite codes that fix a participant's campaign and group.

    Codes made since migration ``im`` are stored upper-case without separators; :meth:`find`
    reads a code as a person types it (any case, with a dash or spaces). Older mixed-case codes
    keep working: they are found exactly, or case-insensitively when that is unambiguous.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        campaign_id: str,
        group_id: str,
        now: datetime,
        *,
        max_uses: int | None = None,
        expires_at: datetime | None = None,
        code: str | None = None,
    ) -> InviteRef:
        code = code or new_invite_code()
        self.session.add(
            Invite(
                code=code,
                campaign_id=campaign_id,
                group_id=group_id,
                max_uses=max_uses,
                uses=0,
                expires_at=expires_at,
                created_at=now,
            )
        )
        await self.session.flush()
        return InviteRef(code, campaign_id, group_id, max_uses, 0, expires_at, None, now)

    async def exists(self, code: str) -> bool:
        return await self.session.get(Invite, code) is not None

    async def get(self, code: str) -> InviteRef | None:
        row = await self.session.get(Invite, code)
        return _invite(row) if row is not None else None

    async def find(self, typed: str) -> InviteRef | None:
        """The invite a person meant: exact code, then upper-case without dashes or spaces."""
        exact = await self.get(typed)
        if exact is not None:
            return exact
        wanted = "".join(typed.split()).replace("-", "").upper()
        if not wanted:
            return None
        stored = await self.get(wanted)  # a code made since migration im: one key look-up
        if stored is not None:
            return stored
        found = (
            await self.session.scalars(select(Invite).where(func.upper(Invite.code) == wanted))
        ).all()
        return _invite(found[0]) if len(found) == 1 else None

    async def listing(self, campaign_id: str | None = None) -> list[InviteRef]:
        query = select(Invite).order_by(Invite.campaign_id, Invite.created_at, Invite.code)
        if campaign_id:
            query = query.where(Invite.campaign_id == campaign_id)
        return [_invite(row) for row in (await self.session.scalars(query)).all()]

    async def revoke(self, code: str, now: datetime) -> InviteRef | None:
        """Stop a code from enrolling anyone; returns it (None when there is no such code)."""
        invite = await self.find(code)
        if invite is None:
            return None
        if invite.revoked_at is None:
            await self.session.execute(
                update(Invite).where(Invite.code == invite.code).values(revoked_at=now)
            )
        row = await self.session.get(Invite, invite.code, populate_existing=True)
        return _invite(row) if row is not None else None

    async def use(self, code: str) -> None:
        """Count one use of ``code``; a console rehearsal trying a code does not use it up."""
        if creates_rehearsal_participants(self.session):
            return
        await self.session.execute(
            update(Invite).where(Invite.code == code).values(uses=Invite.uses + 1)
        )


def _invite(row: Invite) -> InviteRef:
    return InviteRef(
        row.code,
        row.campaign_id,
        row.group_id,
        row.max_uses,
        row.uses,
        row.expires_at,
        row.revoked_at,
        row.created_at,
    )


class ImportBatchRepo:
    """Runs of `import`: recorded with their responses, listed, and undone whole."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, batch: ImportBatchRef) -> None:
        self.session.add(
            ImportBatch(
                id=batch.id,
                campaign_id=batch.campaign_id,
                file_name=batch.file_name,
                source=batch.source,
                fingerprint=batch.fingerprint,
                rows=batch.rows,
                imported_by=batch.imported_by,
                imported_at=batch.imported_at,
            )
        )
        await self.session.flush()

    async def exists(self, batch_id: str) -> bool:
        return await self.session.get(ImportBatch, batch_id) is not None

    async def get(self, batch_id: str) -> ImportBatchRef | None:
        row = await self.session.get(ImportBatch, batch_id.strip().upper())
        return _batch(row) if row is not None else None

    async def listing(self, campaign_id: str | None = None) -> list[tuple[ImportBatchRef, int]]:
        """Each batch with how many of its responses are still stored, oldest first."""
        still = (
            select(func.count())
            .select_from(Response)
            .where(Response.import_batch_id == ImportBatch.id)
            .scalar_subquery()
        )
        query = select(ImportBatch, still).order_by(ImportBatch.imported_at, ImportBatch.id)
        if campaign_id:
            query = query.where(ImportBatch.campaign_id == campaign_id)
        return [(_batch(row), int(count)) for row, count in (await self.session.execute(query))]

    async def remove(self, batch_id: str) -> int:
        """Delete the batch and every response it loaded; returns how many responses went."""
        result = await self.session.execute(
            delete(Response).where(Response.import_batch_id == batch_id)
        )
        await self.session.execute(delete(ImportBatch).where(ImportBatch.id == batch_id))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _batch(row: ImportBatch) -> ImportBatchRef:
    return ImportBatchRef(
        row.id,
        row.campaign_id,
        row.file_name,
        row.source,
        row.fingerprint,
        row.rows,
        row.imported_by,
        row.imported_at,
    )


# -- scheduler: outbox and campaign status ------------------------------------------------------
OUTBOX_OPEN = ("pending", "sending")
"""Outbox statuses that still wait for a send; the others are final."""
