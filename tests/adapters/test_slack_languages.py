"""Slack and languages: the client's locale (users.info) picks the language, and a person who
switches with ``/listening language`` gets their next prompt in it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from tests.adapters.slack_harness import SECRET, Harness, running
from tests.doubles.slack_api import SlackApiDouble, block_actions, message_event, slash_command
from tests.helpers import stored
from tests.multilingual import multilingual_data

DM = "D0PARENT1"
USER = "UPARENT01"


def settings_for(api_url: str) -> Settings:
    data = multilingual_data()
    data["database_url"] = "sqlite://"
    data["slack"] = {
        "bot_token": "xoxb-test",
        "signing_secret": SECRET,
        "app_token": "xapp-test",
        "mode": "http",
        "api_url": api_url,
        "channels": {},
    }
    return Settings.model_validate(data)


@pytest.fixture
async def harness(
    slack: SlackApiDouble, sessionmaker: Any, clock: ManualClock
) -> AsyncIterator[Harness]:
    settings = settings_for(slack.api_url)
    # the campaign's languages, as the app passes them
    async with running(slack, settings, sessionmaker, clock, languages=settings.languages) as h:
        yield h


def texts(slack: SlackApiDouble) -> list[str]:
    return [m["text"] for m in slack.posts(DM)]


async def test_a_slack_user_switches_language_and_the_next_prompt_arrives_in_it(
    harness: Harness,
) -> None:
    slack = harness.slack
    slack.locales[USER] = "en-GB"  # their Slack client: English, one of the campaign's
    assert await harness.event(message_event(USER, DM, "hello", "1.1", channel_type="im")) == 200
    assert "Do you agree to take part?" in texts(slack)[-1]  # not asked which language
    assert [str(c["include_locale"]) for c in slack.received("users.info")] == ["1"]
    await harness.form(block_actions(USER, DM, slack.posts(DM)[-1], 0))  # Yes
    await harness.form(block_actions(USER, DM, slack.posts(DM)[-1], 0))  # Parents and carers
    assert "How positive do you feel" in texts(slack)[-1]

    status, _ = await harness.form(slash_command(USER, DM, "language"))
    assert status == 200
    await harness.adapter.drain()
    offered = slack.posts(DM)[-1]
    assert [b["value"] for b in offered["blocks"][-1]["elements"]] == ["en", "pl", "ar", "ur"]
    await harness.form(block_actions(USER, DM, offered, 1))  # Polski
    said = texts(slack)[-2:]
    assert "od teraz będę pisać po polsku" in said[0]
    assert said[1].startswith("Jak pozytywnie oceniasz")  # the open question, now in Polish
    scale = slack.posts(DM)[-1]
    await harness.form(block_actions(USER, DM, scale, 4))  # 5
    assert "Dziękujemy, to wszystko" in texts(slack)[-1]
    [row] = await stored(harness.dispatcher)
    assert (row.flow, row.answer, row.language) == ("pulse", "5", "pl")

    status, _ = await harness.form(slash_command(USER, DM, "language ar"))
    assert status == 200
    await harness.adapter.drain()
    assert "بالعربية" in texts(slack)[-1]


async def test_a_polish_slack_client_is_spoken_to_in_polish(harness: Harness) -> None:
    harness.slack.locales[USER] = "pl-PL"
    await harness.event(message_event(USER, DM, "dzień dobry", "1.1", channel_type="im"))
    assert "Czy zgadzasz się wziąć udział?" in texts(harness.slack)[-1]


async def test_listening_help_and_mydata_are_in_the_persons_language(harness: Harness) -> None:
    slack = harness.slack
    slack.locales[USER] = "pl-PL"
    status, body = await harness.form(slash_command(USER, DM, ""))
    assert status == 200
    assert "`/listening stop` – zakończ udział" in body
    assert "`/listening language` – zmień język, w którym piszę" in body  # there is a choice
    assert "stop taking part" not in body

    slack.locales["UURDU0001"] = "ur-PK"
    _, body = await harness.form(slash_command("UURDU0001", "D0URDU001", "help"))
    assert "`/listening mydata` – دیکھیں کہ ہم آپ کے بارے میں کیا رکھتے ہیں" in body

    slack.locales["UGERMAN01"] = "de-DE"  # not one of the campaign's: its default, English
    _, body = await harness.form(slash_command("UGERMAN01", "D0GERMAN1", ""))
    assert "`/listening stop` – stop taking part" in body

    await harness.event(message_event(USER, DM, "dzień dobry", "1.1", channel_type="im"))
    await harness.form(block_actions(USER, DM, slack.posts(DM)[-1], 0))  # Tak
    await harness.form(block_actions(USER, DM, slack.posts(DM)[-1], 0))  # Rodzice i opiekunowie
    await harness.form(block_actions(USER, DM, slack.posts(DM)[-1], 3))  # 4
    status, _ = await harness.form(slash_command(USER, DM, "mydata"))
    assert status == 200
    summary = texts(slack)[-1]
    assert summary.startswith("Oto, co o Tobie przechowujemy:")
    assert "• Jak się z Tobą kontaktujemy: identyfikator Twojego konta slack" in summary
    assert "• Liczba odpowiedzi: 1." in summary and "Wyślij /delete" in summary
    # asked from a channel, the answer goes to the DM and the channel is told so, in Polish
    status, body = await harness.form(slash_command(USER, "C0GENERAL", "mydata"))
    assert status == 200 and body == "Odpowiedziałem w wiadomościach prywatnych."


async def test_listening_help_follows_the_language_chosen_over_the_client(
    harness: Harness,
) -> None:
    """Someone whose Slack client is English but who chose Polish with ``/listening language``
    gets ``/listening`` help, and the "replied in our DMs" note, in Polish."""
    slack = harness.slack
    slack.locales[USER] = "en-GB"
    await harness.event(message_event(USER, DM, "hello", "1.1", channel_type="im"))
    await harness.form(block_actions(USER, DM, slack.posts(DM)[-1], 0))  # Yes
    _, body = await harness.form(slash_command(USER, DM, "help"))
    assert "`/listening stop` – stop taking part" in body  # nothing chosen yet: the client's

    await harness.form(slash_command(USER, DM, "language pl"))
    await harness.adapter.drain()
    _, body = await harness.form(slash_command(USER, DM, "help"))
    assert "`/listening stop` – zakończ udział" in body and "stop taking part" not in body
    status, body = await harness.form(slash_command(USER, "C0GENERAL", "mydata"))
    assert status == 200 and body == "Odpowiedziałem w wiadomościach prywatnych."
