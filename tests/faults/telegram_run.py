"""One seeded fault run on Telegram (the campaign and the verdict are in ``scenario.py``).

The real ``listening-bot run`` process polls the Bot API double. Parents with seeded ids, names,
usernames and answers join by /start and buttons, answer the pulse by button and the challenge
by text, and finish with /done. The double answers at seeded random with 429s, 500s, timeouts
after taking the message and dropped connections (every run meets a 429, a 500, a timeout on a
prompt and on a reply, and a dropped reply: see ``FORCED``); the process is SIGKILLed at the
points named in ``scenario.KILL_MARKERS`` and restarted; the database goes away twice. One
parent blocks the bot after joining, so a send Telegram refuses for good happens in every run.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from tests.doubles.faults import FaultPlan
from tests.doubles.telegram_api import JSON, TelegramApiDouble
from tests.faults.harness import FIRST_NAMES, LAST_NAMES, PHRASES, nonce
from tests.faults.scenario import PULSE, Person, Platform, RunResult, Step, drive

FAULT_RATES: dict[Any, float] = {"429": 0.04, "500": 0.03, "timeout": 0.012, "drop": 0.02}
FAULTY_METHODS: dict[str, tuple[Any, ...]] = {
    "sendMessage": ("429", "500", "timeout", "drop"),
    "getUpdates": ("429", "500", "drop"),
    "answerCallbackQuery": ("429", "500", "drop"),
    "editMessageReplyMarkup": ("429", "500", "drop"),
}
FORCED: list[Any] = [
    ("sendMessage", "Do you agree", "429"),
    ("sendMessage", "taking part as", "500"),
    ("sendMessage", PULSE, "timeout"),
    ("sendMessage", "describes you", "timeout"),
    ("sendMessage", "example from your own", "drop"),
]


class NamedTelegramDouble(TelegramApiDouble):
    """The Bot API double whose people have real-looking names and usernames."""

    def __init__(self, names: dict[int, tuple[str, str, str]]) -> None:
        super().__init__()
        self.names = names

    def _user(self, user_id: int) -> JSON:
        user = super()._user(user_id)
        if user_id in self.names:
            first, last, username = self.names[user_id]
            user.update(first_name=first, last_name=last, username=username)
        return user

    def _chat(self, chat_id: int, kind: str = "private") -> JSON:
        chat = super()._chat(chat_id, kind)
        if kind == "private" and chat_id in self.names:
            first, last, username = self.names[chat_id]
            chat.update(first_name=first, last_name=last, username=username)
        return chat


def make_parents(rng: random.Random, count: int) -> tuple[list[Person], dict[int, Any]]:
    """Seeded parents, and their names as the double shows them (id -> first, last, username)."""
    people, names = [], {}
    for index, user_id in enumerate(rng.sample(range(710_000_000, 799_999_999), count)):
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = rng.choice(LAST_NAMES)
        username = f"{first.lower()}_{last.lower()}{rng.randint(10, 99)}"
        answers = [f"{nonce(rng)} said {rng.choice(PHRASES)}" for _ in range(2)]
        steps = [
            Step("text", "/start", "Do you agree"),
            Step("press", "v:yes", "best describes you"),
            Step("press", "v:parents", "taking part as"),
            Step("wait", "", PULSE),
            Step("press", f"v:{rng.randint(1, 5)}", "Tell it as it is", stores="pulse"),
            Step("text", answers[0], "example from your own experience", stores=answers[0]),
            Step("text", answers[1], "What would need to be in place", stores=answers[1]),
            Step("text", "/done", "really helpful"),
        ]
        words = [a.split()[0] for a in answers]
        secrets = [str(user_id), first, last, username, *answers, *words]
        people.append(Person(str(user_id), secrets, steps))
        names[user_id] = (first, last, username)
    people[-1].blocks = True
    return people, names


async def telegram_run(seed: int, folder: Path, db_url: str, backend: str, count: int) -> RunResult:
    """One complete seeded run; returns what it found (findings never raise)."""
    started = time.monotonic()
    people, names = make_parents(random.Random(seed), count)
    result = RunResult("telegram", seed, backend, count)
    async with NamedTelegramDouble(names) as tg:

        def received(chat: str) -> list[str]:
            return tg.texts(int(chat))

        async def act(person: Person, step: Step, previous: Step | None) -> bool:
            if step.action == "text":
                tg.text(int(person.chat), step.value)
                return True
            assert previous is not None
            with_buttons = [
                s
                for s in tg.sent
                if s.chat_id == int(person.chat) and s.reply_markup and previous.expect in s.text
            ]
            if not with_buttons:
                return False
            tg.press(int(person.chat), with_buttons[-1], step.value)
            return True

        def block(person: Person) -> None:
            tg.blocked.add(int(person.chat))

        plan = tg.fault_plan = FaultPlan(
            seed, FAULT_RATES, FAULTY_METHODS, retry_after=(0.5, 2.0), force=list(FORCED)
        )

        def calls(chat: str) -> list[tuple[float, str]]:
            return [
                (c.at, f"{c.status} {str(c.params.get('text', ''))[:25]!r}")
                for c in tg.calls
                if c.method == "sendMessage" and str(c.params.get("chat_id")) == chat
            ]

        platform = Platform(
            "telegram",
            {"telegram": {"token": tg.token, "base_url": tg.base_url}},
            "sendMessage",
            plan,
            act,
            received,
            lambda: tg.sent[-1].at if tg.sent else 0.0,
            block,
            calls,
        )
        await drive(platform, people, folder, db_url, result)
    result.seconds = time.monotonic() - started
    result.save(folder / "result.json")
    return result
