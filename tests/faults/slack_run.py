"""One seeded fault run on Slack over HTTP (the campaign and the verdict are in ``scenario.py``).

The real ``listening-bot run`` process serves the Events API on a local port and posts through
the Web API double. Staff with seeded user and DM channel ids type their way through joining,
the pulse and the challenge in direct messages. This file plays Slack's part for events: each
message is posted signed, and retried (``X-Slack-Retry-Num``) until the bot answers 200 within
Slack's 3 seconds, as Slack does. The double answers posts at seeded random with 429s, 500s,
timeouts after taking the post and dropped connections; the process is SIGKILLed at the points
named in ``scenario.KILL_MARKERS`` and restarted; the database goes away twice.
"""

from __future__ import annotations

import asyncio
import json
import random
import string
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.doubles.faults import FaultPlan
from tests.doubles.slack_api import SlackApiDouble, event_callback, message_event, signed_headers
from tests.faults.harness import PHRASES, nonce
from tests.faults.scenario import PULSE, WAIT, Person, Platform, RunResult, Step, drive
from tests.ports import free_port

SECRET = "fault-suite-signing-secret"
SLACK_TIMEOUT = 3.0
"""Slack gives up on an event request after 3 seconds and retries it."""
FAULT_RATES: dict[Any, float] = {"429": 0.04, "500": 0.03, "timeout": 0.012, "drop": 0.02}
FAULTY_METHODS: dict[str, tuple[Any, ...]] = {"chat.postMessage": ("429", "500", "timeout", "drop")}
FORCED: list[Any] = [
    ("chat.postMessage", "Do you agree", "429"),
    ("chat.postMessage", "taking part as", "500"),
    ("chat.postMessage", PULSE, "timeout"),
    ("chat.postMessage", "example from your own", "timeout"),
    ("chat.postMessage", "describes you", "drop"),
]


def _slack_id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(9))


def make_staff(rng: random.Random, count: int) -> list[Person]:
    people = []
    for _ in range(count):
        user, channel = _slack_id(rng, "U"), _slack_id(rng, "D")
        answers = [f"{nonce(rng)} said {rng.choice(PHRASES)}" for _ in range(2)]
        steps = [
            Step("text", "hello", "Do you agree"),
            Step("text", "yes", "best describes you"),
            Step("text", "1", "taking part as"),
            Step("wait", "", PULSE),
            Step("text", str(rng.randint(1, 5)), "Tell it as it is", stores="pulse"),
            Step("text", answers[0], "example from your own experience", stores=answers[0]),
            Step("text", answers[1], "What would need to be in place", stores=answers[1]),
        ]
        secrets = [user, channel, *answers, *(a.split()[0] for a in answers)]
        people.append(Person(channel, secrets, steps, user=user))
    return people


class EventsApi:
    """Slack's side of the Events API: signed posts, retried until the bot says 200."""

    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.http = http
        self.retries = 0

    async def deliver(self, event: dict[str, Any], deadline: float) -> bool:
        body = json.dumps(event_callback(event))
        attempt = 0
        while time.monotonic() < deadline:
            retry = attempt or None
            headers = signed_headers(SECRET, body, retry_num=retry)
            try:
                async with self.http.post(
                    self.url,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT),
                ) as response:
                    if response.status == 200:
                        return True
            except (aiohttp.ClientError, TimeoutError):
                pass
            attempt += 1
            self.retries += 1
            await asyncio.sleep(1.0)
        return False


async def slack_run(seed: int, folder: Path, db_url: str, backend: str, count: int) -> RunResult:
    """One complete seeded run; returns what it found (findings never raise)."""
    started = time.monotonic()
    people = make_staff(random.Random(seed), count)
    result = RunResult("slack", seed, backend, count)
    port = free_port()
    async with SlackApiDouble() as slack, aiohttp.ClientSession() as http:
        events = EventsApi(f"http://127.0.0.1:{port}/slack/events", http)

        def received(chat: str) -> list[str]:
            return [str(m.get("text") or "") for m in slack.posts(chat)]

        async def act(person: Person, step: Step, previous: Step | None) -> bool:
            event = message_event(
                person.user, person.chat, step.value, slack.next_ts(), channel_type="im"
            )
            return await events.deliver(event, time.monotonic() + WAIT)

        def last_post() -> float:
            return max((c.at for c in slack.calls if c.method == "chat.postMessage"), default=0.0)

        section = {
            "bot_token": "xoxb-fault-suite",
            "signing_secret": SECRET,
            "mode": "http",
            "api_url": slack.api_url,
            "port": port,
            "channels": {},
        }
        plan = slack.fault_plan = FaultPlan(
            seed,
            FAULT_RATES,
            FAULTY_METHODS,
            retry_after=(1.0, 2.0),
            force=list(FORCED),
            ambiguous_kinds=frozenset({"500", "timeout", "drop"}),
        )

        def calls(chat: str) -> list[tuple[float, str]]:
            return [
                (c.at, repr(str(c.args.get("text", ""))[:25]))
                for c in slack.calls
                if c.method == "chat.postMessage" and c.args.get("channel") == chat
            ]

        platform = Platform(
            "slack",
            {"slack": section},
            "chat.postMessage",
            plan,
            act,
            received,
            last_post,
            calls=calls,
        )
        await drive(platform, people, folder, db_url, result)
    result.seconds = time.monotonic() - started
    result.save(folder / "result.json")
    return result
