"""Seeded platform faults that the Telegram and Slack doubles consult on every call.

A :class:`FaultPlan` decides, call by call, whether a double answers normally or misbehaves the
way real platforms do: flood control (429 with a retry-after), a server error (500), a timeout
*after* the message was accepted (the double records the message as delivered, then withholds
the answer past the client's timeout and drops the connection), or a dropped connection before
anything was accepted. Decisions come from one ``random.Random(seed)``, so a run is repeatable
as far as the order of calls is; the fault suite's checks are invariants that must hold for any
order.

Each double only asks the plan (``double.fault_plan = plan``) and applies what it is told; the
plan never knows the wire format. Scripted one-off faults (``TelegramApiDouble.fail``,
``SlackApiDouble.plan``) still win over the plan.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["429", "500", "timeout", "drop"]
KINDS: tuple[FaultKind, ...] = ("429", "500", "timeout", "drop")
AMBIGUOUS: frozenset[FaultKind] = frozenset({"timeout", "drop"})
"""Faults after which the client cannot know whether the platform took the message."""


SHUTDOWN_TIMEOUT = 1.0
"""Seconds a double's server gives calls still in flight (a held answer) when a test ends.

aiohttp waits 60 s by default, so a test that leaves Telegram holding a reply would spend a
minute in teardown; the client is gone by then and nobody is waiting for that answer."""


@dataclass(frozen=True, slots=True)
class Injected:
    """One fault a double applied: what, to which call, and for which chat or channel."""

    kind: FaultKind
    method: str
    chat: str | None
    text: str | None
    retry_after: float
    at: float


@dataclass(slots=True)
class FaultPlan:
    """Which calls misbehave, at seeded random.

    Args:
        seed: the random generator's seed.
        rates: probability per call of each kind (``{"429": 0.03, "timeout": 0.01}``).
        methods: the API methods that may misbehave, each with the kinds it may get
            (e.g. no timeouts for a long poll); a method not listed always succeeds.
        retry_after: the range (seconds) a 429's retry-after is drawn from.
        hold: how long a ``timeout`` withholds its answer; longer than the client's timeout.
        on_accept: called with (method, chat, text) whenever a double accepts a message, faulty
            or not; the suite uses it to kill the bot at an exact point of a fan-out.
        force: faults that must happen, each once: (method, text it contains, kind); the first
            matching call gets it, whatever the dice say (so a check meets it in every run).
        ambiguous_kinds: the faults after which the client cannot know whether the message was
            taken (Slack documents a 500 as possibly posted; Telegram's as not taken).
        spared: chats (or channels) whose calls never misbehave at random (forced faults still
            reach them).
        refusing: chats the platform refuses anyway (a blocked bot); forced faults skip them.
    """

    seed: int
    rates: Mapping[FaultKind, float]
    methods: Mapping[str, Iterable[FaultKind]]
    retry_after: tuple[float, float] = (1.0, 2.0)
    hold: float = 12.0
    on_accept: Callable[[str, str | None, str | None], None] | None = None
    force: list[tuple[str, str, FaultKind]] = field(default_factory=list)
    ambiguous_kinds: frozenset[FaultKind] = AMBIGUOUS
    spared: set[str] = field(default_factory=set)
    refusing: set[str] = field(default_factory=set)
    enabled: bool = True
    injected: list[Injected] = field(default_factory=list)
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self.methods = {m: frozenset(kinds) for m, kinds in self.methods.items()}

    def decide(self, method: str, chat: object = None, text: object = None) -> Injected | None:
        """The fault for this call, or None to answer normally (and record what was decided)."""
        allowed = self.methods.get(method)
        key = None if chat is None else str(chat)
        if not self.enabled:
            return None
        for index, (forced_method, contains, kind) in enumerate(self.force):
            if forced_method == method and isinstance(text, str) and contains in text:
                if key in self.refusing:
                    break
                del self.force[index]
                return self._inject(kind, method, chat, text)
        if not allowed or key in self.spared:
            return None
        draw = self._random.random()
        for kind in KINDS:
            rate = self.rates.get(kind, 0.0) if kind in allowed else 0.0
            if draw < rate:
                return self._inject(kind, method, chat, text)
            draw -= rate
        return None

    def _inject(self, kind: FaultKind, method: str, chat: object, text: object) -> Injected:
        low, high = self.retry_after
        wait = round(self._random.uniform(low, high), 2) if kind == "429" else 0.0
        fault = Injected(
            kind,
            method,
            None if chat is None else str(chat),
            None if text is None else str(text),
            wait,
            time.monotonic(),
        )
        self.injected.append(fault)
        return fault

    def accepted(self, method: str, chat: object = None, text: object = None) -> None:
        """A double took a message (before it answers): tell whoever watches."""
        if self.on_accept is not None:
            self.on_accept(method, None if chat is None else str(chat), text and str(text))

    def counts(self) -> Counter[str]:
        """How many faults of each kind were applied."""
        return Counter(f.kind for f in self.injected)

    def ambiguous(self, chat: str, text: str) -> bool:
        """Whether a send of ``text`` to ``chat`` met a fault that leaves its fate unknown."""
        return any(
            f.kind in self.ambiguous_kinds
            and f.chat == chat
            and f.text is not None
            and text in f.text
            for f in self.injected
        )
