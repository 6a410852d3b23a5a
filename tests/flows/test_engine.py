"""The conversation engine alone: plain values in, plain values out, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings
from bot.flows.engine import (
    Engine,
    Enrol,
    Erase,
    FlowEnded,
    InviteCheck,
    OptOut,
    ShowData,
    Transition,
    UserInput,
    parse_command,
)
from bot.flows.state import ConversationState

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class Chat:
    """Feeds inputs to an engine, keeping the state and everything recorded."""

    def __init__(self, settings: Settings, *, rehearsal: bool = False, platform: str = "console"):
        self.engine = Engine(settings, platform, rehearsal=rehearsal)
        self.state = ConversationState()
        self.now = T0
        self.records: list = []
        self.effects: list = []

    def send(self, text: str, kind: str = "text", invite: InviteCheck | None = None) -> Transition:
        t = self.engine.handle(self.state, UserInput(text, self.now, kind, invite=invite))  # type: ignore[arg-type]
        # Always round-trip through JSON, as the dispatcher does.
        self.state = ConversationState.from_json(t.state.to_json())
        self.records += t.records
        self.effects += t.effects
        return t

    def text(self, t: Transition) -> str:
        return "\n".join(r.text for r in t.replies)

    def join(self, group: str = "1") -> Transition:
        self.send("/start")
        self.send("yes")
        return self.send(group)


def test_consent_comes_first_and_nothing_is_recorded_before_it(settings):
    chat = Chat(settings)
    t = chat.send("hello there")
    assert "Do you agree" in chat.text(t)
    assert [c.value for c in t.replies[-1].choices] == ["yes", "no"]
    chat.send("maybe")
    assert chat.records == [] and chat.state.stage == "consent"


def test_declining_consent_ends_politely_and_erases(settings):
    chat = Chat(settings)
    chat.send("/start")
    t = chat.send("no")
    assert "Nothing has been stored" in chat.text(t)
    assert any(isinstance(e, Erase) for e in t.effects)
    assert chat.records == [] and chat.state.stage == "new"


def test_group_choice_offers_only_self_selectable_groups(settings):
    chat = Chat(settings)
    chat.send("/start")
    t = chat.send("y")
    labels = [c.value for c in t.replies[-1].choices]
    assert labels == ["parents", "vcs", "cc_staff"]  # la is invite-only


def test_invite_fixes_the_group_without_asking(settings):
    chat = Chat(settings)
    invite = InviteCheck("abc", "leeds-2026", "la")
    chat.send("/start abc", invite=invite)
    t = chat.send("yes")
    assert Enrol("leeds-2026", "la", "abc") in t.effects
    assert "Local authority professionals" in chat.text(t)
    assert "How positive" in chat.text(t)  # the after: 0m pulse starts at once


def test_wrong_invite_gets_one_sentence_then_the_group_choice(settings):
    chat = Chat(settings)
    invalid = InviteCheck("nope", error="Sorry, that invite code isn't valid.")
    t = chat.send("/start nope", invite=invalid)
    assert t.replies[0].text == "Sorry, that invite code isn't valid."
    t = chat.send("yes")
    assert "describes you" in chat.text(t)


def test_scale_answer_by_number_and_invalid_reask(settings):
    chat = Chat(settings)
    chat.join()
    t = chat.send("seven")
    assert "isn't one of the points" in chat.text(t) and chat.records == []
    t = chat.send("9")
    assert chat.records == []
    t = chat.send("Very positive")  # the label of 5 works too
    assert chat.records[-1].answer == "5" and chat.records[-1].kind == "scale"
    assert any(isinstance(e, FlowEnded) and e.completed for e in t.effects)


def test_structured_flow_with_skip_condition_and_choice(settings):
    chat = Chat(settings, rehearsal=True)
    chat.join()
    chat.send("4")  # pulse
    chat.send("/done")  # challenge-1 (open) with no answer
    chat.send("/done")  # challenge-2
    t = chat.send("Shared buildings")  # force-field: helps
    assert "What gets in the way" in chat.text(t)
    chat.send("Funding rules")
    t = chat.send("/skip")  # one-change is optional
    assert "Skipped" in chat.text(t)
    t = chat.send("/skip")  # worked-together is not optional
    assert "can't be skipped" in chat.text(t)
    t = chat.send("n")
    # "how-often" is asked only when worked-together is yes: the flow ends here.
    answers = {(r.flow_id, r.step_id): r.answer for r in chat.records}
    assert answers[("force-field", "worked-together")] == "no"
    assert ("force-field", "how-often") not in answers
    assert "“What helps and what gets in the way”" in chat.text(t)


def test_condition_met_asks_the_follow_up_and_accepts_option_text(settings):
    chat = Chat(settings, rehearsal=True)
    chat.join()
    chat.send("4")
    chat.send("/done")
    chat.send("/done")
    for answer in ("a", "b", "c", "yes"):
        t = chat.send(answer)
    assert "How often?" in chat.text(t)
    chat.send("monthly")
    assert chat.records[-1].answer == "Monthly"


def test_open_flow_keeps_every_message_asks_probes_and_ends_on_done(settings):
    chat = Chat(settings, rehearsal=True)
    chat.join()
    t = chat.send("3")
    assert "value for money" in chat.text(t)
    t = chat.send("Local groups know families.")
    assert "example" in chat.text(t)
    t = chat.send("Our stay-and-play group.")
    assert "in place" in chat.text(t)
    chat.send("Longer contracts.")
    chat.send("And trust.")
    t = chat.send("/done")
    steps = [r.step_id for r in chat.records if r.flow_id == "challenge-1"]
    assert steps == ["opening", "probe-1", "probe-2", "more"]
    assert "Why do you think" in chat.text(t)  # challenge-2 follows at once in rehearsal


def test_idle_open_flow_closes_and_the_next_flow_can_start(settings):
    chat = Chat(settings)
    chat.join()
    chat.send("4")
    t = chat.engine.offer_flow(chat.state, "leeds-2026", "challenge-1@2d", "challenge-1", chat.now)
    chat.state = t.state
    chat.send("One thought.")
    chat.now += timedelta(minutes=31)
    t = chat.engine.expire(chat.state, chat.now)
    assert t.state.active is None
    assert FlowEnded("leeds-2026", "challenge-1", "challenge-1@2d", True) in t.effects


@pytest.mark.parametrize(
    "word", ["/stop", "stop", "STOP", "  Stop!  ", "unsubscribe", "s\u200btop"]
)
def test_stop_acts_at_once_in_one_message_and_later_answers_are_not_recorded(settings, word):
    chat = Chat(settings)
    chat.join()
    t = chat.send(word)
    assert OptOut("leeds-2026") in t.effects and chat.state.stage == "stopped"
    assert len(t.replies) == 1 and "stopped taking part" in t.replies[0].text
    assert t.replies[0].choices == ()  # no "are you sure?" question for the next message
    for later in ("one more thing", "yes", "5", "skip"):
        t = chat.send(later)
        assert "didn't keep" in chat.text(t)
    assert chat.records == []
    offered = chat.engine.offer_flow(chat.state, "leeds-2026", "pulse@0m", "pulse", chat.now)
    assert offered.replies == []


def test_stop_inside_a_question_ends_the_flow_without_storing_the_word(settings):
    chat = Chat(settings, rehearsal=True)
    chat.join()
    chat.send("4")
    chat.send("An idea")
    t = chat.send("Stop")
    assert chat.state.active is None and chat.state.pending == []
    assert [r.answer for r in chat.records] == ["4", "An idea"]
    assert FlowEnded("leeds-2026", "challenge-1", "challenge-1@2d", False) in t.effects


def test_stop_before_joining_opts_out_everywhere_and_erases_nothing(settings):
    chat = Chat(settings)
    chat.send("/start")
    t = chat.send("stop")
    assert OptOut(None) in t.effects and Erase() not in t.effects
    assert chat.state.stage == "stopped" and "stopped taking part" in chat.text(t)
    t = chat.send("yes")  # not consent any more
    assert "didn't keep" in chat.text(t) and chat.records == []


def test_a_state_saved_while_waiting_for_a_stop_confirmation_is_stopped(settings):
    chat = Chat(settings)
    chat.join()
    chat.state.confirming = "stop"  # saved by the version that asked "are you sure?"
    t = chat.send("one more thing")
    assert OptOut("leeds-2026") in t.effects and chat.records == []


def test_delete_confirmed_erases(settings):
    chat = Chat(settings)
    chat.join()
    chat.send("/delete")
    t = chat.send("yes")
    assert Erase() in t.effects and chat.state.stage == "new"


def test_mydata_and_help_and_unknown_command(settings):
    chat = Chat(settings)
    chat.join()
    assert ShowData() in chat.send("/mydata").effects
    assert "/delete" in chat.text(chat.send("/help"))
    t = chat.send("/frobnicate")
    assert "don't know the command /frobnicate" in chat.text(t)
    assert chat.records == []


@pytest.mark.parametrize(
    "text",
    [
        "x" * 5000,
        "Más apoyo 👶🏽🍼 para las familias ❤️",
        "نحتاج إلى مزيد من الدعم للعائلات",
        "אנחנו צריכים יותר תמיכה",
        '=HYPERLINK("http://evil")',
    ],
)
def test_unusual_text_is_stored_exactly(settings, text):
    chat = Chat(settings, rehearsal=True)
    chat.join()
    chat.send("4")
    chat.send(text)
    assert chat.records[-1].answer == text and chat.records[-1].kind == "open"


def test_a_line_of_only_spaces_is_re_asked_not_stored(settings):
    chat = Chat(settings, rehearsal=True)
    chat.join()
    chat.send("4")
    t = chat.send("     ")
    assert "looked empty" in chat.text(t)
    assert [r.flow_id for r in chat.records] == ["pulse"]


def test_voice_note_is_kept_in_an_open_flow_and_media_is_not(settings):
    chat = Chat(settings, rehearsal=True)
    chat.join()
    chat.send("4")
    t = chat.engine.handle(chat.state, UserInput("[voice note]", chat.now, "voice", "FILE1"))
    assert t.records[0].kind == "voice" and t.records[0].file_id == "FILE1"
    t = chat.engine.handle(chat.state, UserInput("", chat.now, "media"))
    assert t.records == [] and "only read text" in t.replies[0].text


def test_answers_after_the_campaign_closed_are_not_stored(settings):
    chat = Chat(settings)
    chat.join()
    chat.now = datetime(2027, 4, 1, 12, 0, tzinfo=UTC)
    t = chat.send("4")
    assert "has closed" in chat.text(t) and chat.records == []


def test_multi_choice_parses_numbers_and_text(settings):
    from bot.config import Step
    from bot.flows.answers import InvalidAnswer, parse_answer

    step = Step(id="m", type="multi", ask="Which?", options=["Play", "Health", "Advice"])
    assert parse_answer(step, "1,3") == "Play; Advice"
    assert parse_answer(step, "advice; play") == "Play; Advice"
    assert parse_answer(step, "1 3") == "Play; Advice"
    with pytest.raises(InvalidAnswer):
        parse_answer(step, "4")


def test_parse_command_strips_bot_suffix_and_keeps_argument():
    assert parse_command("/start@LeedsListeningBot ABC123") == ("start", "ABC123")
    assert parse_command("/HELP") == ("help", "")
    assert parse_command("not a command") is None
    assert parse_command("/") is None


def test_state_survives_json_round_trip(settings):
    chat = Chat(settings, rehearsal=True)
    chat.join()
    data = chat.state.to_json()
    assert ConversationState.from_json(data).to_json() == data


def test_a_questionnaire_left_half_way_keeps_its_place_for_days(settings):
    chat = Chat(settings, rehearsal=True)
    chat.join()
    chat.send("4")
    chat.send("/done")
    chat.send("/done")
    chat.send("Shared buildings")  # force-field, first of several steps
    chat.now += timedelta(hours=20)
    t = chat.send("Funding rules")
    assert chat.records[-1].step_id == "hinders" and "one change" in chat.text(t)
