"""Subject access shows, and erasure removes, a person's rows in every table of the schema.

The checks walk ``Base.metadata`` rather than a list of models, so a table added later is covered
(and :func:`unclassified_tables` fails until its author says how it relates to a person).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.events import Address, Inbound
from storage.models import Base, OutboxRow
from storage.personal_data import collect, erase, unclassified_tables
from storage.repositories import ParticipantRepo
from tests.conftest import ROOT, example_data, write_config

USER = "6960001"  # a Telegram user id; in a private chat the chat id is the same number
NAME_IN_ANSWER = "Our family worker Mrs Okonkwo-Baptiste was wonderful"


def telegram_data(database_url: str = "sqlite://") -> dict[str, Any]:
    """The example campaign with Telegram switched on (a token is set; nothing is called)."""
    data = example_data()
    data["database_url"] = database_url
    data["telegram"] = {"token": "123456:test-token"}
    data.pop("slack", None)
    return data


@pytest.fixture
def dispatcher(sessionmaker: Any, clock: Any) -> Any:
    from bot.config import Settings
    from bot.dispatcher import Dispatcher

    return Dispatcher(Settings.model_validate(telegram_data()), sessionmaker, clock)


class TelegramPerson:
    """A person on 'telegram' whose message ids carry their chat id, as the real adapter's do."""

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher
        self.n = 0

    def inbound(self, text: str, n: int | None = None) -> Inbound:
        if n is None:
            self.n += 1
            n = self.n
        return Inbound(
            platform="telegram",
            user_ref=USER,
            address=Address("telegram", USER),
            received_at=self.dispatcher.clock.now(),
            kind="text",
            text=text,
            platform_msg_id=f"{USER}:{n}",
        )

    async def say(self, text: str) -> Any:
        return await self.dispatcher.handle(self.inbound(text))


async def _everything_joined(dispatcher: Any) -> tuple[TelegramPerson, int, str]:
    person = TelegramPerson(dispatcher)
    for text in ("/start", "yes", "1", "4"):
        await person.say(text)
    dispatcher.clock.advance(timedelta(days=3))
    await person.say(NAME_IN_ANSWER)
    async with dispatcher.sessionmaker.begin() as session:
        found = await ParticipantRepo(session).find_by_address("telegram", USER)
        assert found is not None
        session.add(_outbox_row(found.id, dispatcher.clock.now()))
    return person, found.id, found.pseudonym


def _outbox_row(participant_id: int, now: Any) -> OutboxRow:
    return OutboxRow(
        participant_id=participant_id,
        campaign_id="leeds-2026",
        schedule_key="k",
        entry_key="k",
        flow_id="challenge-2",
        occurrence="1",
        kind="prompt",
        platform="telegram",
        nominal_at=now,
        due_at=now,
        next_attempt_at=now,
        status="sent",
        payload={"address": {"platform": "telegram", "chat_ref": USER}},
        created_at=now,
        updated_at=now,
    )


async def _traces(sessionmaker: Any, participant_id: int, pseudonym: str) -> list[str]:
    """Every table's rows that still point at, or mention, the person."""
    found = []
    async with sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                for column, value in row._mapping.items():
                    points_at_them = (
                        any(
                            fk.column.table.name == "participants"
                            for fk in table.c[column].foreign_keys
                        )
                        and value == participant_id
                    )
                    text = json.dumps(value, default=str) if value is not None else ""
                    mentions = any(s in text for s in (USER, pseudonym, "Okonkwo"))
                    if (
                        points_at_them
                        or mentions
                        or (table.name == "participants" and row._mapping["id"] == participant_id)
                    ):
                        found.append(f"{table.name}.{column}")
    return sorted(set(found))


def test_every_table_says_how_it_relates_to_a_person() -> None:
    assert unclassified_tables() == []


async def test_subject_access_covers_every_table_and_erasure_leaves_nothing(
    dispatcher: Any,
) -> None:
    _, pid, pseudonym = await _everything_joined(dispatcher)
    async with dispatcher.sessionmaker() as session:
        held = await collect(session, pid)
    assert held.pseudonym == pseudonym
    expected = {
        "participants",
        "platform_addresses",
        "enrolments",
        "consent_records",
        "responses",
        "conversation_states",
        "flow_progress",
        "inbound_log",
        "outbox",
    }
    assert expected <= set(held.tables)
    assert [r["answer"] for r in held.tables["responses"]] == ["4", NAME_IN_ANSWER]
    # whatever holds them is what subject access shows: same tables before erasure
    before = {t.split(".")[0] for t in await _traces(dispatcher.sessionmaker, pid, pseudonym)}
    assert before <= set(held.tables)

    async with dispatcher.sessionmaker.begin() as session:
        removed = await erase(session, pid)
    assert set(removed) == set(held.tables)
    assert await _traces(dispatcher.sessionmaker, pid, pseudonym) == []


async def test_delete_in_the_chat_leaves_no_chat_id_and_a_redelivery_stays_forgotten(
    dispatcher: Any,
) -> None:
    person, pid, pseudonym = await _everything_joined(dispatcher)
    await person.say("/delete")
    confirm = person.inbound("yes")
    await dispatcher.handle(confirm)
    assert await _traces(dispatcher.sessionmaker, pid, pseudonym) == []  # inbound_log included

    replies = await dispatcher.handle(confirm)  # Telegram delivers the confirmation again
    assert replies == []
    async with dispatcher.sessionmaker() as session:
        assert await ParticipantRepo(session).find_by_address("telegram", USER) is None
    assert await _traces(dispatcher.sessionmaker, pid, pseudonym) == []


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


async def test_subject_access_and_forget_from_the_command_line(
    tmp_path: Path, sqlite_url: str, clock: Any
) -> None:
    from bot.config import Settings
    from bot.dispatcher import Dispatcher
    from storage.db import make_engine, make_sessionmaker

    data = telegram_data(sqlite_url)
    config = write_config(tmp_path, data)
    engine = make_engine(sqlite_url)
    try:
        dispatcher = Dispatcher(Settings.model_validate(data), make_sessionmaker(engine), clock)
        _, pid, pseudonym = await _everything_joined(dispatcher)

        page = tmp_path / "sar.html"
        typed = pseudonym.upper().replace("P-", "p-")  # as someone might type it in an email
        result = _cli("subject-access", typed, "--out", str(page), "--config", str(config))
        assert result.returncode == 0, result.stderr
        copy = json.loads((tmp_path / "sar.json").read_text())
        assert copy["pseudonym"] == pseudonym
        assert copy["tables"]["responses"][1]["answer"] == NAME_IN_ANSWER
        html = page.read_text()
        assert "Your answers" in html and NAME_IN_ANSWER in html and "Do you agree" in html

        again = _cli("subject-access", pseudonym, "--out", str(page), "--config", str(config))
        assert again.returncode == 1 and "already exists" in again.stderr

        gone = _cli("forget", pseudonym, "--yes", "--config", str(config))
        if gone.returncode == 2:  # `forget` without confirmation (before --yes existed)
            gone = _cli("forget", pseudonym, "--config", str(config))
        assert gone.returncode == 0, gone.stderr
        assert await _traces(dispatcher.sessionmaker, pid, pseudonym) == []

        audit = _cli("audit", "--config", str(config))
        assert audit.returncode == 0, audit.stderr
        assert "subject-access" in audit.stdout and "forget" in audit.stdout
        assert pseudonym not in audit.stdout and USER not in audit.stdout
    finally:
        await engine.dispose()
