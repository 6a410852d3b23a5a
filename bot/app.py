"""The composition root: database, dispatcher, adapters and scheduler, started and stopped."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AsyncExitStack
from typing import IO, Any

from bot.adapters.base import Adapter
from bot.adapters.console import ConsoleAdapter
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.errors import BotError
from bot.monitoring import MonitoringServer, Readiness
from bot.monitoring.checks import adapter_check, counted_sink, scheduler_check
from bot.privacy.retention import daily_purge
from storage.db import make_engine, make_sessionmaker

log = logging.getLogger(__name__)


class BotApp:
    """``async with BotApp(settings) as app: await app.run()``.

    Args:
        console: chat in the terminal as one participant: a rehearsal of the campaign, stored
            apart from live data (it sees only rehearsal participants and creates only those).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        console: bool = False,
        console_language: str | None = None,
        clock: Clock | None = None,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.console = console or not (settings.telegram.enabled or settings.slack.enabled)
        self._stdin, self._stdout = stdin, stdout
        # The console rehearsal never asks for a language: --lang, or the default one.
        self.console_language = console_language or settings.default_language
        self._stack = AsyncExitStack()
        self.adapters: dict[str, Adapter] = {}

    async def __aenter__(self) -> BotApp:
        try:
            self.engine = make_engine(self.settings.database_url)
            self._stack.push_async_callback(self.engine.dispose)
            # The console is a rehearsal: its participants and everything they store are
            # marked as such and never mix with live data (storage.rehearsal).
            self.sessionmaker = make_sessionmaker(
                self.engine, "rehearsal" if self.console else "live"
            )
            self.dispatcher = Dispatcher(
                self.settings, self.sessionmaker, self.clock, rehearsal=self.console
            )
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._stack.aclose()

    def _platform_adapters(self) -> dict[str, Adapter]:
        from bot.scheduling.outbox import on_delivery as outbox_delivery

        adapters: dict[str, Adapter] = {}
        if self.settings.telegram.enabled:
            from bot.adapters.telegram import TelegramAdapter
            from bot.quarantine import QuarantineStore
            from storage.leases import lease_for

            polling = self.settings.telegram.mode != "webhook"
            bot_id = (self.settings.telegram.token or "").split(":")[0]
            adapters["telegram"] = TelegramAdapter(
                self.settings.telegram,
                self.clock,
                on_delivery=outbox_delivery,
                ledger=self.dispatcher,
                quarantine=QuarantineStore(self.sessionmaker, self.clock),
                languages=self.settings.languages,
                # Exactly one process polls; in webhook mode any process takes any update.
                leader=(
                    lease_for(self.settings.database_url, f"telegram-polling:{bot_id}")
                    if polling
                    else None
                ),
            )
        if self.settings.slack.enabled:
            from bot.adapters.slack import SlackAdapter
            from bot.scheduling.channel_prompts import ChannelPrompts

            prompts = ChannelPrompts(self.settings, self.sessionmaker, self.clock, platform="slack")
            adapters["slack"] = SlackAdapter(
                self.settings.slack,
                self.clock,
                channel_prompts=prompts,
                on_delivery=outbox_delivery,
                ledger=self.dispatcher,
                languages=self.settings.languages,
            )
        return adapters

    async def run(self) -> None:
        """Run until the console input ends or the process is asked to stop."""
        if self.console:
            console = ConsoleAdapter(
                self.clock,
                stdin=self._stdin,
                stdout=self._stdout,
                language=self.console_language,
            )
            self.adapters = {"console": console}
            await console.start(self.dispatcher.handle)
            return
        self.adapters = self._platform_adapters()
        if not self.adapters:
            raise BotError("No platform is enabled; set a token or use --console.")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        from bot.scheduling.scheduler import CampaignScheduler

        started: list[Adapter] = []
        scheduler = CampaignScheduler(
            self.settings, self.sessionmaker, self.dispatcher, self.adapters, self.clock
        )
        scheduling = False
        monitoring = self._monitoring(started, scheduler)
        try:
            if monitoring is not None:
                await monitoring.start()
            for adapter in self.adapters.values():
                await adapter.start(counted_sink(adapter.name, self.dispatcher.handle))
                started.append(adapter)
                log.info("%s adapter started", adapter.name)
            await scheduler.start()
            scheduling = True
            log.info("scheduler started")
            retention = asyncio.create_task(
                daily_purge(self.sessionmaker, self.settings, self.clock, stop),
                name="retention-purge",
            )
            await stop.wait()
            await retention
        finally:
            if scheduling:
                await scheduler.stop()
            for adapter in reversed(started):
                await adapter.stop()
            if monitoring is not None:
                await monitoring.stop()

    def _monitoring(self, started: list[Adapter], scheduler: Any) -> MonitoringServer | None:
        """The health and metrics endpoints, when ``monitoring.port`` is set."""
        settings = self.settings.monitoring
        if settings.port is None:
            return None
        readiness = Readiness()
        for name, adapter in self.adapters.items():
            readiness.add(f"adapter:{name}", adapter_check(adapter, started))
        readiness.add("scheduler", scheduler_check(scheduler))
        return MonitoringServer(
            self.sessionmaker, self.clock, readiness, listen=settings.listen, port=settings.port
        )
