"""The organisers' audit log: who did what to the data, when, with counts and never content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


@dataclass(frozen=True, slots=True)
class AuditLine:
    at: datetime
    actor: str
    action: str
    campaign_id: str | None
    details: dict[str, Any]


class AuditRepo:
    """Append and list audit entries; takes the caller's session and never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        action: str,
        *,
        actor: str,
        at: datetime,
        campaign_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """``details`` holds counts and options only: no answer text, no id of a person."""
        self.session.add(
            AuditEntry(
                at=at,
                actor=actor[:64],
                action=action,
                campaign_id=campaign_id,
                details=dict(details or {}),
            )
        )

    async def lines(
        self, *, action: str | None = None, since: datetime | None = None, limit: int = 1000
    ) -> list[AuditLine]:
        query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        if since:
            query = query.where(AuditEntry.at >= since)
        rows = (await self.session.scalars(query.limit(limit))).all()
        return [AuditLine(r.at, r.actor, r.action, r.campaign_id, dict(r.details)) for r in rows]
