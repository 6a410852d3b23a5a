"""The one place that composes engine, storage and adapters: one message, one transaction."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.events import Address, Choice, Inbound, Outbound
from bot.flows.engine import (
    Engine,
    Enrol,
    Erase,
    FlowEnded,
    FlowStarted,
    InviteCheck,
    OptOut,
    ShowData,
    Transition,
    UserInput,
    parse_command,
)
from bot.flows.state import ConversationState
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


def outbound_to_json(message: Outbound) -> dict[str, Any]:
    return asdict(message)


def outbound_from_json(data: dict[str, Any]) -> Outbound:
    choices = tuple(Choice(**c) for c in data.get("choices", ()))
    return Outbound(data["text"], choices, data.get("multi", False), data.get("prompt_ref"))


class Dispatcher:
    """Handles inbound messages and scheduled offers for every adapter.

    Args:
        settings: the validated campaign file.
        sessionmaker: async sessions; the dispatcher owns each transaction.
        clock: where "now" comes from.
        rehearsal: offer every flow at once after joining (the console adapter's mode).
    """

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        rehearsal: bool = False,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.rehearsal = rehearsal
        self._engines: dict[str, Engine] = {}

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
            await self._edit_or_delete(inbound)
            return []
        for attempt in range(3):
            try:
                async with self.sessionmaker.begin() as session:
                    return await self._handle_in(session, inbound)
            except IntegrityError:
                # Either a redelivery raced us (the winner holds the replies), or a person's
                # first two messages both tried to create them: then try again, as they exist now.
                if inbound.platform_msg_id:
                    async with self.sessionmaker() as session:
                        stored = await InboundLogRepo(session).replies_for(
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
            participant = await ParticipantRepo(session).create(
                inbound.platform, inbound.user_ref, inbound.address.chat_ref, now
            )
            saved, has_state = None, False
        else:
            participant, saved, has_state = found
        state = ConversationState.from_json(saved)
        event = UserInput(
            text=inbound.text or "",
            at=now,
            kind=_input_kind(inbound),
            file_id=inbound.file_id,
            invite=await self._check_invite(session, inbound.text, now),
            group_hint=inbound.group_hint
            or (
                await self._known_group(session, participant.id)
                if state.stage == "consent"
                else None
            ),
        )
        t = self.engine(inbound.platform).handle(state, event)
        erased = await self._apply(
            session, participant, t, inbound.platform, now, inbound.platform_msg_id
        )
        if not erased:
            await states.save(participant.id, t.state.to_json(), now, exists=has_state)
        if inbound.platform_msg_id:
            await InboundLogRepo(session).record(
                inbound.platform,
                inbound.platform_msg_id,
                None if erased else participant.id,
                [outbound_to_json(r) for r in t.replies],
                now,
            )
        return t.replies

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
        await self._apply(session, ref, t, address.platform, now, None)
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
        command = parse_command(text or "")
        if command is None or command[0] != "start" or not command[1]:
            return None
        code = command[1].split()[0]
        invite = await InviteRepo(session).get(code)
        if invite is None or invite.campaign_id not in self.settings.campaign_by_id:
            return InviteCheck(code, error="Sorry, that invite code isn't valid.")
        if invite.expires_at is not None and now >= invite.expires_at:
            return InviteCheck(code, error="Sorry, that invite code has expired.")
        if invite.max_uses is not None and invite.uses >= invite.max_uses:
            return InviteCheck(code, error="Sorry, that invite code has already been used up.")
        return InviteCheck(code, invite.campaign_id, invite.group_id)

    async def _apply(
        self,
        session: AsyncSession,
        participant: ParticipantRef,
        t: Transition,
        platform: str,
        now: datetime,
        source_msg_id: str | None,
    ) -> bool:
        """Carry out the engine's effects and store its records; True if the person was erased."""
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
                if effect.invite_code:
                    await InviteRepo(session).use(effect.invite_code)
            elif isinstance(effect, OptOut):
                await enrolments.opt_out(participant.id, effect.campaign_id, now)
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
                t.replies.append(Outbound(await self._describe(session, participant.id)))
        responses = ResponseRepo(session)
        group = t.state.group_id or ""
        for index, record in enumerate(t.records):
            msg_id = (
                source_msg_id if index == 0 or not source_msg_id else f"{source_msg_id}#{index}"
            )
            await responses.add(
                NewResponse(
                    campaign_id=record.campaign_id,
                    flow_id=record.flow_id,
                    step_id=record.step_id,
                    group_id=group,
                    channel=platform,
                    kind=record.kind,
                    answer=record.answer,
                    answered_at=now,
                    participant_id=participant.id,
                    source_msg_id=msg_id,
                    file_id=record.file_id,
                )
            )
        return False

    async def _describe(self, session: AsyncSession, participant_id: int) -> str:
        """The /mydata answer: everything we hold, in plain words."""
        participants = ParticipantRepo(session)
        enrolments = await EnrolmentRepo(session).for_participant(participant_id)
        rows = await ResponseRepo(session).rows(participant_id=participant_id)
        addresses = await participants.addresses(participant_id)
        lines = ["Here is what we hold about you:"]
        lines.append(
            "• How we reach you: your "
            + ", ".join(a.platform for a in addresses)
            + " account id (never shown in reports)."
        )
        for enrolment in enrolments:
            group = self.settings.group_by_id.get(enrolment.group_id)
            status = " (stopped)" if enrolment.opted_out_at else ""
            lines.append(
                f"• Taking part in {enrolment.campaign_id} as "
                f"{group.label if group else enrolment.group_id}{status}."
            )
        lines.append(f"• {len(rows)} answer(s).")
        for row in rows[-MYDATA_SHOWN:]:
            text = row.answer if len(row.answer) <= 200 else row.answer[:197] + "…"
            lines.append(f"  – {row.flow}/{row.step}: {text}")
        if len(rows) > MYDATA_SHOWN:
            lines.append(f"  (showing the latest {MYDATA_SHOWN})")
        lines.append("Send /delete to erase all of it.")
        return "\n".join(lines)

    async def _edit_or_delete(self, inbound: Inbound) -> None:
        if not inbound.edit_of:
            return
        async with self.sessionmaker.begin() as session:
            responses = ResponseRepo(session)
            if inbound.kind == "delete":
                await responses.delete_by_source(inbound.platform, inbound.edit_of)
            elif inbound.text is not None and inbound.text.strip():
                await responses.edit(
                    inbound.platform, inbound.edit_of, inbound.text, self.clock.now()
                )


def _input_kind(inbound: Inbound) -> Any:
    if inbound.kind in ("text", "button", "voice", "media"):
        return inbound.kind
    return "text"
