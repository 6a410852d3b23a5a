"""The campaign every fault run plays, and how a run is judged, whatever the platform.

People join (consent, group), get the pulse in a scheduled fan-out at ``T0`` (challenge question
1 is due then too and waits behind it), answer the pulse and the challenge's opening and first
probe, and finish. A person waits a bounded time for each message of the bot and stops at the
first one that does not come (a real person would, too): that message is then counted.

The verdict compares what the simulated people did with the double's own records (what the
platform received) and with the database (what was stored).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from storage.db import make_engine, make_sessionmaker
from storage.models import Enrolment, OutboxRow, PlatformAddress, Response
from tests.conftest import example_data, write_config
from tests.doubles.faults import FaultPlan
from tests.faults.harness import (
    TALLY,
    BotUnderTest,
    database_outage,
    gather_bounded,
    leaks,
    until,
)

CAMPAIGN = "faults-2026"
CONSENT = "Your answers are kept without your name. Do you agree to take part?"
PULSE = "How positive"
"""The fan-out prompt (the pulse flow's question); every other expected message is a reply."""
PROMPTS = frozenset({PULSE})
SCHEDULED = {PULSE: "pulse", "Tell it as it is": "challenge-1"}
"""Messages a scheduled send may carry, and its flow: challenge 1's opening comes as the reply
that ends the pulse, or from the outbox when challenge 1 was not waiting behind the pulse."""
WAIT = 20.0
"""How long a person waits for the bot's next message before giving up (kills included)."""
KILL_MARKERS = ("taking part as", PULSE, "that's all for", "example from your own")
"""Kill when the platform takes the n-th message carrying each: in enrolment, inside the
fan-out, with a reply queued behind the one taken ("that's all for" comes just before challenge
1's opening), and while answers come in."""
FAR = datetime(2099, 6, 1, tzinfo=UTC)
"""``T0`` until everyone has joined: the fan-out's time is set then (and the bot restarted)."""
ENROL_BUDGET = 60.0
BOT_ENV = {"LISTENING_SCHEDULER_POLL": "1s", "LISTENING_SCHEDULER_BATCH": "4"}
"""Poll every second, and claim 4 sends per transaction so a small fan-out spans batches."""


@dataclass(slots=True)
class Step:
    """One thing a person does (or waits for) and the bot's message it expects next.

    ``stores``: the answer this step must leave in the database (``pulse`` for the pulse's
    score, else the text itself), or None.
    """

    action: str  # "text", "press" or "wait"
    value: str
    expect: str
    stores: str | None = None


@dataclass(slots=True)
class Person:
    """A simulated participant: seeded ids, name and answers, and what happened to them."""

    chat: str
    secrets: list[str]
    steps: list[Step]
    done: int = 0
    stuck: str | None = None
    answered: list[str] = field(default_factory=list)
    enrolling: bool = True
    """Still joining (False once waiting for the fan-out, or stopped)."""
    user: str = ""
    """The platform's user id when it differs from ``chat`` (Slack's DM channel)."""
    blocks: bool = False
    """Blocks the bot once enrolled (the platform then refuses every message to them)."""
    timeline: list[tuple[float, str]] = field(default_factory=list)
    """``(time.monotonic(), what)`` of each step taken and each message that came (diagnostics)."""


@dataclass(slots=True)
class RunResult:
    """What one run found (each list holds one human-readable line per problem)."""

    platform: str
    seed: int
    backend: str
    people: int
    kills: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    outages: int = 0
    answers_lost: list[str] = field(default_factory=list)
    answers_twice: list[str] = field(default_factory=list)
    prompts_unsent: list[str] = field(default_factory=list)
    replies_unsent: list[str] = field(default_factory=list)
    prompts_twice: list[str] = field(default_factory=list)
    replies_twice: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)
    log_leaks: list[str] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    """Exit codes of the graceful stops (SIGTERM)."""
    crashes: list[str] = field(default_factory=list)
    """Times the bot exited on its own while the database was fine (it was restarted)."""
    refused_starts: int = 0
    """Times it exited on its own just after the database was unavailable (restarted too)."""
    kill_points: list[str] = field(default_factory=list)
    kill_times: list[float] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)
    """For each message found missing: what the database and the double knew (for reading
    after a failed run; ``result.json``)."""
    seconds: float = 0.0

    def save(self, path: Path) -> None:
        """Write every finding to ``path`` (JSON), for reading after a failed run."""
        import json
        from dataclasses import fields

        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["faults"] = dict(self.faults)
        path.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")

    def record(self) -> None:
        """Add this run to the session's tally (and its one-line note)."""
        TALLY.runs += 1
        TALLY.kills += self.kills
        TALLY.faults += sum(self.faults.values())
        TALLY.outages += self.outages
        TALLY.answers_lost += len(self.answers_lost)
        TALLY.answers_twice += len(self.answers_twice)
        TALLY.prompts_unsent += len(self.prompts_unsent)
        TALLY.replies_unsent += len(self.replies_unsent)
        TALLY.prompts_twice += len(self.prompts_twice)
        TALLY.replies_twice += len(self.replies_twice)
        TALLY.uncertain += len(self.uncertain)
        TALLY.log_leaks += len(self.log_leaks)
        TALLY.unclean_exits += sum(code != 0 for code in self.exit_codes)
        faults = " ".join(f"{k}={v}" for k, v in sorted(self.faults.items()))
        TALLY.note(
            f"{self.platform}/{self.backend} seed={self.seed}: {self.people} people, "
            f"{self.kills} kills, faults {faults}, {self.outages} database outages; "
            f"lost={len(self.answers_lost)} stored-twice={len(self.answers_twice)} "
            f"prompts unsent={len(self.prompts_unsent)} twice={len(self.prompts_twice)} "
            f"replies unsent={len(self.replies_unsent)} twice={len(self.replies_twice)} "
            f"uncertain={len(self.uncertain)} log-leaks={len(self.log_leaks)} "
            f"exits={self.exit_codes} crashes={len(self.crashes)} "
            f"exits-during-outage={self.refused_starts} ({self.seconds:.0f}s)"
        )


