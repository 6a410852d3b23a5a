"""Shared set-up for the Telegram adapter tests: the Bot API double, the adapter, a parent."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.adapters.telegram import RateLimiter, RetryPolicy, TelegramAdapter
from bot.clock import Clock
from bot.config import Settings, load_settings
from bot.dispatcher import Dispatcher
from bot.events import DeliveryOutcome
from storage.repositories import InviteRepo
from tests.conftest import example_data, write_config
from tests.doubles.telegram_api import Sent, TelegramApiDouble
from tests.ports import free_port

CAMPAIGN = "leeds-2026"


def telegram_settings(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str, **telegram: Any
) -> Settings:
    """The example campaign, with Telegram pointed at the double and the test database."""
    data = example_data()
    data["database_url"] = db_url
    data["telegram"] = {"token": tg.token, "base_url": tg.base_url, **telegram}
    data.pop("slack", None)
    return load_settings(write_config(tmp_path, data), environ={})


def webhook_settings(
    tmp_path: Path, tg: TelegramApiDouble, db_url: str, *, secret: str = "s3cret"
) -> Settings:
    """Webhook mode on a free local port, with ``secret`` as the secret token Telegram sends."""
    tmp_path.mkdir(exist_ok=True)
    port = free_port()
    return telegram_settings(
        tmp_path,
        tg,
        db_url,
        mode="webhook",
        url=f"http://127.0.0.1:{port}/tg-hook",
        secret_token=secret,
        listen="127.0.0.1",
        port=port,
    )


def fast_limiter() -> RateLimiter:
    """Generous limits so scenario tests do not wait a second per message."""
    return RateLimiter(overall_rate=1000, overall_burst=100, chat_rate=100, chat_burst=20)


@dataclass
class Harness:
    tg: TelegramApiDouble
    adapter: TelegramAdapter
    dispatcher: Dispatcher
    outcomes: list[DeliveryOutcome] = field(default_factory=list)

    async def invite(self, group: str = "parents", **kwargs: Any) -> str:
        async with self.dispatcher.sessionmaker.begin() as session:
            ref = await InviteRepo(session).create(
                CAMPAIGN, group, self.dispatcher.clock.now(), **kwargs
            )
        return ref.code


def make_adapter(
    settings: Settings,
    clock: Clock,
    outcomes: list[DeliveryOutcome],
    *,
    limiter: RateLimiter | None = None,
    retry: RetryPolicy | None = None,
) -> TelegramAdapter:
    async def record(outcome: DeliveryOutcome) -> None:
        outcomes.append(outcome)

    return TelegramAdapter(
        settings.telegram,
        clock,
        on_delivery=record,
        limiter=limiter or fast_limiter(),
        retry=retry or RetryPolicy(backoff=0.02, max_backoff=0.1),
        poll_timeout=1,
        drain_timeout=5,
        languages=settings.languages,  # as the app passes them (the command menu per language)
    )


class Parent:
    """One person on Telegram, typing and pressing buttons through the double."""

    def __init__(self, tg: TelegramApiDouble, user_id: int = 5001) -> None:
        self.tg = tg
        self.id = user_id

    def _new_since(self, before: int) -> list[str]:
        return self.tg.texts(self.id)[before:]

    async def _await(self, before: int, expect: str, timeout: float) -> list[str]:
        try:
            await self.tg.wait_for(
                lambda: any(expect in t for t in self._new_since(before)), timeout
            )
        except AssertionError:
            raise AssertionError(
                f"no reply containing {expect!r}; got {self._new_since(before)}"
            ) from None
        return self._new_since(before)

    async def say(self, text: str, expect: str, timeout: float = 10.0) -> list[str]:
        """Type ``text`` and wait for a reply containing ``expect``; returns the new replies."""
        before = len(self.tg.texts(self.id))
        self.tg.text(self.id, text)
        return await self._await(before, expect, timeout)

    def keyboard(self) -> Sent:
        """The latest message to this person that has buttons."""
        return [s for s in self.tg.sent if s.chat_id == self.id and s.reply_markup][-1]

    async def press(
        self, data: str, expect: str, *, on: Sent | None = None, timeout: float = 10.0
    ) -> list[str]:
        before = len(self.tg.texts(self.id))
        self.tg.press(self.id, on or self.keyboard(), data)
        return await self._await(before, expect, timeout)
