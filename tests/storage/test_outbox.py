"""The outbox: one row per (participant, campaign, entry, occurrence), erased with the person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.outbox_repository import NewOutbox, OutboxRepo
from storage.repositories import ParticipantRepo

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def row(participant_id: int, occurrence: str = "join") -> NewOutbox:
    return NewOutbox(
        participant_id=participant_id,
        campaign_id="c1",
        schedule_key="pulse@2d",
        entry_key="pulse@2d",
        flow_id="pulse",
        occurrence=occurrence,
        kind="prompt",
        platform="telegram",
        nominal_at=NOW,
        due_at=NOW,
    )


async def test_planning_twice_keeps_one_row_per_occurrence(sessionmaker):
    async with sessionmaker.begin() as session:
        person = await ParticipantRepo(session).create("telegram", "u1", "u1", NOW)
        repo = OutboxRepo(session)
        assert await repo.plan([row(person.id), row(person.id, "other")], NOW) == 2
        assert await repo.plan([row(person.id), row(person.id)], NOW) == 0
    async with sessionmaker() as session:
        assert len(await OutboxRepo(session).all()) == 2


async def test_claim_takes_due_rows_once_until_the_lease_ends(sessionmaker):
    async with sessionmaker.begin() as session:
        person = await ParticipantRepo(session).create("telegram", "u1", "u1", NOW)
        await OutboxRepo(session).plan([row(person.id)], NOW)
    lease = NOW + timedelta(minutes=10)
    async with sessionmaker.begin() as session:
        claimed = await OutboxRepo(session).claim(NOW, "a", lease, ["telegram"], 10)
        assert [c.status for c in claimed] == ["sending"]
    async with sessionmaker.begin() as session:
        repo = OutboxRepo(session)
        assert await repo.claim(NOW, "b", lease, ["telegram"], 10) == []
        assert await repo.claim(NOW, "b", lease, ["slack"], 10) == []
        assert len(await repo.claim(lease, "b", lease, ["telegram"], 10)) == 1


async def test_erasing_a_participant_erases_their_outbox(sessionmaker):
    async with sessionmaker.begin() as session:
        person = await ParticipantRepo(session).create("telegram", "u1", "u1", NOW)
        await OutboxRepo(session).plan([row(person.id)], NOW)
    async with sessionmaker.begin() as session:
        await ParticipantRepo(session).erase(person.id)
    async with sessionmaker() as session:
        assert await OutboxRepo(session).all() == []