def campaign_config(folder: Path, db_url: str, at: datetime, platform: dict[str, Any]) -> Path:
    """The suite's campaign file: one platform section, the pulse and challenge 1 due at ``at``."""
    data = example_data()
    data["database_url"] = db_url
    data.pop("telegram", None)
    data.pop("slack", None)
    data.update(platform)
    data["timezone"] = "UTC"
    data["quiet_hours"] = None
    when = f"{at:%Y-%m-%d %H:%M:%S}"
    data["campaigns"] = [
        {
            "id": CAMPAIGN,
            "title": "Fault suite campaign",
            "groups": ["parents", "vcs"],
            "channels": list(platform),
            "consent": CONSENT,
            "opens": "2020-01-01 00:00",
            "closes": "2099-12-31 23:00",
            "schedule": [{"flow": "pulse", "at": when}, {"flow": "challenge-1", "at": when}],
        }
    ]
    return write_config(folder, data)


Act = Callable[[Person, Step, "Step | None"], Any]
"""Performs one step on the platform (type, press); returns False when it could not."""


async def play(
    person: Person,
    act: Act,
    received: Callable[[str], list[str]],
    rng: random.Random,
    block: Callable[[], None] | None = None,
) -> None:
    """Go through the steps; stop at the first message that does not come within ``WAIT``."""
    try:
        await _play(person, act, received, rng, block)
    finally:
        person.enrolling = False


