"""Read-only figures for organisers while a campaign runs: counts per group and per flow."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Enrolment, InboundLog, Participant, PlatformAddress, Response
from storage.records import ParticipantRef


@dataclass(frozen=True, slots=True)
class ResponseCount:
    """How many answers one group gave to one flow, and from how many people."""

    campaign_id: str
    group_id: str
    flow_id: str
    responses: int
    participants: int


async def response_counts(
    session: AsyncSession, campaign_id: str | None = None
) -> list[ResponseCount]:
    """Responses and distinct participants per campaign, group and flow (read-only)."""
    query = (
        select(
            Response.campaign_id,
            Response.group_id,
            Response.flow_id,
            func.count(Response.id),
            func.count(func.distinct(Response.participant_id)),
        )
        .group_by(Response.campaign_id, Response.group_id, Response.flow_id)
        .order_by(Response.campaign_id, Response.group_id, Response.flow_id)
    )
    if campaign_id:
        query = query.where(Response.campaign_id == campaign_id)
    rows = (await session.execute(query)).all()
    return [ResponseCount(c, g, f, int(n), int(p)) for c, g, f, n, p in rows]


async def answered_flows(session: AsyncSession, participant_id: int) -> set[tuple[str, str]]:
    """The (campaign, flow) pairs a participant has answered at least once (read-only)."""
    rows = await session.execute(
        select(Response.campaign_id, Response.flow_id)
        .where(Response.participant_id == participant_id)
        .distinct()
    )
    return {(c, f) for c, f in rows.all()}


async def logged_payloads(
    session: AsyncSession, platform: str, key_prefix: str
) -> list[tuple[str, list[dict[str, object]]]]:
    """Inbound-log entries whose key starts with ``key_prefix`` (e.g. channel prompt records)."""
    rows = await session.execute(
        select(InboundLog.platform_msg_id, InboundLog.replies)
        .where(
            InboundLog.platform == platform,
            InboundLog.platform_msg_id.startswith(key_prefix, autoescape=True),
        )
        .order_by(InboundLog.id)
    )
    return [(key, list(payload or [])) for key, payload in rows.all()]


async def handled_ids(session: AsyncSession, platform: str, msg_ids: list[str]) -> set[str]:
    """Which of these platform message ids the inbound log already holds (read-only)."""
    if not msg_ids:
        return set()
    rows = await session.execute(
        select(InboundLog.platform_msg_id).where(
            InboundLog.platform == platform, InboundLog.platform_msg_id.in_(msg_ids)
        )
    )
    return {key for (key,) in rows.all()}


async def participants_by_user(
    session: AsyncSession, platform: str, user_refs: list[str]
) -> dict[str, ParticipantRef]:
    """The participants behind these platform user ids, for those we know (read-only)."""
    if not user_refs:
        return {}
    rows = await session.execute(
        select(PlatformAddress.user_ref, Participant.id, Participant.pseudonym)
        .join(Participant, Participant.id == PlatformAddress.participant_id)
        .where(PlatformAddress.platform == platform, PlatformAddress.user_ref.in_(user_refs))
    )
    return {user: ParticipantRef(pid, pseudo) for user, pid, pseudo in rows.all()}


async def enrolment_states(
    session: AsyncSession, participant_ids: list[int], campaign_id: str
) -> dict[int, bool]:
    """For each enrolled participant: True if they opted out of the campaign (read-only)."""
    if not participant_ids:
        return {}
    rows = await session.execute(
        select(Enrolment.participant_id, Enrolment.opted_out_at).where(
            Enrolment.participant_id.in_(participant_ids), Enrolment.campaign_id == campaign_id
        )
    )
    return {pid: opted is not None for pid, opted in rows.all()}


async def imported_counts(session: AsyncSession, campaign_id: str) -> dict[str, int]:
    """Comments loaded with ``import`` per group of one campaign (read-only)."""
    rows = await session.execute(
        select(Response.group_id, func.count(Response.id))
        .where(Response.campaign_id == campaign_id, Response.channel == "import")
        .group_by(Response.group_id)
    )
    return {group: int(n) for group, n in rows.all()}
