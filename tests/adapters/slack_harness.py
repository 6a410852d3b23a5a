"""What the Slack adapter tests share: settings pointing at the Web API double, and a running
adapter with signed-request helpers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import func, select

from bot.adapters.slack import SlackAdapter
from bot.clock import ManualClock
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.events import DeliveryOutcome
from bot.scheduling.channel_prompts import ChannelPrompts
from storage.models import PlatformAddress
from tests.conftest import example_data
from tests.doubles.slack_api import SlackApiDouble, event_callback, signed_headers

SECRET = "test-signing-secret"
VCS_CHANNEL = "C0VCSFORUM"
LA_USER = "ULA000001"
ORGANISER = "UORG00001"
CAMPAIGN = "leeds-2026"


def slack_settings(api_url: str, mode: str = "http", database_url: str = "sqlite://") -> Settings:
    data = example_data()
    data["database_url"] = database_url
    data["slack"] = {
        "bot_token": "xoxb-test",
        "signing_secret": SECRET,
        "app_token": "xapp-test",
        "mode": mode,
        "api_url": api_url,
        "channels": {VCS_CHANNEL: "vcs"},
        "users": {LA_USER: "la"},
        "organisers": [ORGANISER],
    }
    return Settings.model_validate(data)


@dataclass
class Harness:
    slack: SlackApiDouble
    adapter: SlackAdapter
    dispatcher: Dispatcher
    http: aiohttp.ClientSession
    outcomes: list[DeliveryOutcome]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.adapter.port}/slack/events"

    async def event(
        self, event: dict[str, Any], *, retry_num: int | None = None, body: str | None = None
    ) -> int:
        raw = body or json.dumps(event_callback(event))
        headers = signed_headers(SECRET, raw, retry_num=retry_num)
        async with self.http.post(self.url, data=raw, headers=headers) as response:
            status = response.status
        await self.adapter.drain()
        return status

    async def form(self, raw: str) -> tuple[int, str]:
        headers = signed_headers(SECRET, raw, content_type="application/x-www-form-urlencoded")
        async with self.http.post(self.url, data=raw, headers=headers) as response:
            status, text = response.status, await response.text()
        await self.adapter.drain()
        return status, text

    async def post_prompt(self, flow: str = "challenge-1") -> str:
        campaign = self.dispatcher.settings.campaign(CAMPAIGN)
        entry = next(e.key for e in campaign.schedule if e.flow == flow)
        outcomes = await self.adapter.post_channel_prompts(CAMPAIGN, entry, flow)
        assert [o.status for o in outcomes] == ["sent"]
        return str(outcomes[0].platform_msg_id)


async def stored_name(dispatcher: Dispatcher, user_ref: str) -> tuple[str | None, str | None]:
    """The first and last name kept with a Slack user's address (for masking them in reports)."""
    async with dispatcher.sessionmaker() as session:
        row = (
            await session.execute(
                select(PlatformAddress.first_name, PlatformAddress.last_name).where(
                    PlatformAddress.user_ref == user_ref
                )
            )
        ).one()
    return (row[0], row[1])


async def count(dispatcher: Dispatcher, model: Any) -> int:
    async with dispatcher.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def ledger_worker(
    settings: Settings,
    dispatcher: Dispatcher,
    sessionmaker: Any,
    clock: ManualClock,
    *,
    on_delivery: Callable[[DeliveryOutcome], Awaitable[None]] | None = None,
    **options: Any,
) -> SlackAdapter:
    """A Slack adapter as the app builds it for one worker: it keeps the reply ledger (claims,
    recovery after a restart) and posts channel prompts; on a free local port, not started.
    ``options`` go to the adapter as they are (``claim_stale``, ``ack_budget``...)."""
    return SlackAdapter(
        settings.slack,
        clock,
        host="127.0.0.1",
        port=0,
        interval=0.0,
        ledger=dispatcher,
        on_delivery=on_delivery,
        channel_prompts=ChannelPrompts(settings, sessionmaker, clock, platform="slack"),
        **options,
    )


@asynccontextmanager
async def running(
    slack: SlackApiDouble,
    settings: Settings,
    sessionmaker: Any,
    clock: ManualClock,
    *,
    languages: Sequence[str] = (),
) -> AsyncIterator[Harness]:
    """A Slack adapter on a free local port, started with a dispatcher and stopped after."""
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    outcomes: list[DeliveryOutcome] = []

    async def record(outcome: DeliveryOutcome) -> None:
        outcomes.append(outcome)

    adapter = SlackAdapter(
        settings.slack,
        clock,
        host="127.0.0.1",
        port=0,
        interval=0.0,
        on_delivery=record,
        languages=languages,
    )
    await adapter.start(dispatcher.handle)
    async with aiohttp.ClientSession() as http:
        try:
            yield Harness(slack, adapter, dispatcher, http, outcomes)
        finally:
            await adapter.stop()
