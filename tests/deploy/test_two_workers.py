"""The deployment's topology without containers: nginx in front of two ``run`` workers on one
PostgreSQL database, Telegram in webhook mode and Slack in HTTP mode, against the doubles.

nginx hands consecutive requests to alternate workers, so a person's messages land on both;
Telegram re-delivers an update whose 200 it did not see, and Slack retries an event: every update
must be handled once, whichever worker gets it, and every person gets each reply once.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from storage.db import make_engine, make_sessionmaker
from storage.models import InboundLog, Response
from tests.conftest import _truncate_postgres, example_data, write_config
from tests.deploy.nginx import NGINX, Nginx, free_port
from tests.doubles.slack_api import SlackApiDouble, event_callback, message_event, signed_headers
from tests.doubles.telegram_api import TelegramApiDouble
from tests.monitoring.test_endpoints import samples
from tests.processes import BotProcess

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt nginx-light)")

TG_SECRET = "deploy-Secret_token1"
SLACK_SECRET = "deploy-signing-secret"
PARENTS = [7_400_001 + n for n in range(4)]
SLACK_USERS = [f"UDEPLOY{n:02d}" for n in range(3)]


@pytest.fixture
async def tg() -> AsyncIterator[TelegramApiDouble]:
    async with TelegramApiDouble() as double:
        yield double


@pytest.fixture
async def slack() -> AsyncIterator[SlackApiDouble]:
    async with SlackApiDouble() as double:
        yield double


@pytest.fixture
def pg_url(postgres_ready: str) -> str:
    asyncio.run(_truncate_postgres(postgres_ready))
    return postgres_ready


class Webhook:
    """Telegram's side of a webhook: POST each update, again until it gets a 200."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url

    async def deliver(self, update: dict[str, Any], attempts: int = 10) -> None:
        headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
        for _ in range(attempts):
            async with self.http.post(self.url, json=update, headers=headers) as response:
                if response.status == 200:
                    return
            await asyncio.sleep(0.3)
        raise AssertionError(f"update {update['update_id']} was never accepted")


