"""Keeping updates a platform sent that no adapter could read (see ``storage.quarantine``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from storage.quarantine import QuarantineRepo


class QuarantineStore:
    """An adapter's :class:`~bot.adapters.base.UpdateQuarantine`: one transaction per update."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock

    async def keep(
        self,
        platform: str,
        update_id: int,
        raw: dict[str, Any],
        error: str,
        *,
        chat_ref: str | None,
        user_ref: str | None,
    ) -> None:
        async with self.sessionmaker.begin() as session:
            await QuarantineRepo(session).keep(
                platform,
                update_id,
                raw,
                error,
                self.clock.now(),
                chat_ref=chat_ref,
                user_ref=user_ref,
            )