async def _play(
    person: Person,
    act: Act,
    received: Callable[[str], list[str]],
    rng: random.Random,
    block: Callable[[], None] | None,
) -> None:
    await asyncio.sleep(rng.uniform(0, 2))
    previous: Step | None = None
    for step in person.steps:
        if step.action == "wait":
            person.enrolling = False
        elif await act(person, step, previous) is False:
            person.stuck = f"could not act on {previous and previous.expect!r}"
            person.timeline.append((time.monotonic(), person.stuck))
            return
        person.timeline.append((time.monotonic(), f"{step.action} -> expects {step.expect!r}"))
        if step.stores is not None:
            person.answered.append(step.stores)
        wait = WAIT * 3 if step.action == "wait" else WAIT

        def arrived(marker: str = step.expect) -> bool:
            return any(marker in text for text in received(person.chat))

        if not await until(arrived, step.expect, wait):
            person.stuck = step.expect
            person.timeline.append((time.monotonic(), "gave up"))
            return
        person.timeline.append((time.monotonic(), "came"))
        person.done += 1
        previous = step
        if person.blocks and step.expect == "taking part as" and block is not None:
            block()
            return
        await asyncio.sleep(rng.uniform(0.05, 0.6))  # people take a moment to answer


class Killer:
    """Kills the bot when the platform takes the n-th message carrying a marker (once each)."""

    def __init__(self, bot: BotUnderTest, method: str, triggers: list[tuple[str, int]]) -> None:
        self.bot = bot
        self.method = method
        self.triggers = dict(triggers)
        self.seen: Counter[str] = Counter()
        self.armed = False
        self.spared: set[str] = set()
        """Chats whose messages never trigger a kill."""

    def __call__(self, method: str, chat: str | None, text: str | None) -> None:
        if method != self.method or not text or not self.armed or chat in self.spared:
            return
        for marker in list(self.triggers):
            if marker in text:
                self.seen[marker] += 1
                # a bot already down (restarting) is killed at the next such message instead
                if self.seen[marker] >= self.triggers[marker] and self.bot.kill_now(
                    f"{marker!r} #{self.seen[marker]} taken"
                ):
                    del self.triggers[marker]


