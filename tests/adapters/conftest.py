"""Fixtures the adapter tests share: the Telegram and Slack API doubles, settings that point at
Telegram's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from tests.adapters.telegram_harness import telegram_settings
from tests.doubles.slack_api import SlackApiDouble
from tests.doubles.telegram_api import TelegramApiDouble


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's v22.2 timedelta durations, or its deprecation warning fails the test."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def tg() -> AsyncIterator[TelegramApiDouble]:
    async with TelegramApiDouble() as double:
        yield double


@pytest.fixture
def tsettings(tmp_path: Path, tg: TelegramApiDouble, db_url: str) -> Settings:
    return telegram_settings(tmp_path, tg, db_url)


@pytest.fixture
async def slack() -> AsyncIterator[SlackApiDouble]:
    async with SlackApiDouble() as double:
        yield double
