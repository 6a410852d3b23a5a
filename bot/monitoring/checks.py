"""Readiness checks for the app's parts, and the sink wrapper that counts messages in.

Components may say how they are with a ``health() -> tuple[bool, str]`` method; those that do
not are ready once started. The checks never name a person or a chat.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.adapters.base import Adapter, InboundSink
from bot.events import Inbound, Outbound
from bot.monitoring.metrics import MESSAGES_IN
from bot.monitoring.server import Check


def adapter_check(adapter: Adapter, started: Sequence[Adapter]) -> Check:
    """Ready when started and, if the adapter reports its own health, when it says so."""

    def check() -> tuple[bool, str]:
        if adapter not in started:
            return False, "not started"
        own = getattr(adapter, "health", None)
        return own() if callable(own) else (True, "running")

    return check


def scheduler_check(scheduler: Any) -> Check:
    """Ready when the scheduler runs (or reports, via ``health()``, that it is well)."""

    def check() -> tuple[bool, str]:
        own = getattr(scheduler, "health", None)
        if callable(own):
            result: tuple[bool, str] = own()
            return result
        running = bool(getattr(scheduler, "_started", False))
        return running, "running" if running else "not running"

    return check


def counted_sink(platform: str, sink: InboundSink) -> InboundSink:
    """``sink`` that also counts each message in (per platform) for ``/metrics``."""

    async def counting(inbound: Inbound) -> list[Outbound]:
        MESSAGES_IN.labels(platform=platform).inc()
        return await sink(inbound)

    return counting
