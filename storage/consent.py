"""Consent records: the exact text each person agreed to (by version and hash), when and where.

A campaign's consent text is versioned by content: the first time a text is used it becomes the
next version for that campaign, so editing the consent in the config starts a new version and
every record keeps pointing at the words that person actually saw.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConsentRecord, ConsentText

AGREED, WITHDRAWN = "agreed", "withdrawn"


def text_hash(text: str) -> str:
    """SHA-256 of the text as shown (surrounding whitespace removed), hex."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ConsentVersionCount:
    """How many people hold each decision (their latest) on one version of a consent text."""

    campaign_id: str
    version: int
    text_hash: str
    agreed: int
    withdrawn: int


class ConsentRepo:
    """Consent texts and records; takes the caller's session and never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def version_of(self, campaign_id: str, text: str, now: datetime) -> int:
        """The id of this exact text's version row, creating the next version if it is new."""
        digest = text_hash(text)
        found = await self.session.scalar(
            select(ConsentText.id).where(
                ConsentText.campaign_id == campaign_id, ConsentText.text_hash == digest
            )
        )
        if found is not None:
            return int(found)
        latest = await self.session.scalar(
            select(func.max(ConsentText.version)).where(ConsentText.campaign_id == campaign_id)
        )
        row = ConsentText(
            campaign_id=campaign_id,
            version=int(latest or 0) + 1,
            text_hash=digest,
            text=text.strip(),
            first_shown_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def record(
        self,
        participant_id: int,
        campaign_id: str,
        text: str,
        decision: str,
        *,
        at: datetime,
        channel: str,
        language: str,
    ) -> None:
        """Store one decision (``agreed`` or ``withdrawn``) on the text as it reads now."""
        version_id = await self.version_of(campaign_id, text, at)
        self.session.add(
            ConsentRecord(
                participant_id=participant_id,
                campaign_id=campaign_id,
                consent_text_id=version_id,
                decision=decision,
                at=at,
                channel=channel,
                language=language,
            )
        )

    async def counts(self, campaign_id: str) -> list[ConsentVersionCount]:
        """Per version, how many people's latest decision is to agree, or to withdraw."""
        latest = (
            select(
                ConsentRecord.participant_id,
                func.max(ConsentRecord.id).label("last_id"),
            )
            .where(ConsentRecord.campaign_id == campaign_id)
            .group_by(ConsentRecord.participant_id)
            .subquery()
        )
        rows = await self.session.execute(
            select(
                ConsentText.version,
                ConsentText.text_hash,
                ConsentRecord.decision,
                func.count(),
            )
            .join(ConsentRecord, ConsentRecord.consent_text_id == ConsentText.id)
            .join(latest, latest.c.last_id == ConsentRecord.id)
            .group_by(ConsentText.version, ConsentText.text_hash, ConsentRecord.decision)
        )
        table: dict[tuple[int, str], dict[str, int]] = {}
        for version, digest, decision, count in rows.all():
            table.setdefault((version, digest), {})[decision] = int(count)
        return [
            ConsentVersionCount(
                campaign_id,
                version,
                digest,
                decisions.get(AGREED, 0),
                decisions.get(WITHDRAWN, 0),
            )
            for (version, digest), decisions in sorted(table.items())
        ]
