"""Retention with a manual clock: contact details and answers go (or are anonymised) on time,
and ``purge --dry-run`` lists beforehand exactly what the real purge removes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.privacy.retention import run_purge
from storage.audit import AuditRepo
from storage.models import Participant, PlatformAddress, Response
from storage.repositories import EnrolmentRepo, ParticipantRepo
from tests.helpers import Person
from tests.privacy.test_erasure_and_access import telegram_data

CLOSES = "2026-03-20 17:00"  # the clock starts on 2 March 2026, 10:00 UTC


def _settings(anonymise: bool) -> Settings:
    data = telegram_data()
    campaign = data["campaigns"][0]
    campaign["closes"] = CLOSES
    campaign["timezone"] = "UTC"
    campaign["retention"] = {"contact_details": "90d", "answers": "730d", "anonymise": anonymise}
    # a second, open-ended campaign without retention: its people keep their contact details
    data["campaigns"].append(
        {**campaign, "id": "ongoing", "title": "Ongoing", "closes": None, "retention": None}
    )
    data["campaigns"][1].pop("closes")
    data["campaigns"][1].pop("retention")
    return Settings.model_validate(data)


async def _count(sessionmaker: Any, model: Any, *where: Any) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).select_from(model)
        return int(await session.scalar(query.where(*where) if where else query) or 0)


async def _purge(dispatcher: Dispatcher, *, apply: bool) -> Any:
    async with dispatcher.sessionmaker.begin() as session:
        return await run_purge(session, dispatcher.settings, dispatcher.clock.now(), apply=apply)


async def _join(dispatcher: Dispatcher, user: str, campaign_choice: str | None) -> Person:
    person = Person(dispatcher, platform="telegram", user_ref=user)
    await person.say("/start")
    if campaign_choice:
        await person.say(campaign_choice)
    await person.say("yes")
    await person.say("1")
    await person.say("4")
    return person


@pytest.mark.parametrize("anonymise", [True, False])
async def test_retention_removes_what_the_dry_run_listed_and_on_time(
    sessionmaker: Any, clock: Any, anonymise: bool
) -> None:
    dispatcher = Dispatcher(_settings(anonymise), sessionmaker, clock)
    await _join(dispatcher, "1001", "1")  # only in leeds-2026
    await _join(dispatcher, "1002", "1")
    await _join(dispatcher, "1003", "1")
    async with sessionmaker.begin() as session:  # ... who is also in the ongoing campaign
        both = await ParticipantRepo(session).find_by_address("telegram", "1003")
        assert both is not None
        await EnrolmentRepo(session).enrol(
            both.id, "ongoing", "parents", "telegram", None, clock.now()
        )
    assert await _count(sessionmaker, Response) == 3

    # 89 days after the close: nothing is due
    clock.set(clock.now().replace(month=3, day=20, hour=17) + timedelta(days=89))
    assert (await _purge(dispatcher, apply=False)).empty

    # 91 days after: contact details of the two leeds-only people go, answers stay
    clock.advance(timedelta(days=2))
    listed = await _purge(dispatcher, apply=False)
    leeds = listed.campaigns[0]
    assert len(leeds.contact_details_of) == 2 and leeds.answers_deleted == 0
    assert listed.participants_removed == []
    async with sessionmaker() as session:
        listed_pseudonyms = set(leeds.contact_details_of)
        kept_address = (
            set(
                (
                    await session.execute(
                        select(Participant.pseudonym).join(
                            PlatformAddress, PlatformAddress.participant_id == Participant.id
                        )
                    )
                )
                .scalars()
                .all()
            )
            - listed_pseudonyms
        )
    done = await _purge(dispatcher, apply=True)
    assert done.campaigns[0].contact_details_of == leeds.contact_details_of
    async with sessionmaker() as session:
        with_address = set(
            (
                await session.execute(
                    select(Participant.pseudonym).join(
                        PlatformAddress, PlatformAddress.participant_id == Participant.id
                    )
                )
            )
            .scalars()
            .all()
        )
    assert with_address == kept_address and len(kept_address) == 1  # the ongoing participant
    assert await _count(sessionmaker, Response) == 3
    assert (await _purge(dispatcher, apply=False)).empty  # a second run finds nothing new

    # 731 days after the close: answers go (or lose their pseudonym); people with nothing left go
    clock.advance(timedelta(days=640))
    listed = await _purge(dispatcher, apply=False)
    leeds = listed.campaigns[0]
    if anonymise:
        assert leeds.answers_anonymised == 3 and leeds.answers_deleted == 0
    else:
        assert leeds.answers_deleted == 3 and leeds.answers_anonymised == 0
    assert len(listed.participants_removed) == 2
    done = await _purge(dispatcher, apply=True)
    assert done.participants_removed == listed.participants_removed
    if anonymise:
        assert await _count(sessionmaker, Response) == 3
        assert await _count(sessionmaker, Response, Response.participant_id.is_not(None)) == 0
    else:
        assert await _count(sessionmaker, Response) == 0
    assert await _count(sessionmaker, Participant) == 1  # the ongoing campaign's participant

    async with sessionmaker() as session:
        lines = await AuditRepo(session).lines(action="purge")
    assert len(lines) == 2
    assert lines[0].details["contact_details"] == 2
    assert "answers_anonymised" in lines[1].details
    assert all("P-" not in str(line.details) for line in lines)  # counts only, no pseudonyms
