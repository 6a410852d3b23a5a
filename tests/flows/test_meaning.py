"""The engine reads what people mean: blanks are not answers, "skip" skips, "None" stands alone,
and every hint is said once."""

from __future__ import annotations

import pytest

from bot.config import Settings, Step, load_settings
from bot.flows.answers import InvalidAnswer, exclusive_options, parse_answer
from bot.flows.intents import is_blank, is_skip_word, is_stop, plain_word
from tests.conftest import example_data, write_config
from tests.flows.test_engine import Chat

INVISIBLE = [
    "",
    "   ",
    "\u200b",
    "\u200b\u200c\u200d\u2060\ufeff",
    "\u00a0\u3000\u2003",
    "\ufe0f",  # a variation selector with nothing to select
    "\u3164",  # Hangul filler
    "\u2800",  # braille blank
    "\u200e\u200f",  # direction marks
    "\n\t \r\n",
]


@pytest.fixture
def survey(tmp_path) -> Settings:
    """The example campaign with one extra questionnaire: a multi-choice and optional steps."""
    data = example_data()
    data["flows"].append(
        {
            "id": "services",
            "kind": "structured",
            "steps": [
                {
                    "id": "used",
                    "type": "multi",
                    "ask": "Which services have you used?",
                    "options": ["Stay and play", "Health visits", "Advice", "None of these"],
                },
                {"id": "why", "type": "text", "ask": "Why?", "optional": True},
                {"id": "like", "type": "yesno", "ask": "Would you use them again?"},
                {
                    "id": "rating",
                    "type": "scale",
                    "ask": "How good were they?",
                    "optional": True,
                },
            ],
        }
    )
    data["campaigns"][0]["schedule"] = [{"flow": "services", "after": "0m"}]
    return load_settings(write_config(tmp_path, data), environ={})


def joined(settings: Settings) -> Chat:
    chat = Chat(settings)
    chat.join()
    return chat


@pytest.mark.parametrize("text", INVISIBLE)
def test_invisible_only_text_is_blank(text):
    assert is_blank(text)


@pytest.mark.parametrize("text", ["a", "❤️", "e\u0301", "👍🏽", "0", "\u200bhi", "…"])
def test_visible_text_is_not_blank(text):
    assert not is_blank(text)


@pytest.mark.parametrize("text", INVISIBLE)
def test_invisible_messages_are_never_answers_anywhere(survey, text):
    chat = joined(survey)
    for _ in range(2):  # the multi-choice, then (after answering) the optional free text
        t = chat.send(text)
        assert t.records == [] and "looked empty" in chat.text(t)
        assert "Which services" in chat.text(t) or "Why?" in chat.text(t)  # asked again
        chat.send("1")
    assert [(r.step_id, r.answer) for r in chat.records] == [
        ("used", "Stay and play"),
        ("why", "1"),
    ]


def test_invisible_message_in_an_open_conversation_and_when_no_question_is_open(settings):
    chat = Chat(settings, rehearsal=True)
    chat.join()
    chat.send("4")
    assert chat.send("\u200b\u200b").records == []
    chat.send("/done")
    chat.send("/done")  # the second open flow
    t = chat.send("\ufeff")
    assert t.records == [] and [r.flow_id for r in chat.records] == ["pulse"]


def test_invisible_message_at_consent_re_asks_consent(settings):
    chat = Chat(settings)
    chat.send("/start")
    t = chat.send("\u200b")
    assert chat.state.stage == "consent" and "Do you agree" in chat.text(t)
    assert [c.value for c in t.replies[-1].choices] == ["yes", "no"]


@pytest.mark.parametrize("word", ["skip", "Skip", " SKIP. ", "s\u200bkip"])
def test_plain_skip_skips_an_optional_question_and_is_not_stored(survey, word):
    chat = joined(survey)
    chat.send("1")
    t = chat.send(word)
    assert "Skipped" in chat.text(t) and "Would you use them again" in chat.text(t)
    assert [r.answer for r in chat.records] == ["Stay and play"]


def test_plain_skip_on_a_required_question_is_refused_not_stored(survey):
    chat = joined(survey)
    t = chat.send("skip")
    assert "can't be skipped" in chat.text(t) and chat.records == []


