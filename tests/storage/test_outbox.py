"""The outbox: one row per (participant, campaign, entry, occurrence), erased with the person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.outbox_repository import NewOutbox, OutboxRepo, Recovered
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


async def test_claim_takes_due_rows_once_and_a_lapsed_claim_only_after_recovery(sessionmaker):
    async with sessionmaker.begin() as session:
        person = await ParticipantRepo(session).create("telegram", "u1", "u1", NOW)
        await OutboxRepo(session).plan([row(person.id)], NOW)
    lease = NOW + timedelta(seconds=10)
    async with sessionmaker.begin() as session:
        claimed = await OutboxRepo(session).claim(NOW, "a", lease, ["telegram"], 10)
        assert [c.status for c in claimed] == ["sending"]
    async with sessionmaker.begin() as session:
        repo = OutboxRepo(session)
        assert await repo.claim(NOW, "b", lease, ["telegram"], 10) == []
        assert await repo.claim(NOW, "b", lease, ["slack"], 10) == []
        assert await repo.recover(NOW) == Recovered()  # the lease still runs
        assert await repo.claim(lease, "b", lease, ["telegram"], 10) == []  # lapsed: settle first
        assert await repo.recover(lease) == Recovered(released=1)  # never marked: not sent
        assert len(await repo.claim(lease, "b", lease, ["telegram"], 10)) == 1


async def _claimed_three(sessionmaker) -> list[int]:
    """Three sends claimed by "a": one message, one message, two messages."""
    async with sessionmaker.begin() as session:
        people = ParticipantRepo(session)
        ids = [(await people.create("telegram", f"u{n}", f"u{n}", NOW)).id for n in range(3)]
        repo = OutboxRepo(session)
        await repo.plan([row(pid) for pid in ids], NOW)
        claimed = await repo.claim(NOW, "a", NOW + timedelta(seconds=10), ["telegram"], 10)
        for item, parts in zip(claimed, (1, 1, 2), strict=True):
            messages = [{"text": f"part {n}"} for n in range(parts)]
            await repo.set_payload(item.id, {"address": {}, "messages": messages}, NOW)
        return [item.id for item in claimed]


async def test_a_dead_senders_marked_sends_become_uncertain_and_unmarked_ones_pending(
    sessionmaker,
):
    one, unmarked, two_parts = await _claimed_three(sessionmaker)
    async with sessionmaker.begin() as session:
        marked = await OutboxRepo(session).mark_attempts(
            "a", [(one, 0, 0), (two_parts, 0, 0)], NOW, NOW + timedelta(seconds=10)
        )
        assert marked == {one, two_parts}
    # "a" dies here: its marks are committed, no result ever will be.
    later = NOW + timedelta(seconds=11)
    async with sessionmaker.begin() as session:
        found = await OutboxRepo(session).recover(later)
    assert found == Recovered(released=1, uncertain=1, resumed=1)
    async with sessionmaker() as session:
        rows = {r.id: r for r in await OutboxRepo(session).all()}
    assert (rows[one].status, rows[one].uncertain_parts, rows[one].payload) == (
        "uncertain",
        1,
        None,
    )
    assert "not sent again" in rows[one].last_error
    assert (rows[unmarked].status, rows[unmarked].uncertain_parts) == ("pending", 0)
    assert rows[unmarked].payload is not None  # the same messages will go out
    resumed = rows[two_parts]
    assert (resumed.status, resumed.parts_sent, resumed.uncertain_parts) == ("pending", 1, 1)
    assert all(r.attempt_at is None and r.claimed_by is None for r in rows.values())


async def test_start_up_on_sqlite_settles_every_claim_whatever_its_lease(sessionmaker):
    one, unmarked, _ = await _claimed_three(sessionmaker)
    async with sessionmaker.begin() as session:
        lease = NOW + timedelta(seconds=10)
        await OutboxRepo(session).mark_attempts("a", [(one, 0, 0)], NOW, lease)
    async with sessionmaker.begin() as session:
        assert await OutboxRepo(session).recover(NOW) == Recovered()
        found = await OutboxRepo(session).recover(NOW, everyone=True)
    assert found == Recovered(released=2, uncertain=1)


async def test_a_sender_whose_claim_was_taken_over_can_neither_mark_nor_record_it(sessionmaker):
    one, *_ = await _claimed_three(sessionmaker)
    later = NOW + timedelta(seconds=11)
    async with sessionmaker.begin() as session:
        repo = OutboxRepo(session)
        await repo.recover(later)  # "a" stopped renewing; "b" settles and claims the work
        assert len(await repo.claim(later, "b", later + timedelta(seconds=10), ["telegram"], 10))
    async with sessionmaker.begin() as session:
        repo = OutboxRepo(session)
        assert await repo.mark_attempts("a", [(one, 0, 0)], later, later) == set()
        assert await repo.finish(one, "sent", later, holder="a") is False
        assert await repo.mark_attempts("b", [(one, 0, 0)], later, later) == {one}
    async with sessionmaker() as session:
        item = await OutboxRepo(session).get(one)
    assert (item.status, item.claimed_by) == ("sending", "b")


async def test_recovery_leaves_live_and_own_claims_alone(sessionmaker):
    await _claimed_three(sessionmaker)
    async with sessionmaker.begin() as session:
        repo = OutboxRepo(session)
        renewed = await repo.renew("a", NOW + timedelta(seconds=8), NOW + timedelta(seconds=18))
        assert renewed == 3  # the heartbeat
        assert await repo.recover(NOW + timedelta(seconds=11)) == Recovered()
        later = NOW + timedelta(seconds=19)
        assert await repo.recover(later, exclude_holder="a") == Recovered()
        assert await repo.recover(later) == Recovered(released=3)


async def test_erasing_a_participant_erases_their_outbox(sessionmaker):
    async with sessionmaker.begin() as session:
        person = await ParticipantRepo(session).create("telegram", "u1", "u1", NOW)
        await OutboxRepo(session).plan([row(person.id)], NOW)
    async with sessionmaker.begin() as session:
        await ParticipantRepo(session).erase(person.id)
    async with sessionmaker() as session:
        assert await OutboxRepo(session).all() == []
