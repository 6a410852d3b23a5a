"""Small helpers for driving the dispatcher like a person would."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.exc import OperationalError

from bot.dispatcher import Dispatcher
from bot.events import Address, Inbound, Outbound
from storage.records import ResponseRow
from storage.repositories import ResponseRepo

_ids = itertools.count(1)


class AwayAtFirst(Dispatcher):
    """The real dispatcher, whose database refuses its first two look-ups of replies left unsent
    (as right after a crash, when the database is often still coming back)."""

    refusals = 2

    async def unreplied(self, *args: Any, **kwargs: Any) -> Any:
        if self.refusals:
            self.refusals -= 1
            raise OperationalError("SELECT", {}, Exception("the database is away"))
        return await super().unreplied(*args, **kwargs)


class Person:
    """One participant on one platform, sending messages through the real dispatcher."""

    def __init__(self, dispatcher: Dispatcher, platform: str = "console", user_ref: str = "u1"):
        self.dispatcher = dispatcher
        self.platform = platform
        self.user_ref = user_ref
        self.address = Address(platform, user_ref)

    async def say(
        self,
        text: str,
        *,
        kind: Any = "text",
        msg_id: str | None = None,
        file_id: str | None = None,
    ) -> list[Outbound]:
        inbound = Inbound(
            platform=self.platform,
            user_ref=self.user_ref,
            address=self.address,
            received_at=self.dispatcher.clock.now(),
            kind=kind,
            text=text,
            platform_msg_id=msg_id or f"{self.platform}:{next(_ids)}",
            file_id=file_id,
        )
        return await self.dispatcher.handle(inbound)

    async def join(self, group: str = "1") -> list[Outbound]:
        await self.say("/start")
        await self.say("yes")
        return await self.say(group)


def texts(replies: list[Outbound]) -> str:
    return "\n".join(r.text for r in replies)


async def stored(dispatcher: Dispatcher, campaign: str | None = None) -> list[ResponseRow]:
    async with dispatcher.sessionmaker() as session:
        return await ResponseRepo(session).rows(campaign_id=campaign)