def test_an_option_called_skip_is_still_an_answer(tmp_path):
    data = example_data()
    data["flows"][0]["steps"] = [
        {"id": "next", "type": "choice", "ask": "What next?", "options": ["Go on", "Skip"]}
    ]
    chat = joined(load_settings(write_config(tmp_path, data), environ={}))
    chat.send("skip")
    assert [r.answer for r in chat.records] == ["Skip"]


def test_none_of_these_cannot_be_combined_with_other_options(survey):
    chat = joined(survey)
    t = chat.send("1, 4")
    assert chat.records == [] and "can't be combined" in chat.text(t)
    assert "Which services" in chat.text(t)
    chat.send("None of these")
    assert [r.answer for r in chat.records] == ["None of these"]


def test_exclusive_options_default_and_configured():
    step = Step(id="m", type="multi", ask="?", options=["Play", "None", "Prefer not to say"])
    assert exclusive_options(step) == ("None", "Prefer not to say")
    with pytest.raises(InvalidAnswer):
        parse_answer(step, "1,3")
    off = step.model_copy(update={"exclusive": []})
    assert exclusive_options(off) == () and parse_answer(off, "1,2") == "Play; None"
    own = Step(
        id="m", type="multi", ask="?", options=["Play", "Nothing yet"], exclusive=["nothing yet"]
    )
    assert exclusive_options(own) == ("Nothing yet",)
    assert parse_answer(own, "2") == "Nothing yet"


def test_exclusive_and_positive_must_name_real_options_and_points():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not one of the options"):
        Step(id="m", type="multi", ask="?", options=["A", "B"], exclusive=["None"])
    with pytest.raises(ValidationError, match="not a point of the scale"):
        Step(id="s", type="scale", ask="?", positive=[6])
    with pytest.raises(ValidationError, match="only for scale"):
        Step(id="y", type="yesno", ask="?", positive=[1])


def _hint_count(text: str) -> int:
    lowered = text.lower()
    return lowered.count("yes/no") + lowered.count("yes or no") + lowered.count("(yes / no)")


def test_the_yes_no_hint_is_never_in_the_text_the_buttons_carry_it(survey):
    """Each hint once: yes/no is the buttons' (or the console's) to show, never the text's too."""
    chat = joined(survey)
    chat.send("1")
    t = chat.send("skip")
    assert _hint_count(chat.text(t)) == 0 and t.replies[-1].choices[0].value == "yes"
    t = chat.send("perhaps")  # a re-ask
    assert _hint_count(chat.text(t)) == 0 and t.replies[-1].choices[0].value == "yes"
    t = chat.send("/delete")
    assert _hint_count(chat.text(t)) == 0 and t.replies[-1].choices[0].value == "yes"
    fresh = Chat(survey)
    fresh.send("/start")
    t = fresh.send("maybe")  # consent re-asked
    assert _hint_count(fresh.text(t)) == 0 and t.replies[-1].choices[0].value == "yes"


def test_the_multi_choice_and_skip_hints_are_said_once(survey):
    chat = joined(survey)
    t = chat.send("seven")
    assert "e.g. 1,3" not in chat.text(t)  # the adapter says how to pick several
    t = chat.send("1")
    assert chat.text(t).count("skip") == 1
    t = chat.send("\u200b")
    assert chat.text(t).count("skip") == 1


@pytest.mark.parametrize(
    ("text", "word"),
    [("  STOP!! ", "stop"), ("Unsubscribe.", "unsubscribe"), ("s\u200btop", "stop")],
)
def test_plain_words(text, word):
    assert plain_word(text) == word
    assert is_stop(text) and not is_skip_word(text)


def test_stop_is_not_found_inside_a_sentence():
    assert not is_stop("please don't stop the funding")
    assert not is_stop("stop and play")


def test_an_option_called_stop_is_an_answer_but_slash_stop_still_stops(tmp_path):
    data = example_data()
    data["flows"][0]["steps"] = [
        {
            "id": "future",
            "type": "choice",
            "ask": "The service should…",
            "options": ["Stop", "Go on"],
        },
        {"id": "why", "type": "text", "ask": "Why?"},
    ]
    chat = joined(load_settings(write_config(tmp_path, data), environ={}))
    chat.send("stop")
    assert [r.answer for r in chat.records] == ["Stop"] and chat.state.stage == "enrolled"
    chat.send("/stop")
    assert chat.state.stage == "stopped" and len(chat.records) == 1
