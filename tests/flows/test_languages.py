"""The engine in several languages: who is asked, what they read, what is stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config import Settings, load_settings
from bot.flows.engine import Engine, Transition, UserInput
from bot.flows.state import ConversationState
from tests.conftest import EXAMPLE_CONFIG, ROOT

MULTILINGUAL = ROOT / "config" / "campaign.multilingual.yaml"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def multi() -> Settings:
    return load_settings(MULTILINGUAL, environ={"TELEGRAM_BOT_TOKEN": "1:test"})


class Chat:
    def __init__(self, settings: Settings, platform: str = "telegram", reported: str | None = None):
        self.engine = Engine(settings, platform)
        self.state = ConversationState()
        self.reported = reported
        self.records: list = []

    def send(self, text: str, kind: str = "text") -> Transition:
        event = UserInput(text, T0, kind, language=self.reported)  # type: ignore[arg-type]
        t = self.engine.handle(self.state, event)
        self.state = ConversationState.from_json(t.state.to_json())
        self.records += t.records
        return t

    @staticmethod
    def text(t: Transition) -> str:
        return "\n".join(r.text for r in t.replies)


def test_a_platform_language_of_the_campaign_is_taken_without_asking(multi):
    chat = Chat(multi, reported="pl-PL")
    t = chat.send("/start")
    assert "Czy zgadzasz się wziąć udział?" in chat.text(t)
    assert [(c.label, c.value) for c in t.replies[-1].choices] == [("Tak", "yes"), ("Nie", "no")]
    assert chat.state.language == "pl"


def test_no_platform_language_means_the_person_is_asked_in_every_language(multi):
    chat = Chat(multi, reported="de")
    t = chat.send("/start")
    assert chat.state.stage == "choose_language"
    question = chat.text(t)
    assert "Which language" in question and "W jakim języku" in question
    assert "آپ کون سی زبان" in question  # Urdu (a draft) too
    assert [c.value for c in t.replies[-1].choices] == ["en", "pl", "ar", "ur"]
    t = chat.send("ar")  # the button's value
    assert chat.state.language == "ar" and "هل توافق على المشاركة؟" in chat.text(t)


def test_polish_answers_are_stored_with_the_english_option_values(multi):
    chat = Chat(multi, reported="pl")
    chat.send("/start")
    chat.send("tak")  # typed, in Polish
    t = chat.send("Rodzice i opiekunowie")  # the group by its Polish label
    assert "Rodzice i opiekunowie" in chat.text(t) and "Jak pozytywnie" in chat.text(t)
    assert "1 = Zupełnie nie" in chat.text(t)
    chat.send("Bardzo pozytywnie")  # a scale label in Polish
    assert [(r.step_id, r.answer) for r in chat.records] == [("positive", "5")]
    t = chat.send("/help")
    assert "zakończ otwartą rozmowę" in chat.text(t) and "/language" in chat.text(t)


def test_choice_options_are_shown_translated_and_stored_in_the_default_language(multi):
    engine = Engine(multi, "telegram")
    flow = multi.flow_by_id["family-services"]
    state = ConversationState(
        stage="enrolled", campaign_id="leeds-2026", group_id="parents", language="pl"
    )
    t = engine.offer_flow(state, "leeds-2026", "family-services@x", flow.id, T0)
    assert [c.label for c in t.replies[-1].choices][:2] == ["Poniżej 1 roku", "1–2 lata"]
    t = engine.handle(t.state, UserInput("3–4 lata", T0))
    assert [r.answer for r in t.records] == ["3 to 4"]  # the `when` on it still holds
    assert "żłobka" in t.replies[-1].text


def test_language_command_switches_and_asks_the_open_question_again(multi):
    chat = Chat(multi, reported="en")
    chat.send("/start")
    chat.send("yes")
    chat.send("1")
    t = chat.send("/language")
    assert [c.value for c in t.replies[-1].choices] == ["en", "pl", "ar", "ur"]
    t = chat.send("Polski")
    assert chat.state.language == "pl"
    assert "po polsku" in chat.text(t) and "Jak pozytywnie oceniasz" in chat.text(t)
    t = chat.send("/language ar")
    assert chat.state.language == "ar" and "بالعربية" in chat.text(t)
    t = chat.send("/language ur")
    assert chat.state.language == "ur" and "اردو میں" in chat.text(t)
    assert "بچوں کے مراکز" in chat.text(t)  # the open question again, in Urdu
    assert {reply.lang for reply in t.replies} == {"ur"}  # adapters add their words in it too


def test_the_console_never_asks(multi):
    chat = Chat(multi, platform="console", reported="pl")
    assert "Czy zgadzasz" in chat.text(chat.send("/start"))
    chat = Chat(multi, platform="console")
    assert "Do you agree" in chat.text(chat.send("/start"))


def test_nothing_changes_without_languages():
    """The example campaign names no languages: no question, no /language, English texts."""
    settings = load_settings(EXAMPLE_CONFIG, environ={"TELEGRAM_BOT_TOKEN": "1:test"})
    assert settings.languages == ["en"]
    chat = Chat(settings, reported="pl")
    t = chat.send("/start")
    assert chat.state.stage == "consent" and "Do you agree" in chat.text(t)
    assert "/language" not in chat.text(chat.send("/help"))
    assert "don't know the command /language" in chat.text(chat.send("/language"))


def test_config_texts_keep_working_as_plain_strings():
    settings = load_settings(EXAMPLE_CONFIG, environ={})
    step = settings.flow_by_id["force-field"].steps[-1]
    assert step.options == ["Weekly", "Monthly", "A few times", "Once"]
    assert step.options[0].get("pl") == "Weekly"  # no translation: the default text


def test_arabic_indic_digits_pick_an_option_and_superscripts_are_not_numbers(multi):
    """'٢' is the digit 2 to an Arabic reader; '²' is no number at all (it crashed the picker)."""
    chat = Chat(multi, reported="ar")
    chat.send("/start")
    chat.send("نعم")  # yes, typed in Arabic
    assert chat.state.stage == "choose_group"
    t = chat.send("²")
    assert chat.state.stage == "choose_group" and t.replies[-1].choices
    chat.send("٢")
    assert chat.state.group_id == "vcs"
