"""Channel prompts: a campaign question posted in a group's shared channel, answered in its thread.

Platform-free: an adapter posts the text this module builds, tells it which platform message
carries which prompt, and hands it each thread reply. Replies skip the direct-message consent
dialogue because the posted prompt carries the notice; replying counts as taking part, and the
answer is stored with the channel's group under the person's pseudonym.

The prompt records live in the inbound log (keys ``prompt:<chat>:<msg>`` and ``posted:<hash>``),
so no table is needed and a restart forgets nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Flow, Settings
from bot.flows.intents import is_blank, is_stop
from storage.consent import WITHDRAWN, ConsentRepo
from storage.records import NewResponse, ParticipantRef
from storage.repositories import EnrolmentRepo, InboundLogRepo, ParticipantRepo, ResponseRepo
from storage.stats import (
    ResponseCount,
    answered_flows,
    enrolment_states,
    handled_ids,
    logged_payloads,
    participants_by_user,
    response_counts,
)

NOTICE = (
    "Replies in this thread are collected for “{title}”. Each reply is stored with this "
    "channel's group ({group}) and never your name. {commands}"
)
REPLY_STOPPED = (
    "You've stopped taking part, so I didn't keep your reply. Send me /start in a direct "
    "message to rejoin."
)
REPLY_CLOSED = "This exercise has closed, thank you. I didn't keep your reply."
REPLY_STOP = (
    "You've stopped taking part: I won't keep your replies here from now on. Send me /start in "
    "a direct message if you want to rejoin."
)
ReplyStatus = Literal["stored", "duplicate", "unknown_thread", "stopped", "closed", "blank"]


@dataclass(frozen=True, slots=True)
class ChannelPrompt:
    """One question to post in one channel; ``key`` makes posting it twice impossible."""

    campaign_id: str
    flow_id: str
    entry_key: str
    step_id: str
    group_id: str
    chat_ref: str
    text: str

    @property
    def key(self) -> str:
        raw = f"{self.campaign_id}\n{self.entry_key}\n{self.chat_ref}"
        return "posted:" + hashlib.sha256(raw.encode()).hexdigest()[:40]

    @property
    def ref(self) -> str:
        return f"{self.campaign_id}:{self.flow_id}:{self.step_id}"


@dataclass(frozen=True, slots=True)
class PromptRef:
    """A posted prompt: which campaign question a platform message (thread parent) carries."""

    campaign_id: str
    flow_id: str
    entry_key: str
    step_id: str
    group_id: str
    chat_ref: str
    msg_ref: str


@dataclass(frozen=True, slots=True)
class ChannelReply:
    """A person's reply in a prompt's thread, as the adapter saw it."""

    platform: str
    user_ref: str
    chat_ref: str
    thread_ref: str
    platform_msg_id: str
    text: str
    received_at: datetime
    first_name: str | None = field(default=None, repr=False)
    last_name: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ReplyResult:
    """What became of a thread reply; ``notice`` is for the author only (never the channel)."""

    status: ReplyStatus
    notice: str | None = None


@dataclass(slots=True)
class _Known:
    """What one batch of replies found in the database, kept current as the batch is stored."""

    seen: set[str]
    people: dict[str, ParticipantRef]
    opted_out: dict[tuple[int, str], bool]


@dataclass(frozen=True, slots=True)
class StatusReport:
    """``/listening status``: open prompts for this person, and counts for organisers."""

    open_prompts: list[tuple[PromptRef, bool]]
    counts: list[ResponseCount] | None


class ChannelPrompts:
    """Builds, remembers and collects channel prompts.

    Args:
        settings: the validated campaign file.
        sessionmaker: async sessions; each call here is one transaction.
        clock: where "now" comes from.
        platform: the platform whose channels these are (``"slack"``).
        commands_hint: how to tell people about stop/mydata/delete on that platform.
        batch_size: the most thread replies committed in one transaction.
    """

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        platform: str = "slack",
        commands_hint: str = "",
        batch_size: int = 100,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.platform = platform
        self.commands_hint = commands_hint
        self.batch_size = batch_size
        self._refs: dict[tuple[str, str], PromptRef] = {}
        self._waiting: list[tuple[ChannelReply, asyncio.Future[ReplyResult]]] = []
        self._writer: asyncio.Future[None] | None = None

    # -- posting ----------------------------------------------------------------------------
    def prompts_for(
        self, campaign_id: str, entry_key: str, flow_id: str, channels: Mapping[str, str]
    ) -> list[ChannelPrompt]:
        """The prompt for each mapped channel whose group the schedule entry goes to."""
        campaign = self.settings.campaign(campaign_id)
        if self.platform not in self.settings.campaign_channels(campaign):
            return []
        _, closes = self.settings.campaign_window(campaign)
        if closes is not None and self.clock.now() >= closes:
            return []
        flow = self.settings.flow_by_id[flow_id]
        step_id, question = _question(flow)
        audience = self.settings.audience(campaign, entry_key.split("#", 1)[0], flow_id)
        prompts = []
        for chat_ref, group_id in channels.items():
            if group_id not in audience:
                continue
            group = self.settings.group_by_id[group_id]
            notice = NOTICE.format(
                title=campaign.title, group=group.label, commands=self.commands_hint
            ).strip()
            text = f"*{flow.display_title}*\n{question}\n\n_{notice}_"
            prompts.append(
                ChannelPrompt(campaign.id, flow.id, entry_key, step_id, group_id, chat_ref, text)
            )
        return prompts

    async def posted(self, prompt: ChannelPrompt) -> dict[str, Any] | None:
        """How an earlier attempt to post this prompt ended, if there was one."""
        async with self.sessionmaker() as session:
            stored = await InboundLogRepo(session).replies_for(self.platform, prompt.key)
        return stored[0] if stored else None

    async def remember(self, prompt: ChannelPrompt, msg_ref: str | None, status: str) -> None:
        """Record a post's outcome and, when it has a message id, which thread is which prompt."""
        now = self.clock.now()
        try:
            async with self.sessionmaker.begin() as session:
                log = InboundLogRepo(session)
                await log.record(
                    self.platform,
                    prompt.key,
                    None,
                    [{"status": status, "msg_ref": msg_ref, "chat_ref": prompt.chat_ref}],
                    now,
                )
                if msg_ref:
                    payload = {
                        "campaign": prompt.campaign_id,
                        "flow": prompt.flow_id,
                        "entry": prompt.entry_key,
                        "step": prompt.step_id,
                        "group": prompt.group_id,
                    }
                    await log.record(
                        self.platform, _thread_key(prompt.chat_ref, msg_ref), None, [payload], now
                    )
        except IntegrityError:
            pass  # Another instance recorded the same post first; its record stands.
        if msg_ref:
            self._refs[(prompt.chat_ref, msg_ref)] = PromptRef(
                prompt.campaign_id,
                prompt.flow_id,
                prompt.entry_key,
                prompt.step_id,
                prompt.group_id,
                prompt.chat_ref,
                msg_ref,
            )

    async def lookup(
        self, chat_ref: str, msg_ref: str, session: AsyncSession | None = None
    ) -> PromptRef | None:
        """The prompt a thread parent carries, or None if it is not one of ours."""
        cached = self._refs.get((chat_ref, msg_ref))
        if cached is not None:
            return cached
        if session is None:
            async with self.sessionmaker() as own:
                return await self.lookup(chat_ref, msg_ref, own)
        stored = await InboundLogRepo(session).replies_for(
            self.platform, _thread_key(chat_ref, msg_ref)
        )
        if not stored:
            return None
        ref = _ref_from(chat_ref, msg_ref, stored[0])
        self._refs[(chat_ref, msg_ref)] = ref
        return ref

    # -- collecting -------------------------------------------------------------------------
    async def record_reply(self, reply: ChannelReply) -> ReplyResult:
        """Store a thread reply as an answer of the channel's group, once; returns after commit.

        Replies arriving together are committed together (group commit): one writer takes every
        reply waiting, stores them in one transaction and answers each caller after the commit.
        That keeps SQLite free of lock fights and makes a busy thread cheaper, not slower. If the
        shared transaction fails, each reply is retried alone, so one bad reply sinks no other.
        """
        future: asyncio.Future[ReplyResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((reply, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_batches())
        return await future

    async def _write_batches(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.batch_size]
            del self._waiting[: self.batch_size]
            try:
                async with self.sessionmaker.begin() as session:
                    known = await self._prefetch(session, [reply for reply, _ in batch])
                    # Sequential on purpose: one session, and later replies see earlier ones
                    # (a person's first reply creates them; a repeated id is a duplicate).
                    results = [await self._record(session, reply, known) for reply, _ in batch]
            except Exception:
                for reply, future in batch:
                    if not future.done():
                        await self._record_alone(reply, future)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _record_alone(self, reply: ChannelReply, future: asyncio.Future[ReplyResult]) -> None:
        for attempt in range(3):
            try:
                async with self.sessionmaker.begin() as session:
                    known = await self._prefetch(session, [reply])
                    future.set_result(await self._record(session, reply, known))
                return
            except IntegrityError as exc:
                # Another process stored this reply, or created this person, at the same moment:
                # the next attempt sees what it committed.
                if attempt == 2:
                    future.set_exception(exc)
            except Exception as exc:
                future.set_exception(exc)
                return

    async def _prefetch(self, session: AsyncSession, replies: list[ChannelReply]) -> _Known:
        """What the batch needs to know, in three queries instead of several per reply."""
        seen = await handled_ids(session, self.platform, [r.platform_msg_id for r in replies])
        people = await participants_by_user(
            session, self.platform, sorted({r.user_ref for r in replies})
        )
        campaigns = set()
        for reply in replies:
            prompt = await self.lookup(reply.chat_ref, reply.thread_ref, session)
            if prompt is not None:
                campaigns.add(prompt.campaign_id)
        opted_out: dict[tuple[int, str], bool] = {}
        ids = sorted({p.id for p in people.values()})
        for campaign_id in sorted(campaigns):
            for pid, stopped in (await enrolment_states(session, ids, campaign_id)).items():
                opted_out[(pid, campaign_id)] = stopped
        return _Known(seen, people, opted_out)

    async def _record(
        self, session: AsyncSession, reply: ChannelReply, known: _Known
    ) -> ReplyResult:
        now = self.clock.now()
        log = InboundLogRepo(session)
        if reply.platform_msg_id in known.seen:
            return ReplyResult("duplicate")
        prompt = await self.lookup(reply.chat_ref, reply.thread_ref, session)
        if prompt is None:
            return ReplyResult("unknown_thread")
        campaign = self.settings.campaign_by_id.get(prompt.campaign_id)
        closes = self.settings.campaign_window(campaign)[1] if campaign else None
        if campaign is None or (closes is not None and now >= closes):
            return ReplyResult("closed", REPLY_CLOSED)
        if is_blank(reply.text):  # spaces or zero-width characters only: not an answer
            return ReplyResult("blank")
        participant = known.people.get(reply.user_ref)
        if participant is None:
            # Reached by a direct message to the user id until they write to us themselves.
            participant = await ParticipantRepo(session).create(
                self.platform,
                reply.user_ref,
                reply.user_ref,
                now,
                first_name=reply.first_name,
                last_name=reply.last_name,
            )
            known.people[reply.user_ref] = participant
        known.seen.add(reply.platform_msg_id)
        stopped = known.opted_out.get((participant.id, prompt.campaign_id))
        if is_stop(reply.text):
            # "stop" in a thread stops at once, as in a direct message; it is never an answer.
            if stopped is False:
                await EnrolmentRepo(session).opt_out(participant.id, prompt.campaign_id, now)
                await ConsentRepo(session).record(
                    participant.id,
                    prompt.campaign_id,
                    campaign.consent,
                    WITHDRAWN,
                    at=now,
                    channel=self.platform,
                    language="en",
                )
                known.opted_out[(participant.id, prompt.campaign_id)] = True
            await log.record(self.platform, reply.platform_msg_id, participant.id, [], now)
            return ReplyResult("stopped", REPLY_STOP)
        if stopped:
            await log.record(self.platform, reply.platform_msg_id, participant.id, [], now)
            return ReplyResult("stopped", REPLY_STOPPED)
        if stopped is None:
            await EnrolmentRepo(session).enrol(
                participant.id, prompt.campaign_id, prompt.group_id, self.platform, None, now
            )
            known.opted_out[(participant.id, prompt.campaign_id)] = False
        await ResponseRepo(session).add(
            NewResponse(
                campaign_id=prompt.campaign_id,
                flow_id=prompt.flow_id,
                step_id=prompt.step_id,
                group_id=prompt.group_id,
                channel=self.platform,
                kind="open",
                answer=reply.text,
                answered_at=now,
                participant_id=participant.id,
                source_msg_id=reply.platform_msg_id,
            )
        )
        await log.record(self.platform, reply.platform_msg_id, participant.id, [], now)
        return ReplyResult("stored")

    # -- status -----------------------------------------------------------------------------
    async def language_of(self, user_ref: str) -> str | None:
        """The language this person chose (``/language`` or at join), for the adapter's own
        words (``/listening`` help); None when they never told us."""
        async with self.sessionmaker() as session:
            return await ParticipantRepo(session).language_at(self.platform, user_ref)

    async def status(self, user_ref: str, group_id: str | None, *, organiser: bool) -> StatusReport:
        """Open prompts for this person (their group's, or all); counts for organisers."""
        now = self.clock.now()
        async with self.sessionmaker() as session:
            participant = await ParticipantRepo(session).find_by_address(self.platform, user_ref)
            answered: set[tuple[str, str]] = set()
            if participant is not None:
                answered = await answered_flows(session, participant.id)
                if group_id is None:
                    for enrolment in await EnrolmentRepo(session).for_participant(participant.id):
                        group_id = enrolment.group_id
            prompts = []
            for key, payload in await logged_payloads(session, self.platform, "prompt:"):
                if not payload:
                    continue
                _, chat_ref, msg_ref = key.split(":", 2)
                ref = _ref_from(chat_ref, msg_ref, payload[0])
                campaign = self.settings.campaign_by_id.get(ref.campaign_id)
                if campaign is None:
                    continue
                closes = self.settings.campaign_window(campaign)[1]
                if closes is not None and now >= closes:
                    continue
                if group_id is not None and ref.group_id != group_id:
                    continue
                prompts.append((ref, (ref.campaign_id, ref.flow_id) in answered))
            counts = await response_counts(session) if organiser else None
        return StatusReport(prompts, counts)


def _thread_key(chat_ref: str, msg_ref: str) -> str:
    return f"prompt:{chat_ref}:{msg_ref}"


def _ref_from(chat_ref: str, msg_ref: str, payload: dict[str, Any]) -> PromptRef:
    return PromptRef(
        payload["campaign"],
        payload["flow"],
        payload["entry"],
        payload["step"],
        payload["group"],
        chat_ref,
        msg_ref,
    )


def _question(flow: Flow) -> tuple[str, str]:
    """The one question a channel prompt asks: an open flow's opening, else its first step."""
    if flow.kind == "open":
        return "opening", (flow.opening or "").strip() + "\n_Reply in this thread._"
    step = next(s for s in flow.steps if s.when is None)
    text = step.ask.strip()
    if step.options:
        text += "\n" + "\n".join(f"{i}. {o}" for i, o in enumerate(step.options, start=1))
    elif step.type == "scale":
        text += f" ({step.min} to {step.max})"
    return step.id, text + "\n_Reply in this thread._"


__all__ = [
    "ChannelPrompt",
    "ChannelPrompts",
    "ChannelReply",
    "PromptRef",
    "ReplyResult",
    "StatusReport",
]
