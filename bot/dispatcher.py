"""The one place that composes engine, storage and adapters: one message, one transaction."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.batching import GroupCommitter
from bot.clock import Clock
from bot.config import Settings
from bot.events import Address, Choice, Inbound, Outbound, PendingReplies
from bot.flows import messages as say
from bot.flows.catalogs import catalog
from bot.flows.edits import check_edit
from bot.flows.engine import (
    Engine,
    Enrol,
    Erase,
    FlowEnded,
    FlowStarted,
    InviteCheck,
    OptOut,
    Record,
    ShowData,
    Transition,
    UserInput,
    parse_command,
)
from bot.flows.questions import answer_text, clip, question_text
from bot.flows.state import ConversationState
from bot.localized import native_name
from storage.consent import AGREED, WITHDRAWN, ConsentRepo
from storage.records import NewResponse, ParticipantRef
from storage.repositories import (
    EnrolmentRepo,
    InboundLogRepo,
    InviteRepo,
    ParticipantRepo,
    ProgressRepo,
    ResponseRepo,
    StateRepo,
)

log = logging.getLogger(__name__)
MYDATA_SHOWN = 20
# Replies cut off by a crash are sent on restart only if this recent; older ones would confuse.
REPLAY_WINDOW = timedelta(days=1)
# A typed invite code: 8 characters with an optional dash (bot.invites), or an older 12-character
# code. Only a message of this shape from someone not yet taking part is looked up as one.
_LOOKS_LIKE_CODE = re.compile(r"[A-Za-z0-9]{4}-?[A-Za-z0-9]{4}|[A-Za-z0-9]{12}")


def outbound_to_json(message: Outbound) -> dict[str, Any]:
    return asdict(message)


def outbound_from_json(data: dict[str, Any]) -> Outbound:
    choices = tuple(Choice(**c) for c in data.get("choices", ()))
    return Outbound(
        data["text"], choices, data.get("multi", False), data.get("prompt_ref"), data.get("lang")
    )


class Dispatcher:
    """Handles inbound messages and scheduled offers for every adapter.

    Args:
        settings: the validated campaign file.
        sessionmaker: async sessions; the dispatcher owns each transaction.
        clock: where "now" comes from.
        rehearsal: offer every flow at once after joining (the console adapter's mode).
        group_commit: handle messages that arrive together in one transaction (one savepoint
            each), which is what lets a busy bot keep up; off, every message commits alone.
    """

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        rehearsal: bool = False,
        group_commit: bool = True,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.rehearsal = rehearsal
        self._engines: dict[str, Engine] = {}
        self._group: GroupCommitter[Inbound, list[Outbound]] | None = (
            GroupCommitter(self._handle_batch) if group_commit else None
        )

    def engine(self, platform: str) -> Engine:
        if platform not in self._engines:
            self._engines[platform] = Engine(self.settings, platform, rehearsal=self.rehearsal)
        return self._engines[platform]

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        """Process one inbound event and return the replies to send to ``inbound.address``.

        Everything (state, answers, enrolment, the inbound log) commits in one transaction, so a
        crash before the commit means the platform redelivers and nothing is half-stored; a
        redelivered message returns the replies it got the first time and stores nothing.
        """
        if inbound.kind in ("edit", "delete"):
            return await self._edit_or_delete(inbound)
        if self._group is not None:
            return await self._group.submit(inbound)
        return await self._handle_alone(inbound)

    async def _handle_batch(self, batch: Sequence[Inbound]) -> list[list[Outbound] | BaseException]:
        """Handle messages in arrival order in one transaction.

        If anything in the batch fails (a redelivery hitting its unique key, a person created
        twice, a bug), the whole batch rolls back and each message is handled on its own, as if
        batching were off, so one bad message never costs another its answer.
        """
        if len(batch) > 1:
            try:
                async with self.sessionmaker.begin() as session:
                    return list(await self._batch_in(session, batch))
            except IntegrityError:
                pass
            except Exception:
                log.warning("a batch of %d messages failed; handling each alone", len(batch))
        results: list[list[Outbound] | BaseException] = []
        for inbound in batch:
            try:
                results.append(await self._handle_alone(inbound))
            except Exception as exc:
                results.append(exc)
        return results

    async def _batch_in(
        self, session: AsyncSession, batch: Sequence[Inbound]
    ) -> list[list[Outbound]]:
        """The batch itself: plain answers from known people are written together at the end.

        A message that needs more than its sender's state (an invite, a first contact, an
        enrolment, an erasure, /mydata) first flushes what is pending and then takes the ordinary
        path, so everything happens in arrival order.
        """
        now = self.clock.now()
        states = StateRepo(session)
        known: dict[tuple[str, str], tuple[ParticipantRef, dict[str, Any] | None, bool]] = {}
        for platform in {i.platform for i in batch}:
            refs = [i.user_ref for i in batch if i.platform == platform]
            for ref, found in (await states.load_many(platform, refs)).items():
                known[(platform, ref)] = found
        pending = _PendingWrites()
        results: list[list[Outbound]] = []
        for inbound in batch:
            key = (inbound.platform, inbound.user_ref)
            t = self._plain_answer(known.get(key), inbound, now)
            if t is None:
                await pending.flush(session, now)
                results.append(await self._handle_in(session, inbound))
                found = await states.load_by_address(*key)
                if found is None:
                    known.pop(key, None)
                else:
                    known[key] = found
                continue
            participant = known[key][0]
            group = t.state.group_id or ""
            for index, record in enumerate(t.records):
                pending.responses.append(
                    _new_response(
                        record,
                        participant.id,
                        group,
                        inbound.platform,
                        inbound.platform_msg_id,
                        now,
                        index,
                        t.lang,
                    )
                )
            state_json = t.state.to_json()
            pending.states[participant.id] = state_json
            known[key] = (participant, state_json, True)
            if inbound.platform_msg_id:
                pending.logs.append(
                    {
                        "platform": inbound.platform,
                        "platform_msg_id": inbound.platform_msg_id,
                        "participant_id": participant.id,
                        "replies": [outbound_to_json(r) for r in t.replies],
                        "handled_at": now,
                    }
                )
            results.append(t.replies)
        await pending.flush(session, now)
        return results

    def _plain_answer(
        self,
        found: tuple[ParticipantRef, dict[str, Any] | None, bool] | None,
        inbound: Inbound,
        now: datetime,
    ) -> Transition | None:
        """The engine's transition when it needs nothing but the sender's state, else None."""
        if found is None or not found[2]:
            return None
        state = ConversationState.from_json(found[1])
        command = parse_command(inbound.text or "")
        if state.stage == "consent" or (command is not None and command[0] == "start"):
            return None
        event = UserInput(
            text=inbound.text or "",
            at=now,
            kind=_input_kind(inbound),
            file_id=inbound.file_id,
            group_hint=inbound.group_hint,
            language=inbound.language,
        )
        t = self.engine(inbound.platform).handle(state, event)
        # A change of language is kept on the participant, which the ordinary path does.
        return None if t.effects or t.state.language != state.language else t

    async def _handle_alone(self, inbound: Inbound) -> list[Outbound]:
        """One message, one transaction (with the duplicate and first-contact races handled)."""
        for attempt in range(3):
            try:
                async with self.sessionmaker.begin() as session:
                    return await self._handle_in(session, inbound)
            except IntegrityError:
                # Either a redelivery raced us (the winner holds the replies), or a person's
                # first two messages both tried to create them: then try again, as they exist now.
                if inbound.platform_msg_id:
                    async with self.sessionmaker() as session:
                        stored = await InboundLogRepo(session).undelivered_replies_for(
                            inbound.platform, inbound.platform_msg_id
                        )
                    if stored is not None:
                        return [outbound_from_json(r) for r in stored]
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _handle_in(self, session: AsyncSession, inbound: Inbound) -> list[Outbound]:
        # No look-up of the inbound log first: a redelivered message fails on its unique key at
        # the end, the transaction rolls back, and `handle` returns the replies stored the first
        # time. That keeps the common case (a new message) to the fewest round trips.
        now = self.clock.now()
        states = StateRepo(session)
        found = await states.load_by_address(inbound.platform, inbound.user_ref)
        if found is None:
            if inbound.platform_msg_id and await InboundLogRepo(session).was_erasing(
                inbound.platform, inbound.platform_msg_id
            ):
                return []  # a redelivered /delete (or "no" to consent): they stay forgotten
            participant = await ParticipantRepo(session).create(
                inbound.platform,
                inbound.user_ref,
                inbound.address.chat_ref,
                now,
                timezone=inbound.timezone,
                first_name=inbound.first_name,
                last_name=inbound.last_name,
            )
            saved, has_state = None, False
        else:
            participant, saved, has_state = found
        state = ConversationState.from_json(saved)
        text = inbound.text or ""
        if state.stage == "new" and _input_kind(inbound) == "text":
            text = await self._typed_invite(session, text) or text
        event = UserInput(
            text=text,
            at=now,
            kind=_input_kind(inbound),
            file_id=inbound.file_id,
            invite=await self._check_invite(session, text, now),
            group_hint=inbound.group_hint
            or (
                await self._known_group(session, participant.id)
                if state.stage == "consent"
                else None
            ),
            language=inbound.language,
        )
        t = self.engine(inbound.platform).handle(state, event)
        erased = await self._apply(
            session,
            participant,
            t,
            inbound.platform,
            now,
            inbound.platform_msg_id,
            language_before=state.language,
        )
        if not erased:
            await states.save(participant.id, t.state.to_json(), now, exists=has_state)
        if inbound.platform_msg_id:
            replies = [outbound_to_json(r) for r in t.replies]
            log_repo = InboundLogRepo(session)
            if erased:
                await log_repo.record_erasing(
                    inbound.platform, inbound.platform_msg_id, replies, now
                )
            else:
                await log_repo.record(
                    inbound.platform, inbound.platform_msg_id, participant.id, replies, now
                )
        return t.replies

    async def sending(self, platform: str, msg_ids: Sequence[str]) -> None:
        """Note that one more reply to each message is about to go (see :class:`ReplyLedger`)."""
        async with self.sessionmaker.begin() as session:
            await InboundLogRepo(session).mark_sending(platform, msg_ids, self.clock.now())

    async def claim_sending(self, platform: str, msg_id: str) -> bool:
        """Take the right to send one message's replies (see :class:`ReplyLedger`)."""
        async with self.sessionmaker.begin() as session:
            return await InboundLogRepo(session).claim_sending(platform, msg_id, self.clock.now())

    async def still_sending(self, platform: str, msg_ids: Sequence[str]) -> None:
        """Renew the claims on these messages' replies (see :class:`ReplyLedger`)."""
        async with self.sessionmaker.begin() as session:
            await InboundLogRepo(session).renew_sending(platform, msg_ids, self.clock.now())

    async def not_sent(self, platform: str, msg_ids: Sequence[str]) -> None:
        """Take back a :meth:`sending` note: the platform refused that try."""
        async with self.sessionmaker.begin() as session:
            await InboundLogRepo(session).unmark_sending(platform, msg_ids)

    async def uncertain(self, platform: str, msg_ids: Sequence[str]) -> None:
        """Note that a reply to each message may not have arrived (see :class:`ReplyLedger`)."""
        async with self.sessionmaker.begin() as session:
            await InboundLogRepo(session).mark_uncertain(platform, msg_ids)

    async def replied(self, platform: str, msg_ids: Sequence[str]) -> None:
        """Note that every reply to these messages went out (see :class:`ReplyLedger`)."""
        async with self.sessionmaker.begin() as session:
            await InboundLogRepo(session).mark_replied(platform, msg_ids, self.clock.now())

    async def unreplied(
        self,
        platform: str,
        handled_before: datetime,
        claimed_before: datetime | None = None,
    ) -> list[PendingReplies]:
        """Replies committed in the last day that never went out, each claimed for this caller
        (see :meth:`InboundLogRepo.unreplied`: a batch whose sender renewed its claim since
        ``claimed_before`` is left to it)."""
        now = self.clock.now()
        async with self.sessionmaker.begin() as session:
            rows = await InboundLogRepo(session).unreplied(
                platform,
                since=now - REPLAY_WINDOW,
                handled_before=handled_before,
                claimed_before=claimed_before,
                now=now,
            )
        return [
            PendingReplies(
                Address(platform, chat_ref),
                msg_id,
                tuple(outbound_from_json(r) for r in replies),
            )
            for msg_id, chat_ref, replies in rows
        ]

    async def offer(
        self,
        participant_id: int,
        campaign_id: str,
        entry_key: str,
        flow_id: str,
        *,
        reminder: bool = False,
    ) -> tuple[Address | None, list[Outbound]]:
        """A scheduled flow is due: start it, queue it, or re-prompt it (reminder)."""
        async with self.sessionmaker.begin() as session:
            return await self.offer_in(
                session, participant_id, campaign_id, entry_key, flow_id, reminder=reminder
            )

    async def offer_in(
        self,
        session: AsyncSession,
        participant_id: int,
        campaign_id: str,
        entry_key: str,
        flow_id: str,
        *,
        reminder: bool = False,
    ) -> tuple[Address | None, list[Outbound]]:
        """:meth:`offer` inside the caller's transaction (the scheduler's outbox claim)."""
        now = self.clock.now()
        participants = ParticipantRepo(session)
        addresses = await participants.addresses(participant_id)
        if not addresses:
            return None, []
        address = addresses[0]
        states = StateRepo(session)
        raw = await states.load(participant_id, for_update=True)
        state = ConversationState.from_json(raw)
        t = self.engine(address.platform).offer_flow(
            state, campaign_id, entry_key, flow_id, now, reminder=reminder
        )
        ref = ParticipantRef(participant_id, "")
        await self._apply(
            session, ref, t, address.platform, now, None, language_before=state.language
        )
        await states.save(participant_id, t.state.to_json(), now)
        return Address(address.platform, address.chat_ref), t.replies

    async def _known_group(self, session: AsyncSession, participant_id: int) -> str | None:
        """The group someone already takes part as (e.g. joined through a mapped Slack channel)."""
        for enrolment in await EnrolmentRepo(session).for_participant(participant_id):
            if enrolment.opted_out_at is None:
                return enrolment.group_id
        return None

    async def _check_invite(
        self, session: AsyncSession, text: str | None, now: datetime
    ) -> InviteCheck | None:
        """The invite named by ``/start CODE``, read in any case, with or without the dash."""
        command = parse_command(text or "")
        if command is None or command[0] != "start" or not command[1]:
            return None
        typed = "".join(command[1].split())
        invite = await InviteRepo(session).find(typed)
        if invite is None or invite.campaign_id not in self.settings.campaign_by_id:
            return InviteCheck(typed, error="Sorry, that invite code isn't valid.")
        if invite.revoked_at is not None:
            return InviteCheck(
                invite.code, error="Sorry, that invite code has been withdrawn by the organiser."
            )
        if invite.expires_at is not None and now >= invite.expires_at:
            return InviteCheck(invite.code, error="Sorry, that invite code has expired.")
        if invite.max_uses is not None and invite.uses >= invite.max_uses:
            return InviteCheck(
                invite.code, error="Sorry, that invite code has already been used up."
            )
        return InviteCheck(invite.code, invite.campaign_id, invite.group_id)

    async def _typed_invite(self, session: AsyncSession, text: str) -> str | None:
        """``/start CODE`` for someone not yet taking part who typed just a code (``k7qm-3xrt``).

        A poster or paper form shows the code itself; a person who opens the bot and types it
        should join exactly as if they had followed the link.
        """
        candidate = "".join(text.split())
        if not _LOOKS_LIKE_CODE.fullmatch(candidate):
            return None
        invite = await InviteRepo(session).find(candidate)
        return f"/start {invite.code}" if invite is not None else None

    async def _apply(
        self,
        session: AsyncSession,
        participant: ParticipantRef,
        t: Transition,
        platform: str,
        now: datetime,
        source_msg_id: str | None,
        language_before: str | None = None,
    ) -> bool:
        """Carry out the engine's effects and store its records; True if the person was erased.

        Each answer is stored with the language it was asked in, and a change of language
        (chosen at join, taken from the platform, or ``/language``) is kept on the participant.
        """
        enrolments = EnrolmentRepo(session)
        progress = ProgressRepo(session)
        for effect in t.effects:
            if isinstance(effect, Erase):
                await ParticipantRepo(session).erase(participant.id)
                return True
            if isinstance(effect, Enrol):
                await enrolments.enrol(
                    participant.id,
                    effect.campaign_id,
                    effect.group_id,
                    platform,
                    effect.invite_code,
                    now,
                )
                await self._record_consent(
                    session, participant.id, effect.campaign_id, AGREED, platform, now, t.lang
                )
                if effect.invite_code:
                    await InviteRepo(session).use(effect.invite_code)
            elif isinstance(effect, OptOut):
                await enrolments.opt_out(participant.id, effect.campaign_id, now)
                await self._record_consent(
                    session, participant.id, effect.campaign_id, WITHDRAWN, platform, now, t.lang
                )
            elif isinstance(effect, FlowStarted):
                await progress.mark(
                    participant.id,
                    effect.campaign_id,
                    effect.flow_id,
                    effect.entry_key,
                    now,
                    finished=False,
                )
            elif isinstance(effect, FlowEnded):
                await progress.mark(
                    participant.id,
                    effect.campaign_id,
                    effect.flow_id,
                    effect.entry_key,
                    now,
                    finished=effect.completed,
                )
            elif isinstance(effect, ShowData):
                t.replies.append(
                    Outbound(await self._describe(session, participant, t.lang), lang=t.lang)
                )
        responses = ResponseRepo(session)
        group = t.state.group_id or ""
        for index, record in enumerate(t.records):
            await responses.add(
                _new_response(
                    record, participant.id, group, platform, source_msg_id, now, index, t.lang
                )
            )
        if t.state.language != language_before:
            await ParticipantRepo(session).set_language(participant.id, t.state.language)
        return False

    async def _record_consent(
        self,
        session: AsyncSession,
        participant_id: int,
        campaign_id: str | None,
        decision: str,
        platform: str,
        now: datetime,
        language: str,
    ) -> None:
        """Keep the exact consent text (its version) the person agreed to or withdrew from.

        The text is the one they were shown, in their language, and that language is recorded.
        """
        campaign = self.settings.campaign_by_id.get(campaign_id or "")
        if campaign is None:  # /stop before joining any campaign: nothing was agreed to
            return
        await ConsentRepo(session).record(
            participant_id,
            campaign_id,
            campaign.consent.get(language),
            decision,
            at=now,
            channel=platform,
            language=language,
        )

    async def _describe(
        self, session: AsyncSession, participant: ParticipantRef, lang: str | None = None
    ) -> str:
        """The /mydata answer: everything we hold, in plain words in the person's language, and
        the person's reference.

        The reference is the pseudonym that exports carry and that ``forget`` and
        ``subject-access`` accept, so a person can quote it in an emailed request.
        """
        tr = catalog(lang or self.settings.default_language).gettext
        participants = ParticipantRepo(session)
        enrolments = await EnrolmentRepo(session).for_participant(participant.id)
        rows = await ResponseRepo(session).rows(participant_id=participant.id)
        addresses = await participants.addresses(participant.id)
        lines = [tr(say.MYDATA_HEAD)]
        if participant.pseudonym:
            lines.append(tr(say.MYDATA_REFERENCE).format(reference=participant.pseudonym))
        platforms = ", ".join(a.platform for a in addresses)
        lines.append(tr(say.MYDATA_REACH).format(platforms=platforms))
        if len(self.settings.languages) > 1 and lang:
            lines.append(tr(say.MYDATA_LANGUAGE).format(language=native_name(lang)))
        for enrolment in enrolments:
            group = self.settings.group_by_id.get(enrolment.group_id)
            campaign = self.settings.campaign_by_id.get(enrolment.campaign_id)
            line = say.MYDATA_STOPPED if enrolment.opted_out_at else say.MYDATA_TAKING_PART
            lines.append(
                tr(line).format(
                    title=campaign.title.get(lang) if campaign else enrolment.campaign_id,
                    group=group.label.get(lang) if group else enrolment.group_id,
                )
            )
        lines.append(tr(say.MYDATA_ANSWERS).format(count=len(rows)))
        for row in rows[-MYDATA_SHOWN:]:
            question = clip(question_text(self.settings, row.flow, row.step, lang, tr), 120)
            answer = answer_text(self.settings, row.flow, row.step, row.answer, lang, tr)
            lines.append(f"  – “{question}”: {clip(answer, 200)}")
        if len(rows) > MYDATA_SHOWN:
            lines.append("  " + tr(say.MYDATA_SHOWING).format(count=MYDATA_SHOWN))
        lines.append(tr(say.MYDATA_DELETE))
        return "\n".join(lines)

    async def _edit_or_delete(self, inbound: Inbound) -> list[Outbound]:
        """Apply an edit or deletion of an earlier message; returns what to tell the person.

        An edit is checked like a first answer (:func:`check_edit`): one that does not fit the
        question (a scale answer of 999) changes nothing and gets the question's hint. An edit
        with a message id is logged like any message, so a redelivery repeats the reply only.
        """
        if not inbound.edit_of:
            return []
        try:
            async with self.sessionmaker.begin() as session:
                replies = await self._edit_in(session, inbound)
                if inbound.platform_msg_id:
                    who = await ParticipantRepo(session).find_by_address(
                        inbound.platform, inbound.user_ref
                    )
                    if who is not None:
                        await InboundLogRepo(session).record(
                            inbound.platform,
                            inbound.platform_msg_id,
                            who.id,
                            [outbound_to_json(r) for r in replies],
                            self.clock.now(),
                        )
                return replies
        except IntegrityError:
            if not inbound.platform_msg_id:
                raise
            async with self.sessionmaker() as session:
                stored = await InboundLogRepo(session).undelivered_replies_for(
                    inbound.platform, inbound.platform_msg_id
                )
            return [outbound_from_json(r) for r in stored or []]

    async def _edit_in(self, session: AsyncSession, inbound: Inbound) -> list[Outbound]:
        assert inbound.edit_of is not None
        responses = ResponseRepo(session)
        if inbound.kind == "delete":
            await responses.delete_by_source(inbound.platform, inbound.edit_of)
            return []
        current = await responses.find_by_source(inbound.platform, inbound.edit_of)
        if current is None or inbound.text is None:
            return []
        if await self._has_stopped(session, inbound):
            return []  # after /stop nothing a person sends changes what is stored
        lang = current.language or self.settings.default_language  # as it was asked
        verdict = check_edit(
            self.settings,
            current.flow,
            current.step,
            current.kind,
            inbound.text,
            current.answer,
            lang=lang,
            gettext=catalog(lang).gettext,
        )
        if verdict.answer is None:
            return list(verdict.replies)
        if verdict.answer != current.answer:
            await responses.edit(
                inbound.platform, inbound.edit_of, verdict.answer, self.clock.now()
            )
        return []

    @staticmethod
    async def _has_stopped(session: AsyncSession, inbound: Inbound) -> bool:
        found = await StateRepo(session).load_by_address(inbound.platform, inbound.user_ref)
        return found is not None and ConversationState.from_json(found[1]).stage == "stopped"


