"""Retention: contact details and answers removed (or answers anonymised) once their time is up.

For each campaign with a ``retention`` section and a close date, two moments count from the
close: when **contact details** go (platform addresses and everything keyed by them: the inbound
log, the outbox, conversation state, address-keyed tables such as quarantined updates) and when
**answers** go (deleted, or detached from any pseudonym when ``anonymise`` is set; the person's
enrolment, progress and consent records for that campaign go with them). A person enrolled in
several campaigns keeps their contact details until every one of those campaigns says they may go.
Anyone left with nothing at all is removed entirely.

Updates kept in quarantine (unreadable, see :mod:`storage.quarantine`) from someone who is not
taking part (no participant has their chat or user id) belong to no campaign: they are removed
once older than the shortest contact-details period any campaign sets, counted from when they
came. Without any retention set they are kept until deleted, like everything else.

:func:`purge` computes exactly what :func:`purge` with ``apply=True`` removes, so a dry run lists
precisely what a real run will do at the same moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.models import (
    Base,
    ConsentRecord,
    Enrolment,
    FlowProgress,
    Participant,
    PlatformAddress,
    QuarantinedUpdate,
    Response,
)
from storage.personal_data import (
    PARTICIPANTS,
    _address_refs,
    _addresses,
    _participant_columns,
    _where,
)

# Tables that hold what a person *said* or *agreed to*: kept until the answers limit.
_KEPT_WITH_ANSWERS = {
    Response.__tablename__,
    Enrolment.__tablename__,
    FlowProgress.__tablename__,
    ConsentRecord.__tablename__,
}


@dataclass(frozen=True, slots=True)
class CampaignRetention:
    """One campaign's limits as moments in time (None: never)."""

    campaign_id: str
    contact_details_until: datetime | None
    answers_until: datetime | None
    anonymise: bool
    contact_details_for: timedelta | None = None
    """How long contact details are kept after the close (the period itself)."""


@dataclass(slots=True)
class CampaignPurge:
    """What one campaign's retention removes now (pseudonyms are ours, never platform ids)."""

    campaign_id: str
    contact_details_of: list[str] = field(default_factory=list)
    answers_deleted: int = 0
    answers_anonymised: int = 0


@dataclass(slots=True)
class PurgeReport:
    campaigns: list[CampaignPurge] = field(default_factory=list)
    participants_removed: list[str] = field(default_factory=list)
    rows_removed: dict[str, int] = field(default_factory=dict)
    quarantined_of_others: int = 0
    """Quarantined updates from people not taking part, past the shortest contact period."""

    @property
    def empty(self) -> bool:
        return (
            not self.participants_removed
            and not self.quarantined_of_others
            and not any(
                c.contact_details_of or c.answers_deleted or c.answers_anonymised
                for c in self.campaigns
            )
        )

    def counts(self) -> dict[str, int]:
        """Numbers only, for the audit log."""
        return {
            "contact_details": sum(len(c.contact_details_of) for c in self.campaigns),
            "answers_deleted": sum(c.answers_deleted for c in self.campaigns),
            "answers_anonymised": sum(c.answers_anonymised for c in self.campaigns),
            "participants_removed": len(self.participants_removed),
            "quarantined_of_others": self.quarantined_of_others,
        }


def _contact_tables() -> list[object]:
    """Tables whose rows are contact details: the person's, minus what they said or agreed."""
    tables = []
    for table in reversed(Base.metadata.sorted_tables):
        if table is PARTICIPANTS or table.name in _KEPT_WITH_ANSWERS:
            continue
        if _participant_columns(table) or _address_refs(table) is not None:
            tables.append(table)
    return tables


async def _enrolled(session: AsyncSession, campaign_id: str) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(Participant.id, Participant.pseudonym)
        .join(Enrolment, Enrolment.participant_id == Participant.id)
        .where(Enrolment.campaign_id == campaign_id)
        .order_by(Participant.pseudonym)
    )
    return [(pid, pseudonym) for pid, pseudonym in rows.all()]


async def purge(
    session: AsyncSession,
    policies: Sequence[CampaignRetention],
    now: datetime,
    *,
    apply: bool,
) -> PurgeReport:
    """Work out (and with ``apply``, carry out) what the campaigns' retention removes ``now``."""
    by_campaign = {p.campaign_id: p for p in policies}
    report = PurgeReport()
    contact_pids: list[int] = []
    expired_answers: list[CampaignRetention] = []
    # First decide everything, touching nothing, so a dry run lists exactly what a run removes.
    for policy in policies:
        done = CampaignPurge(policy.campaign_id)
        report.campaigns.append(done)
        if policy.contact_details_until is not None and now >= policy.contact_details_until:
            for pid, pseudonym in await _enrolled(session, policy.campaign_id):
                if pid in contact_pids or not await _has_address(session, pid):
                    continue
                if await _contact_may_go(session, pid, by_campaign, now):
                    done.contact_details_of.append(pseudonym)
                    contact_pids.append(pid)
        if policy.answers_until is not None and now >= policy.answers_until:
            expired_answers.append(policy)
            count = await session.scalar(
                select(func.count()).where(
                    Response.campaign_id == policy.campaign_id,
                    Response.participant_id.is_not(None),
                )
            )
            if policy.anonymise:
                done.answers_anonymised = int(count or 0)
            else:
                done.answers_deleted = int(count or 0)
    leftovers = await _left_with_nothing(session, by_campaign, now)
    report.participants_removed = [pseudonym for _, pseudonym in leftovers]
    others = _quarantined_of_others(policies, now)
    if others is not None:
        report.quarantined_of_others = int(
            await session.scalar(select(func.count()).select_from(QuarantinedUpdate).where(others))
            or 0
        )
    if apply:
        for pid in contact_pids:
            await _remove_contact_details(session, pid, report.rows_removed)
        for policy in expired_answers:
            await _remove_answers(session, policy, report.rows_removed)
        for pid, _ in leftovers:
            await _remove_participant(session, pid, report.rows_removed)
        if others is not None and report.quarantined_of_others:
            result = await session.execute(delete(QuarantinedUpdate).where(others))
            name = QuarantinedUpdate.__tablename__
            report.rows_removed[name] = report.rows_removed.get(name, 0) + int(result.rowcount)
    return report


