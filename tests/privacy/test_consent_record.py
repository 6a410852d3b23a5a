"""Each consent is stored with the exact text shown (version and hash), time, channel, language;
a changed consent text is a new version, withdrawal is recorded, and ``status`` counts them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.config import Settings
from bot.dispatcher import Dispatcher
from storage.consent import ConsentRepo, text_hash
from storage.models import ConsentRecord, ConsentText
from tests.conftest import ROOT, write_config
from tests.helpers import Person
from tests.privacy.test_erasure_and_access import telegram_data

NEW_TEXT = "We have updated how we report. Your answers stay anonymous. Do you agree?"


async def _join(dispatcher: Dispatcher, user: str) -> Person:
    person = Person(dispatcher, platform="telegram", user_ref=user)
    for text in ("/start", "yes", "1"):
        await person.say(text)
    return person


async def test_consent_versions_records_and_withdrawal(sessionmaker: Any, clock: Any) -> None:
    data = telegram_data()
    first = Dispatcher(Settings.model_validate(data), sessionmaker, clock)
    await _join(first, "2001")
    stopper = await _join(first, "2002")
    await stopper.say("/stop")
    await stopper.say("yes")  # confirmation, if the bot asks for one

    data["campaigns"][0]["consent"] = NEW_TEXT
    second = Dispatcher(Settings.model_validate(data), sessionmaker, clock)
    await _join(second, "2003")

    async with sessionmaker() as session:
        texts = (await session.execute(select(ConsentText).order_by(ConsentText.version))).scalars()
        versions = [(t.version, t.text_hash, t.text) for t in texts]
        records = (
            await session.execute(select(ConsentRecord).order_by(ConsentRecord.id))
        ).scalars()
        decisions = [(r.decision, r.channel, r.language, r.at is not None) for r in records]
        counts = await ConsentRepo(session).counts("leeds-2026")
    original = telegram_data()["campaigns"][0]["consent"]
    assert versions == [
        (1, text_hash(original), original.strip()),
        (2, text_hash(NEW_TEXT), NEW_TEXT),
    ]
    assert decisions == [
        ("agreed", "telegram", "en", True),
        ("agreed", "telegram", "en", True),
        ("withdrawn", "telegram", "en", True),
        ("agreed", "telegram", "en", True),
    ]
    assert [(c.version, c.agreed, c.withdrawn) for c in counts] == [(1, 1, 1), (2, 1, 0)]


async def test_status_shows_how_many_agreed_to_which_version(
    tmp_path: Path, sqlite_url: str, clock: Any
) -> None:
    from storage.db import make_engine, make_sessionmaker

    data = telegram_data(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        await _join(
            Dispatcher(Settings.model_validate(data), make_sessionmaker(engine), clock), "1"
        )
    finally:
        await engine.dispose()
    config = write_config(tmp_path, data)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "status", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    digest = text_hash(data["campaigns"][0]["consent"])[:8]
    assert f"consent in leeds-2026: v1 ({digest}): 1 agreed, 0 withdrawn" in result.stdout
