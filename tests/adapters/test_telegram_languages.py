"""A Polish-speaking parent on the Telegram double takes part in the whole example campaign in
Polish; their answers are stored with language=pl and count with everyone else's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.config import Settings, _blank_to_none, expand_env, load_settings
from bot.dispatcher import Dispatcher
from bot.events import Address, Choice, Outbound
from bot.report import figures
from storage.models import Participant
from tests.adapters.telegram_harness import CAMPAIGN, Harness, Parent, make_adapter
from tests.conftest import ROOT, write_config
from tests.doubles.telegram_api import TelegramApiDouble
from tests.helpers import stored

MULTILINGUAL = ROOT / "config" / "campaign.multilingual.yaml"


def multilingual_settings(tmp_path: Path, tg: TelegramApiDouble, db_url: str) -> Settings:
    raw = yaml.safe_load(MULTILINGUAL.read_text(encoding="utf-8"))
    data: dict[str, Any] = _blank_to_none(expand_env(raw, {}))
    data["database_url"] = db_url
    data["telegram"] = {"token": tg.token, "base_url": tg.base_url}
    data.pop("slack", None)
    return load_settings(write_config(tmp_path, data), environ={})


@pytest.fixture
async def h(tg, tmp_path, db_url, sessionmaker, clock) -> AsyncIterator[Harness]:
    settings = multilingual_settings(tmp_path, tg, db_url)
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    outcomes: list[Any] = []
    adapter = make_adapter(settings, clock, outcomes)
    await adapter.start(dispatcher.handle)
    try:
        yield Harness(tg, adapter, dispatcher, outcomes)
    finally:
        await adapter.stop()
    assert tg.unknown == []


async def offer(h: Harness, user_id: int, entry_key: str, flow: str) -> None:
    """Do what the scheduler does when a flow is due for this person."""
    async with h.dispatcher.sessionmaker() as session:
        pids = (await session.scalars(select(Participant.id).order_by(Participant.id))).all()
    for pid in pids:
        address, prompts = await h.dispatcher.offer(pid, CAMPAIGN, entry_key, flow)
        if address is not None and address.chat_ref == str(user_id):
            for prompt in prompts:
                await h.adapter.send(address, prompt)
            return
    raise AssertionError(f"nobody to offer {flow} to")


async def test_a_polish_parent_answers_the_whole_campaign_in_polish(h: Harness) -> None:
    tg = h.tg
    tg.language_codes[5101] = "pl"
    parent = Parent(tg, 5101)
    replies = await parent.say("/start", "Czy zgadzasz się wziąć udział?")
    assert not any("W jakim języku" in r for r in replies)  # Telegram said pl: not asked
    consent = parent.keyboard()
    assert [b["text"] for b in consent.reply_markup["inline_keyboard"][0]] == ["Tak", "Nie"]
    await parent.press("v:yes", "Co najlepiej Cię opisuje?")
    groups = [row[0]["text"] for row in parent.keyboard().reply_markup["inline_keyboard"]]
    assert groups[0] == "Rodzice i opiekunowie"
    await parent.press("v:parents", "Jak pozytywnie oceniasz")
    await parent.press("v:4", "Dziękujemy, to wszystko w: „Krótkie pytanie”")
    await parent.say("/help", "zakończ otwartą rozmowę")

    await offer(h, parent.id, "challenge-1@2d", "challenge-1")
    await tg.wait_sent(parent.id, "Gdyby centra dla dzieci")
    await parent.say("Lokalne grupy znają rodziny.", "przykład z własnego doświadczenia")
    await parent.say("W naszej grupie maluchów było dużo osób.", "musiałoby być spełnione")
    await parent.say("/done", "Dziękujemy, to bardzo pomocne.")

    await offer(h, parent.id, "force-field@2027-02-01 10:00", "force-field")
    await tg.wait_sent(parent.id, "Co pomaga centrom")
    await parent.say("Wspólne spotkania.", "Co przeszkadza?")
    await parent.say("Brak czasu.", "jedną rzecz")
    await parent.say("/skip", "w ostatnim roku")
    await parent.press("v:yes", "Jak często?")
    options = [row[0]["text"] for row in parent.keyboard().reply_markup["inline_keyboard"]]
    assert options == ["Co tydzień", "Co miesiąc", "Kilka razy", "Raz"]
    await parent.press("v:2", "Dziękujemy, to wszystko")

    await offer(h, parent.id, "family-services@2027-02-08 10:00", "family-services")
    await tg.wait_sent(parent.id, "najmłodsze dziecko")
    await parent.say("3–4 lata", "żłobka lub przedszkola")  # typed, the Polish option text
    await parent.say("nie", "ułatwiłoby")  # yes/no typed in Polish
    await parent.say("Godziny otwarcia po pracy.", "Dziękujemy, to wszystko")
    # /mydata gives each answer as the parent saw it: options and yes/no in Polish
    summary = (await parent.say("/mydata", "Oto, co o Tobie przechowujemy"))[-1]
    assert "“Jak często?”: Co miesiąc" in summary and "Monthly" not in summary
    assert "“Ile lat ma Twoje najmłodsze dziecko?”: 3–4 lata" in summary
    assert "“Czy Twoje dziecko chodzi do żłobka lub przedszkola?”: Nie" in summary
    await parent.say("/stop", "Nie bierzesz już udziału")

    # An English-speaking parent answers the pulse too.
    tg.language_codes[5102] = "en-GB"
    other = Parent(tg, 5102)
    await other.say("/start", "Do you agree")
    await other.press("v:yes", "best describes you")
    await other.press("v:parents", "How positive")
    await other.press("v:4", "Thank you, that's all")

    rows = await stored(h.dispatcher)
    mine = [r for r in rows if r.language == "pl"]
    assert [(r.flow, r.step, r.answer) for r in mine] == [
        ("pulse", "positive", "4"),
        ("challenge-1", "opening", "Lokalne grupy znają rodziny."),
        ("challenge-1", "probe-1", "W naszej grupie maluchów było dużo osób."),
        ("force-field", "helps", "Wspólne spotkania."),
        ("force-field", "hinders", "Brak czasu."),
        ("force-field", "worked-together", "yes"),
        ("force-field", "how-often", "Monthly"),  # stored in English: counts with everyone's
        ("family-services", "child-age", "3 to 4"),
        ("family-services", "uses-nursery", "no"),
        ("family-services", "what-helps", "Godziny otwarcia po pracy."),
    ]
    assert [(r.flow, r.language) for r in rows if r.language != "pl"] == [("pulse", "en")]
    async with h.dispatcher.sessionmaker() as session:
        languages = (
            await session.scalars(select(Participant.language).order_by(Participant.id))
        ).all()
    assert languages == ["pl", "en"]

    # The pulse counts both people, whatever language they answered in.
    settings = h.dispatcher.settings
    campaign = settings.campaign(CAMPAIGN)
    pulse = next(
        q for q in figures.closed_questions(settings.flow_by_id, campaign) if q.flow_id == "pulse"
    )
    groups = [(g.id, str(g.label)) for g in settings.groups]
    everyone = figures.question_figures(pulse, groups, rows).groups[-1]
    assert everyone.people == 2
    assert {o.option: o.count for o in everyone.options}["4"] == 2


async def test_the_bots_own_words_on_telegram_are_in_the_parents_language(h: Harness) -> None:
    tg = h.tg
    # The command menu: the default language's for everyone, and one per other language
    # (setMyCommands' language_code), each listing /language since there is a choice.
    menus = {
        code: {c["command"]: c["description"] for c in menu}
        for code, menu in tg.commands_by_language.items()
    }
    assert sorted(menus) == ["", "ar", "pl", "ur"]
    assert menus[""]["language"] == "Change the language I write in"
    assert menus["pl"]["language"] == "Zmień język, w którym piszę"
    assert menus["pl"]["stop"] == "Zakończ udział"
    assert menus["ar"]["help"] == "ما الذي أستطيع فعله"
    assert menus["ur"]["mydata"] == "دیکھیں کہ ہم آپ کے بارے میں کیا رکھتے ہیں"
    assert all(list(menu) == list(menus[""]) for menu in menus.values())

    tg.language_codes[5201] = "pl"
    parent = Parent(tg, 5201)
    await parent.say("/start", "Czy zgadzasz się")
    await parent.press("v:yes", "Co najlepiej Cię opisuje?")
    await parent.press("v:parents", "Jak pozytywnie")
    before = len(tg.texts(parent.id))
    _, message_id = tg.text(parent.id, "4")
    await parent._await(before, "Dziękujemy", 10)

    # An edit that does not fit the scale: refused, in Polish, and the 4 is kept.
    before = len(tg.texts(parent.id))
    tg.edit(parent.id, message_id, "999")
    [hint] = await parent._await(before, "Wybierz liczbę od 1 do 5.", 10)
    assert "Zachowałem Twoją wcześniejszą odpowiedź na „Jak pozytywnie oceniasz" in hint
    assert "(4)" in hint and "Please" not in hint

    # /mydata: what we hold, in Polish, with the question as it was asked.
    replies = await parent.say("/mydata", "Oto, co o Tobie przechowujemy")
    summary = replies[-1]
    assert "• Twój numer referencyjny: P-" in summary
    assert "identyfikator Twojego konta telegram" in summary
    assert "• Język, w którym do Ciebie piszę: Polski." in summary
    assert (
        "• Udział w „Konsultacje centrów dla dzieci w Leeds” jako: Rodzice i opiekunowie."
        in summary
    )
    assert "• Liczba odpowiedzi: 1." in summary
    assert "“Jak pozytywnie oceniasz współpracę" in summary and ": 4" in summary
    assert "Here is what" not in summary

    # A multi-choice question's Done button is in the message's language, and stays so as the
    # person ticks options (the keyboard is rebuilt from the one Telegram shows).
    choices = (Choice("Co tydzień", "Weekly"), Choice("Co miesiąc", "Monthly"))
    await h.adapter.send(
        Address("telegram", str(parent.id)),
        Outbound("Kiedy?", choices, multi=True, lang="pl"),
    )
    await tg.wait_for(lambda: parent.keyboard().text == "Kiedy?")
    keyboard = parent.keyboard()
    assert keyboard.reply_markup["inline_keyboard"][-1][0]["text"] == "Gotowe ✓"
    tg.press(parent.id, keyboard, "d")  # nothing ticked yet: told so, in Polish

    def toasts() -> list[str]:
        return [t for c in tg.calls_to("answerCallbackQuery") if (t := c.params.get("text"))]

    await tg.wait_for(lambda: bool(toasts()))
    assert toasts() == ["Zaznacz co najmniej jedną opcję, a potem naciśnij Gotowe."]
    tg.press(parent.id, keyboard, "t:1")
    await tg.wait_for(
        lambda: keyboard.reply_markup["inline_keyboard"][1][0]["text"] == "☑ Co miesiąc"
    )
    assert keyboard.reply_markup["inline_keyboard"][-1][0] == {
        "text": "Gotowe ✓",
        "callback_data": "d",
    }


async def test_a_button_notice_follows_the_language_chosen_not_the_app(h: Harness) -> None:
    """An English Telegram app, Polish chosen with /language: the short notice a button press
    gets is Polish too (it follows the conversation, not the app)."""
    tg = h.tg
    tg.language_codes[5301] = "en-GB"
    parent = Parent(tg, 5301)
    await parent.say("/start", "Do you agree")
    consent = parent.keyboard()
    await parent.press("v:yes", "best describes you")
    await parent.press("v:parents", "How positive")
    await parent.say("/language pl", "po polsku")

    tg.press(parent.id, consent, "v:yes")  # the consent question again: already answered

    def toasts() -> list[str]:
        return [t for c in tg.calls_to("answerCallbackQuery") if (t := c.params.get("text"))]

    await tg.wait_for(lambda: bool(toasts()))
    assert toasts() == ["Ta odpowiedź już została udzielona."]
