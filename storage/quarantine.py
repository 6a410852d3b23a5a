"""Quarantined updates: what a platform sent that no adapter could read, kept for an operator.

The raw update is personal data like any message, so each row carries the chat and user it
came from (as far as the raw JSON shows them): erasing a participant deletes the rows of their
addresses (``storage.personal_data`` finds them through the table's ``personal_refs``), and
``count`` lets ``status`` show that something was set aside.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import QuarantinedUpdate


class QuarantineRepo:
    """Unreadable updates, one row per platform update id (a redelivery is kept once)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def keep(
        self,
        platform: str,
        update_id: int,
        raw: Mapping[str, Any],
        error: str,
        now: datetime,
        *,
        chat_ref: str | None = None,
        user_ref: str | None = None,
    ) -> bool:
        """Store one update as it came; False when it is already kept."""
        known = await self.session.scalar(
            select(
                exists().where(
                    QuarantinedUpdate.platform == platform,
                    QuarantinedUpdate.update_id == update_id,
                )
            )
        )
        if known:
            return False
        self.session.add(
            QuarantinedUpdate(
                platform=platform,
                update_id=update_id,
                chat_ref=chat_ref,
                user_ref=user_ref,
                raw=dict(raw),
                error=error,
                received_at=now,
            )
        )
        await self.session.flush()
        return True

    async def count(self, platform: str | None = None) -> int:
        query = select(func.count()).select_from(QuarantinedUpdate)
        if platform is not None:
            query = query.where(QuarantinedUpdate.platform == platform)
        return int(await self.session.scalar(query) or 0)
