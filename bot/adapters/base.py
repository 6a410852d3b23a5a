"""The contract every chat platform adapter meets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.events import Address, Inbound, Outbound

InboundSink = Callable[[Inbound], Awaitable[list[Outbound]]]
"""What an adapter hands each inbound event to; it returns the replies to send back."""


class Adapter(Protocol):
    """A chat platform: receives people's messages and sends ours."""

    name: str

    async def start(self, sink: InboundSink) -> None:
        """Begin receiving; each event goes to ``sink`` and its replies are sent back."""

    async def stop(self) -> None:
        """Stop receiving and release connections."""

    async def send(self, to: Address, message: Outbound) -> str | None:
        """Deliver one message; returns the platform's message id when it gives one."""