def _quarantined_of_others(
    policies: Sequence[CampaignRetention], now: datetime
) -> ColumnElement[bool] | None:
    """Which quarantined updates are due: from no participant's chat or user id, and older than
    the shortest contact-details period (None when no campaign sets one)."""
    periods = [p.contact_details_for for p in policies if p.contact_details_for is not None]
    if not periods:
        return None
    known = exists().where(
        PlatformAddress.platform == QuarantinedUpdate.platform,
        or_(
            and_(
                QuarantinedUpdate.chat_ref.is_not(None),
                or_(
                    PlatformAddress.chat_ref == QuarantinedUpdate.chat_ref,
                    PlatformAddress.user_ref == QuarantinedUpdate.chat_ref,
                ),
            ),
            and_(
                QuarantinedUpdate.user_ref.is_not(None),
                or_(
                    PlatformAddress.user_ref == QuarantinedUpdate.user_ref,
                    PlatformAddress.chat_ref == QuarantinedUpdate.user_ref,
                ),
            ),
        ),
    )
    return and_(QuarantinedUpdate.received_at < now - min(periods), ~known)


async def _has_address(session: AsyncSession, pid: int) -> bool:
    found = await session.scalar(
        select(PlatformAddress.id).where(PlatformAddress.participant_id == pid).limit(1)
    )
    return found is not None


async def _contact_may_go(
    session: AsyncSession, pid: int, policies: dict[str, CampaignRetention], now: datetime
) -> bool:
    """Only when every campaign the person is in lets their contact details go."""
    campaigns = (
        await session.scalars(select(Enrolment.campaign_id).where(Enrolment.participant_id == pid))
    ).all()
    for campaign_id in campaigns:
        policy = policies.get(campaign_id)
        if policy is None or policy.contact_details_until is None:
            return False
        if now < policy.contact_details_until:
            return False
    return True


async def _remove_contact_details(session: AsyncSession, pid: int, removed: dict[str, int]) -> None:
    addresses = await _addresses(session, pid)
    for table in _contact_tables():
        condition = _where(table, pid, addresses)  # type: ignore[arg-type]
        if condition is None:
            continue
        result = await session.execute(delete(table).where(condition))  # type: ignore[arg-type]
        if result.rowcount:
            name = table.name  # type: ignore[attr-defined]
            removed[name] = removed.get(name, 0) + int(result.rowcount)


async def _remove_answers(
    session: AsyncSession, policy: CampaignRetention, removed: dict[str, int]
) -> None:
    scope = (Response.campaign_id == policy.campaign_id, Response.participant_id.is_not(None))
    if policy.anonymise:
        result = await session.execute(update(Response).where(*scope).values(participant_id=None))
        key = "responses (anonymised)"
    else:
        result = await session.execute(delete(Response).where(*scope))
        key = Response.__tablename__
    if result.rowcount:
        removed[key] = removed.get(key, 0) + int(result.rowcount)
    for model in (FlowProgress, ConsentRecord, Enrolment):
        result = await session.execute(
            delete(model).where(model.campaign_id == policy.campaign_id)  # type: ignore[attr-defined]
        )
        if result.rowcount:
            removed[model.__tablename__] = removed.get(model.__tablename__, 0) + int(
                result.rowcount
            )


async def _left_with_nothing(
    session: AsyncSession,
    policies: dict[str, CampaignRetention],
    now: datetime,
) -> list[tuple[int, str]]:
    """People whose every enrolment is in a campaign past its answers limit."""
    expired = {
        p.campaign_id for p in policies.values() if p.answers_until and now >= p.answers_until
    }
    if not expired:
        return []
    live_enrolment = exists().where(
        Enrolment.participant_id == Participant.id, Enrolment.campaign_id.not_in(expired)
    )
    touched = exists().where(
        Enrolment.participant_id == Participant.id, Enrolment.campaign_id.in_(expired)
    )
    rows = await session.execute(
        select(Participant.id, Participant.pseudonym)
        .where(touched, ~live_enrolment)
        .order_by(Participant.pseudonym)
    )
    return [(pid, pseudonym) for pid, pseudonym in rows.all()]


async def _remove_participant(session: AsyncSession, pid: int, removed: dict[str, int]) -> None:
    from storage.personal_data import erase

    for name, count in (await erase(session, pid)).items():
        removed[name] = removed.get(name, 0) + count