def killer_for(bot: BotUnderTest, method: str, rng: random.Random, people: int) -> Killer:
    return Killer(bot, method, [(m, rng.randint(1, max(1, people // 3))) for m in KILL_MARKERS])


async def outages(db_url: str, t0: datetime, rng: random.Random, result: RunResult) -> None:
    """The database goes away just before the fan-out, and again while people answer."""
    await asyncio.sleep(max(0.0, t0.timestamp() - time.time() - 1))
    await database_outage(db_url, rng.uniform(2, 4))
    result.outages += 1
    await asyncio.sleep(rng.uniform(3, 8))
    await database_outage(db_url, rng.uniform(2, 4))
    result.outages += 1


async def wait_until_quiet(last_sent: Callable[[], float], db_url: str, timeout: float) -> None:
    """Wait (bounded) until the outbox has nothing left to do and the platform heard nothing
    for 3 s."""
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            async with sessions() as session:
                waiting = (
                    await session.scalars(
                        select(OutboxRow.id).where(OutboxRow.status.in_(("pending", "sending")))
                    )
                ).all()
            if not waiting and time.monotonic() - last_sent() > 3:
                return
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


def _same_participant(model: Any) -> Any:
    return PlatformAddress.participant_id == model.participant_id


async def judge(
    result: RunResult,
    people: list[Person],
    received: Callable[[str], list[str]],
    db_url: str,
    plan: FaultPlan,
    t0: datetime,
    calls: Callable[[str], list[tuple[float, str]]] | None = None,
) -> None:
    """Compare what people did with what the platform received and what was stored.

    The pulse is expected by everyone who had joined before ``T0`` (an ``at`` send goes to
    those enrolled at its time), by the bot's own record, unless they blocked the bot.
    """
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = (
                await session.execute(
                    select(PlatformAddress.chat_ref, Response.flow_id, Response.answer).join(
                        PlatformAddress, PlatformAddress.participant_id == Response.participant_id
                    )
                )
            ).all()
            joined = (
                await session.execute(
                    select(PlatformAddress.chat_ref, Enrolment.joined_at).join(
                        PlatformAddress, PlatformAddress.participant_id == Enrolment.participant_id
                    )
                )
            ).all()
            uncertain_rows = (
                await session.execute(
                    select(OutboxRow.id, PlatformAddress.chat_ref, OutboxRow.flow_id)
                    .join(PlatformAddress, _same_participant(OutboxRow))
                    .where(
                        or_(
                            OutboxRow.status == "uncertain",
                            OutboxRow.last_error.like("%uncertain%"),
                        )
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    recorded = await _uncertain_replies(db_url)
    log_rows = await _inbound_rows(db_url)
    stored: dict[str, Counter[str]] = {}
    for chat, flow, answer in rows:
        stored.setdefault(chat, Counter())["pulse" if flow == "pulse" else answer] += 1
    uncertain_sends: dict[str, set[str]] = {}
    """Per chat, the flows whose scheduled send the outbox recorded as uncertain."""
    for _, chat, flow in uncertain_rows:
        uncertain_sends.setdefault(chat, set()).add(flow)
    before_t0 = {chat for chat, at in joined if at < t0}
    result.uncertain += [f"outbox row {row} recorded as uncertain" for row, _, _ in uncertain_rows]
    for number, person in enumerate(people):
        who = f"person #{number}"
        mine = stored.get(person.chat, Counter())
        for key in person.answered:
            label = "the pulse answer" if key == "pulse" else "an answer"
            if mine[key] == 0:
                result.answers_lost.append(f"{who}: {label} was never stored")
            elif mine[key] > 1:
                result.answers_twice.append(f"{who}: {label} was stored {mine[key]} times")
        reached = person.done + (0 if person.blocks else 1)
        expected = [s.expect for s in person.steps[:reached] if s.expect != PULSE]
        if person.chat in before_t0 and not person.blocks:
            expected.append(PULSE)
        texts = received(person.chat)
        excused = 0
        for marker in expected:
            copies = sum(marker in t for t in texts)
            prompt = marker in PROMPTS
            if copies == 0:
                if SCHEDULED.get(marker) in uncertain_sends.get(person.chat, set()):
                    continue  # a scheduled send counted above, from the outbox
                if plan.ambiguous(person.chat, marker):
                    result.uncertain.append(f"{who}: {marker!r} may have arrived (no answer)")
                    excused += 1
                    continue
                if _cut_off_in_flight(marker, person, log_rows.get(person.chat, []), result):
                    result.uncertain.append(
                        f"{who}: {marker!r} was in flight when the bot was killed "
                        "(recorded uncertain)"
                    )
                    excused += 1
                    continue
                where = result.prompts_unsent if prompt else result.replies_unsent
                where.append(f"{who}: {marker!r} never reached the platform")
                result.diagnostics.append(
                    _diagnose(who, marker, person, log_rows.get(person.chat, []), plan, calls)
                )
            elif copies > 1:
                where = result.prompts_twice if prompt else result.replies_twice
                where.append(f"{who}: {marker!r} reached the platform {copies} times")
        # replies the bot itself recorded as uncertain, beyond those already counted above
        for _ in range(recorded.get(person.chat, 0) - excused):
            result.uncertain.append(f"{who}: a reply the bot recorded as uncertain")


@dataclass(frozen=True, slots=True)
class LogRow:
    """One inbound log row, as the verdict reads it."""

    id: int
    handled_at: datetime
    sending_at: datetime | None
    replied_at: datetime | None
    attempted: int
    uncertain: int
    replies: tuple[str, ...]

    def __str__(self) -> str:
        def hms(at: datetime | None) -> str:
            return f"{at:%H:%M:%S.%f}" if at is not None else "-"

        return (
            f"#{self.id} handled {hms(self.handled_at)} sending {hms(self.sending_at)} replied "
            f"{hms(self.replied_at)} attempted {self.attempted} uncertain {self.uncertain} "
            f"replies {[r[:25] for r in self.replies]}"
        )


def _cut_off_in_flight(marker: str, person: Person, rows: list[LogRow], result: RunResult) -> bool:
    """Whether a missing reply is one the bot recorded as possibly delivered because a kill
    came while its request may have been on the wire.

    That is the one case where a reply may legitimately never arrive: the attempt is noted
    (committed) right before the request is written, and a SIGKILL between the two leaves it
    unknown. It must be among the replies the bot noted as attempted for that message (the
    restarted bot goes on noting the ones after it, so it need not be the last), the bot must
    have counted one of them uncertain, and a kill must have come while the person waited for
    it. A reply merely waiting its turn when the process died is never noted, so it is not
    excused (``tests/adapters`` kill the process during such waits and check it arrives).
    """
    acted = [at for at, what in person.timeline if "expects" in what and marker in what]
    gave_up = [at for at, what in person.timeline if what == "gave up"]
    if not acted:
        return False
    start, end = acted[-1], (gave_up[-1] if gave_up else float("inf"))
    if not any(start <= kill <= end for kill in result.kill_times):
        return False
    return any(
        row.uncertain > 0 and any(marker in text for text in row.replies[: row.attempted])
        for row in rows
    )


def _diagnose(
    who: str,
    marker: str,
    person: Person,
    rows: list[LogRow],
    plan: FaultPlan,
    calls: Callable[[str], list[tuple[float, str]]] | None,
) -> str:
    """One line on a missing message: the person's steps, the double's calls to that chat, the
    faults it met and the inbound log's rows (times are ``time.monotonic()``, as kill times)."""
    steps = "; ".join(f"{at:.2f} {what}" for at, what in person.timeline)
    seen = "; ".join(f"{at:.2f} {what}" for at, what in calls(person.chat)) if calls else "?"
    faults = "; ".join(
        f"{f.at:.2f} {f.kind} on {(f.text or '')[:30]!r}"
        for f in plan.injected
        if f.chat == person.chat
    )
    return (
        f"{who} missing {marker!r}: steps [{steps}] calls [{seen}] faults [{faults}] "
        f"inbound_log [{' | '.join(str(r) for r in rows)}]"
    )


async def _inbound_rows(db_url: str) -> dict[str, list[LogRow]]:
    """Each chat's inbound log rows, oldest first."""
    from storage.models import InboundLog

    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = (
                await session.execute(
                    select(PlatformAddress.chat_ref, InboundLog)
                    .join(PlatformAddress, _same_participant(InboundLog))
                    .order_by(InboundLog.id)
                )
            ).all()
    finally:
        await engine.dispose()
    found: dict[str, list[LogRow]] = {}
    for chat, row in rows:
        found.setdefault(chat, []).append(
            LogRow(
                row.id,
                row.handled_at,
                row.sending_at,
                row.replied_at,
                row.replies_attempted,
                row.replies_uncertain,
                tuple(str(r.get("text", "")) for r in row.replies),
            )
        )
    return found


async def _uncertain_replies(db_url: str) -> dict[str, int]:
    """Replies each chat's inbound log records as uncertain, where the schema keeps that count
    (``inbound_log.replies_uncertain``); empty otherwise."""
    from sqlalchemy import func

    from storage.models import InboundLog

    column = getattr(InboundLog, "replies_uncertain", None)
    if column is None:
        return {}
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = (
                await session.execute(
                    select(PlatformAddress.chat_ref, func.sum(column))
                    .join(PlatformAddress, _same_participant(InboundLog))
                    .group_by(PlatformAddress.chat_ref)
                )
            ).all()
    finally:
        await engine.dispose()
    return {chat: int(total or 0) for chat, total in rows}


@dataclass(slots=True)
class Platform:
    """What a run needs from one platform's double."""

    name: str
    section: dict[str, Any]
    """The platform's part of the campaign file (``{"telegram": {...}}``)."""
    send_method: str
    plan: FaultPlan
    act: Act
    received: Callable[[str], list[str]]
    last_sent: Callable[[], float]
    block: Callable[[Person], None] | None = None
    calls: Callable[[str], list[tuple[float, str]]] | None = None
    """The double's send calls to one chat, ``(time.monotonic(), what)`` (diagnostics)."""


async def drive(
    platform: Platform, people: list[Person], folder: Path, db_url: str, result: RunResult
) -> None:
    """Play the campaign against the real process while everything breaks, then judge it.

    1. The bot starts with the fan-out far in the future. Whoever blocks the bot joins first,
       with no faults and no kills (so a send refused for good happens in every run); then the
       faults and kills begin and everyone else joins.
    2. Once nobody is still joining, the fan-out is set a few seconds ahead and the bot is
       restarted gracefully (an organiser editing the file), and the database goes away twice.
    3. People answer; afterwards the bot gets time to finish (bounded), is stopped with SIGTERM
       and the run is judged.
    """
    seed = result.seed
    rng = random.Random(seed + 7)
    config = campaign_config(folder, db_url, FAR, platform.section)
    log = folder / "bot.log"
    bot = BotUnderTest(config, log, BOT_ENV, random.Random(seed + 1))
    killer = killer_for(bot, platform.send_method, rng, len(people))
    plan = platform.plan
    plan.on_accept = killer
    t0 = FAR

    def blocking(who: Person) -> Callable[[], None]:
        def block() -> None:
            if platform.block is not None:
                platform.block(who)
            plan.refusing.add(who.chat)  # the forced faults are for people it still reaches

        return block

    blockers = [p for p in people if p.blocks]
    for blocker in blockers:
        plan.spared.add(blocker.chat)
        killer.spared.add(blocker.chat)
    await bot.start()
    try:
        # Whoever blocks the bot joins first, with no kills and no random faults, so every run
        # has a send refused for good, and the forced faults on joining (see FORCED) meet them
        # deterministically (a retried timeout shows as a second copy, whatever kills follow).
        for i, blocker in enumerate(blockers):
            rng_i = random.Random(seed * 1000 + 999 - i)
            await play(blocker, platform.act, platform.received, rng_i, blocking(blocker))
        plan.enabled = killer.armed = True
        players = [
            asyncio.ensure_future(
                play(p, platform.act, platform.received, random.Random(seed * 1000 + i))
            )
            for i, p in enumerate(people)
            if not p.blocks
        ]
        await until(lambda: not any(p.enrolling for p in people), "joining", ENROL_BUDGET)
        t0 = datetime.fromtimestamp(int(time.time()) + 6, UTC)
        campaign_config(folder, db_url, t0, platform.section)
        await bot.restart()
        down = asyncio.ensure_future(outages(db_url, t0, rng, result))
        await gather_bounded([*players, down], (t0.timestamp() - time.time()) + WAIT * 6)
        await bot.ensure_running()
        await wait_until_quiet(platform.last_sent, db_url, 25)
    finally:
        plan.enabled = False
        result.exit_codes = [*bot.exits, await bot.terminate()]
    result.kills, result.kill_points = bot.kills, bot.kill_points
    result.kill_times = [round(t, 2) for t in bot.kill_times]
    result.crashes = [f"exited with {code}" for code, outage in bot.crashes if not outage]
    result.refused_starts = sum(outage for _, outage in bot.crashes)
    result.faults = plan.counts()
    await judge(result, people, platform.received, db_url, plan, t0, platform.calls)
    secrets = [s for p in people for s in p.secrets]
    result.log_leaks = leaks(log.read_text(errors="replace"), secrets)
