"""The seeded fault plan and how both doubles apply it on the wire (quick; no bot process)."""

from __future__ import annotations

import httpx
import pytest

from tests.doubles.faults import FaultPlan
from tests.doubles.slack_api import SlackApiDouble
from tests.doubles.telegram_api import TelegramApiDouble

RATES = {"429": 0.25, "500": 0.25, "timeout": 0.25, "drop": 0.25}


def _kinds(plan: FaultPlan, calls: int) -> list[str | None]:
    decided = [plan.decide("sendMessage", 7, f"text {i}") for i in range(calls)]
    return [d.kind if d else None for d in decided]


def test_the_same_seed_decides_the_same_faults() -> None:
    first = _kinds(FaultPlan(5, RATES, {"sendMessage": RATES}), 40)
    assert first == _kinds(FaultPlan(5, RATES, {"sendMessage": RATES}), 40)
    assert first != _kinds(FaultPlan(6, RATES, {"sendMessage": RATES}), 40)
    assert set(first) == {"429", "500", "timeout", "drop"}  # every kind is possible


def test_forced_faults_happen_once_and_spared_chats_meet_no_random_fault() -> None:
    always = {"500": 1.0}
    force = [("sendMessage", "pulse", "timeout")]
    plan = FaultPlan(
        1, always, {"sendMessage": ("500",)}, force=force, spared={"9"}, refusing={"7"}
    )
    assert plan.decide("sendMessage", 9, "hello") is None  # spared from random faults
    assert plan.decide("getUpdates") is None  # not listed
    refused = plan.decide("sendMessage", 7, "the pulse")  # refusing: the forced one waits
    assert refused is not None and refused.kind == "500"
    forced = plan.decide("sendMessage", 9, "the pulse question")  # forced reach spared chats
    assert forced is not None and forced.kind == "timeout" and forced.chat == "9"
    assert plan.decide("sendMessage", 9, "the pulse question") is None  # once only
    assert plan.ambiguous("9", "pulse") and not plan.ambiguous("7", "pulse")


async def _send(client: httpx.AsyncClient, tg: TelegramApiDouble, text: str) -> httpx.Response:
    return await client.post(
        f"{tg.base_url}{tg.token}/sendMessage", json={"chat_id": 42, "text": text}
    )


async def test_the_telegram_double_answers_as_the_plan_says() -> None:
    force = [
        ("sendMessage", "one", "429"),
        ("sendMessage", "two", "500"),
        ("sendMessage", "three", "timeout"),
        ("sendMessage", "four", "drop"),
    ]
    async with TelegramApiDouble() as tg, httpx.AsyncClient(timeout=1.0) as client:
        taken: list[str | None] = []
        tg.fault_plan = FaultPlan(
            3, {}, {}, hold=2.0, force=force, on_accept=lambda m, c, t: taken.append(t)
        )
        refused = await _send(client, tg, "one")
        assert refused.status_code == 429 and refused.json()["parameters"]["retry_after"] > 0
        assert (await _send(client, tg, "two")).status_code == 500
        with pytest.raises(httpx.ReadTimeout):
            await _send(client, tg, "three")  # taken, but the answer never comes
        with pytest.raises(httpx.RemoteProtocolError):
            await _send(client, tg, "four")  # dropped before anything was taken
        assert (await _send(client, tg, "five")).status_code == 200
        assert tg.texts(42) == ["three", "five"]
        assert taken == ["three", "five"]


async def test_the_slack_double_answers_as_the_plan_says() -> None:
    force = [
        ("chat.postMessage", "one", "429"),
        ("chat.postMessage", "two", "500"),
        ("chat.postMessage", "three", "timeout"),
        ("chat.postMessage", "four", "drop"),
    ]
    async with SlackApiDouble() as slack, httpx.AsyncClient(timeout=1.0) as client:
        slack.fault_plan = FaultPlan(3, {}, {}, hold=2.0, force=force)

        async def post(text: str) -> httpx.Response:
            return await client.post(
                f"{slack.api_url}chat.postMessage", json={"channel": "D1", "text": text}
            )

        refused = await post("one")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert (await post("two")).status_code == 500
        with pytest.raises(httpx.ReadTimeout):
            await post("three")
        with pytest.raises(httpx.RemoteProtocolError):
            await post("four")
        assert (await post("five")).json()["ok"] is True
        assert [m["text"] for m in slack.posts("D1")] == ["three", "five"]
