"""Rehearsal data is kept apart by one rule every ORM statement gets (storage.rehearsal)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from bot.clock import ManualClock
from bot.dispatcher import Dispatcher
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.models import Base, Participant
from storage.rehearsal import clear_rehearsals
from storage.repositories import EnrolmentRepo, ResponseRepo
from tests.helpers import Person

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


async def _people(url: str, settings) -> tuple[Person, Person, object]:
    engine = make_engine(url)
    clock = ManualClock(NOW)
    live = Dispatcher(settings, make_sessionmaker(engine, "live"), clock)
    rehearsal = Dispatcher(settings, make_sessionmaker(engine, "rehearsal"), clock, rehearsal=True)
    # Both on the console (the only platform the example enables without tokens): only the
    # session's view decides which one is a rehearsal.
    ann = Person(live, platform="console", user_ref="ann")
    org = Person(rehearsal, platform="console", user_ref="console-user")
    for person, group in ((ann, "1"), (org, "2")):
        await person.join(group)
        await person.say("4")  # the pulse
    return ann, org, engine


async def test_each_view_sees_only_its_data_in_every_table(db_url, settings):
    _, _, engine = await _people(db_url, settings)
    try:
        referring = [m.class_ for m in Base.registry.mappers if "participant_id" in m.columns]
        counts = {}
        for view in ("live", "rehearsal", "all"):
            async with make_sessionmaker(engine, view)() as session:
                counts[view] = {
                    model.__name__: await session.scalar(select(func.count()).select_from(model))
                    for model in [Participant, *referring]
                }
                answers = await ResponseRepo(session).rows()
                groups = {
                    e.group_id for e in await EnrolmentRepo(session).for_campaign("leeds-2026")
                }
                assert {r.group for r in answers} == groups
        for model, n in counts["all"].items():
            assert counts["live"][model] + counts["rehearsal"][model] == n, model
        assert counts["live"]["Participant"] == counts["rehearsal"]["Participant"] == 1
        assert counts["live"]["Response"] == counts["rehearsal"]["Response"] == 1
        assert counts["rehearsal"]["Enrolment"] == 1
    finally:
        await engine.dispose()


async def test_clearing_rehearsals_keeps_live_data_and_imports(db_url, settings):
    _, _, engine = await _people(db_url, settings)
    try:
        async with make_sessionmaker(engine, "all").begin() as session:
            await session.execute(
                text(
                    "INSERT INTO responses (response_uid, campaign_id, flow_id, step_id, group_id,"
                    " channel, kind, answer, answered_at) VALUES ('R-imp', 'leeds-2026', 'import',"
                    " 'import', 'parents', 'import', 'open', 'workshop', :at)"
                ),
                {"at": NOW},
            )
        async with make_sessionmaker(engine, "all").begin() as session:
            assert await clear_rehearsals(session) == (1, 1)
        async with make_sessionmaker(engine, "all")() as session:
            rows = await ResponseRepo(session).rows()
            assert sorted(r.answer for r in rows) == ["4", "workshop"]
            assert await session.scalar(select(func.count()).select_from(Participant)) == 1
    finally:
        await engine.dispose()


async def test_migration_marks_earlier_console_participants_as_rehearsals(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for pid, platform in ((1, "console"), (2, "telegram")):
                await conn.execute(
                    text(
                        "INSERT INTO participants (id, pseudonym, created_at) VALUES (:i, :p, :at)"
                    ),
                    {"i": pid, "p": f"P-{pid}", "at": NOW},
                )
                await conn.execute(
                    text(
                        "INSERT INTO platform_addresses (participant_id, platform, user_ref,"
                        " chat_ref) VALUES (:i, :pl, :u, :u)"
                    ),
                    {"i": pid, "pl": platform, "u": f"user-{pid}"},
                )
    finally:
        await engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT id, rehearsal FROM participants ORDER BY id"))
            ).all()
        assert [(i, bool(r)) for i, r in rows] == [(1, True), (2, False)]
    finally:
        await engine.dispose()


async def test_the_migration_keeps_every_row_that_refers_to_a_participant(tmp_path):
    """Rebuilding `participants` on SQLite would cascade-delete addresses, answers and more."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO participants (id, pseudonym, created_at) VALUES (1, 'P-1', :at)"),
                {"at": NOW},
            )
            await conn.execute(
                text(
                    "INSERT INTO responses (response_uid, participant_id, campaign_id, flow_id,"
                    " step_id, group_id, channel, kind, answer, answered_at) VALUES ('R-1', 1,"
                    " 'c', 'f', 's', 'g', 'telegram', 'open', 'kept', :at)"
                ),
                {"at": NOW},
            )
    finally:
        await engine.dispose()
    upgrade(url)
    from alembic import command

    from storage.migrate import alembic_config

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0003")
    upgrade(url)
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT answer FROM responses"))).scalars().all() == [
                "kept"
            ]
    finally:
        await engine.dispose()


async def test_a_rehearsal_trying_an_invite_does_not_use_it_up(db_url, settings):
    from storage.repositories import InviteRepo

    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            await InviteRepo(session).create("leeds-2026", "la", NOW, max_uses=1, code="POSTER1")
        rehearsal = Dispatcher(
            settings, make_sessionmaker(engine, "rehearsal"), ManualClock(NOW), rehearsal=True
        )
        organiser = Person(rehearsal, platform="console", user_ref="console-user")
        await organiser.say("/start POSTER1")
        await organiser.say("yes")
        async with make_sessionmaker(engine)() as session:
            invite = await InviteRepo(session).get("POSTER1")
        assert invite is not None and invite.uses == 0  # still there for the poster's reader
        async with make_sessionmaker(engine, "rehearsal")() as session:
            groups = [e.group_id for e in await EnrolmentRepo(session).for_campaign("leeds-2026")]
        assert groups == ["la"]  # the rehearsal did join through the code
    finally:
        await engine.dispose()