class _PendingWrites:
    """Answers, states and log rows of a batch, written in three statements."""

    def __init__(self) -> None:
        self.responses: list[NewResponse] = []
        self.states: dict[int, dict[str, Any]] = {}
        self.logs: list[dict[str, Any]] = []

    async def flush(self, session: AsyncSession, now: datetime) -> None:
        await ResponseRepo(session).add_many(self.responses)
        await StateRepo(session).save_many(self.states, now)
        await InboundLogRepo(session).record_many(self.logs)
        self.responses, self.states, self.logs = [], {}, []


def _new_response(
    record: Record,
    participant_id: int,
    group: str,
    platform: str,
    msg_id: str | None,
    now: datetime,
    index: int,
    language: str | None = None,
) -> NewResponse:
    """The row for one engine record; a message's second record gets ``<msg id>#1`` and so on."""
    if index and msg_id:
        msg_id = f"{msg_id}#{index}"
    return NewResponse(
        campaign_id=record.campaign_id,
        flow_id=record.flow_id,
        step_id=record.step_id,
        group_id=group,
        channel=platform,
        kind=record.kind,
        answer=record.answer,
        answered_at=now,
        participant_id=participant_id,
        source_msg_id=msg_id,
        file_id=record.file_id,
        language=language,
    )


def _input_kind(inbound: Inbound) -> Any:
    if inbound.kind in ("text", "button", "voice", "media"):
        return inbound.kind
    return "text"