async def _wait(predicate: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_two_workers_behind_nginx_handle_every_update_once(
    tmp_path: Path, tg: TelegramApiDouble, slack: SlackApiDouble, pg_url: str
) -> None:
    workers = [
        {"tg": free_port(), "slack": free_port(), "monitoring": free_port()} for _ in range(2)
    ]
    nginx = Nginx(
        tmp_path / "nginx",
        telegram=[w["tg"] for w in workers],
        slack=[w["slack"] for w in workers],
    )
    data = example_data()
    data["database_url"] = pg_url
    data["quiet_hours"] = None
    data["telegram"] = {
        "token": tg.token,
        "base_url": tg.base_url,
        "mode": "webhook",
        "url": f"{nginx.url}/telegram",
        "secret_token": TG_SECRET,
        "listen": "127.0.0.1",
        "port": "${WORKER_TELEGRAM_PORT}",
    }
    data["slack"] = {
        "bot_token": "xoxb-deploy",
        "signing_secret": SLACK_SECRET,
        "mode": "http",
        "api_url": slack.api_url,
        "port": "${WORKER_SLACK_PORT}",
        "users": {user: "la" for user in SLACK_USERS},
    }
    data["monitoring"] = {"port": "${WORKER_MONITORING_PORT}"}
    for entry in data["campaigns"][0]["schedule"]:
        if entry["flow"] == "challenge-1":
            entry["after"] = "0m"
    config = write_config(tmp_path, data)

    await nginx.start()
    bots = [
        BotProcess(
            config,
            tmp_path / f"worker{n}.log",
            env={
                "WORKER_TELEGRAM_PORT": str(w["tg"]),
                "WORKER_SLACK_PORT": str(w["slack"]),
                "WORKER_MONITORING_PORT": str(w["monitoring"]),
                "LISTENING_SCHEDULER_POLL": "1s",
            },
        )
        for n, w in enumerate(workers)
    ]
    telegram_updates: list[dict[str, Any]] = []
    try:
        for bot in bots:
            await bot.start()
        async with aiohttp.ClientSession() as http:
            for w in workers:
                await _ready(http, w["monitoring"])
            webhook = Webhook(http, f"{nginx.url}/telegram")

            async def say(user: int, text: str, expect: str) -> None:
                before = len(tg.texts(user))
                tg.text(user, text)
                update = tg.updates[-1]
                telegram_updates.append(update)
                await webhook.deliver(update)
                await _wait(
                    lambda: any(expect in t for t in tg.texts(user)[before:]),
                    20,
                    f"{expect!r} for a parent",
                )

            async def slack_dm(user: str, text: str, expect: str, retry: bool = False) -> None:
                channel = f"D{user[1:]}"
                before = len(slack.received("chat.postMessage"))
                ts = slack.next_ts()
                raw = json.dumps(
                    event_callback(message_event(user, channel, text, ts, channel_type="im"))
                )
                for attempt in [None, 1] if retry else [None]:
                    headers = signed_headers(SLACK_SECRET, raw, retry_num=attempt)
                    async with http.post(
                        f"{nginx.url}/slack/events", data=raw, headers=headers
                    ) as response:
                        assert response.status == 200
                await _wait(
                    lambda: any(
                        expect in (p.get("text") or json.dumps(p.get("blocks") or ""))
                        for p in slack.received("chat.postMessage")[before:]
                    ),
                    20,
                    f"{expect!r} for a Slack user",
                )

            for parent in PARENTS:
                await say(parent, "/start", "Do you agree")
                await say(parent, "yes", "describes you")
                await say(parent, "1", "How positive")
                await say(parent, "4", "Tell it as it is")
                # Telegram did not see the 200 and sends the same update again; nginx hands it
                # to the other worker this time.
                await webhook.deliver(telegram_updates[-1])
            for user in SLACK_USERS:
                await slack_dm(user, "hello", "agree")
                await slack_dm(user, "yes", "How positive", retry=True)
            await asyncio.sleep(1.5)  # room for a (wrong) second copy of any reply

            per_worker = []
            for w in workers:
                async with http.get(f"http://127.0.0.1:{w['monitoring']}/metrics") as response:
                    per_worker.append(samples(await response.text()))
    finally:
        codes = [await bot.terminate() for bot in bots]
        await nginx.stop()
    logs = "\n".join(bot.log.read_text() for bot in bots)
    assert codes == [0, 0], logs

    # both workers took Telegram updates and Slack events
    for got in per_worker:
        assert got[("listening_messages_in_total", (("platform", "telegram"),))] > 0
        assert got[("listening_messages_in_total", (("platform", "slack"),))] > 0

    engine = make_engine(pg_url)
    async with make_sessionmaker(engine)() as session:
        rows = await session.execute(select(InboundLog.platform, InboundLog.platform_msg_id))
        handled = Counter((platform, msg_id) for platform, msg_id in rows.all())
        answers = await session.scalar(select(func.count()).select_from(Response))
    await engine.dispose()
    assert [key for key, n in handled.items() if n > 1] == []
    assert sum(n for (platform, _), n in handled.items() if platform == "telegram") == len(
        {u["update_id"] for u in telegram_updates}
    )
    assert answers == len(PARENTS)  # each parent's pulse answer, once

    sends = Counter((s.chat_id, s.text) for s in tg.sent)
    assert [key for key, n in sends.items() if n > 1] == []
    for parent in PARENTS:
        assert sum("Tell it as it is" in t for t in tg.texts(parent)) == 1
    posts = Counter((p.get("channel"), p.get("text")) for p in slack.received("chat.postMessage"))
    assert [key for key, n in posts.items() if n > 1] == []


async def _ready(http: aiohttp.ClientSession, port: int, timeout: float = 40.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    body = ""
    while loop.time() < deadline:
        try:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                body = await response.text()
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"a worker never became ready: {body}")
