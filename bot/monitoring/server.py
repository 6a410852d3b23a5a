"""``/healthz``, ``/readyz`` and ``/metrics`` for a load balancer and Prometheus.

- ``/healthz`` (liveness): 200 while the event loop answers; a load balancer restarts a worker
  that stops answering it.
- ``/readyz`` (readiness): 200 only when the database answers within two seconds, every adapter
  reports itself running and the scheduler is ticking; 503 otherwise, with a JSON body naming the
  components that are not ready (never a person, an id or a secret).
- ``/metrics``: Prometheus text format (see :mod:`bot.monitoring.metrics`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.monitoring.metrics import render_metrics

log = logging.getLogger(__name__)

Check = Callable[[], tuple[bool, str]]
"""A component's own view of itself: ``(ready, short reason)``."""

DATABASE_TIMEOUT = 2.0


@dataclass(slots=True)
class Readiness:
    """The components ``/readyz`` asks, filled in by the app as they start."""

    checks: dict[str, Check] = field(default_factory=dict)

    def add(self, name: str, check: Check) -> None:
        self.checks[name] = check


class MonitoringServer:
    """A small aiohttp server beside the bot, on its own port (``monitoring.port``)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        readiness: Readiness,
        *,
        listen: str,
        port: int,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.readiness = readiness
        self.listen, self.port = listen, port
        self._runner: web.AppRunner | None = None

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.listen, self.port)
        await site.start()
        log.info("monitoring endpoints listening on %s:%s", self.listen, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def database_ready(self) -> tuple[bool, str]:
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT):
                async with self.sessionmaker() as session:
                    await session.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means "not ready"; the type says enough
            return False, f"database unreachable ({type(exc).__name__})"
        return True, "ok"

    async def _readyz(self, request: web.Request) -> web.Response:
        components: dict[str, Mapping[str, object]] = {}
        ok, reason = await self.database_ready()
        components["database"] = {"ready": ok, "detail": reason}
        for name, check in self.readiness.checks.items():
            try:
                ready, detail = check()
            except Exception as exc:  # a broken check is a component that is not ready
                ready, detail = False, f"check failed ({type(exc).__name__})"
            components[name] = {"ready": ready, "detail": detail}
        all_ready = all(bool(c["ready"]) for c in components.values())
        body = {"status": "ready" if all_ready else "not ready", "components": components}
        return web.Response(
            status=200 if all_ready else 503,
            text=json.dumps(body, sort_keys=True),
            content_type="application/json",
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        payload = await render_metrics(self.sessionmaker, self.clock.now())
        return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})
