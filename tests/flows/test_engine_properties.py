"""Property-style checks: whatever people type, the engine never crashes and never records
anything from someone who has not agreed, or who has stopped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from bot.config import load_settings
from bot.flows.engine import Engine, Enrol, Erase, OptOut, UserInput
from bot.flows.state import ConversationState
from tests.conftest import EXAMPLE_CONFIG

SETTINGS = load_settings(EXAMPLE_CONFIG, environ={})
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
commands = st.sampled_from(
    ["/start", "/help", "/stop", "/mydata", "/delete", "/done", "/skip", "/nope", "/start X"]
)
words = st.sampled_from(["yes", "no", "y", "n", "1", "2", "3", "4", "5", "6", "0", "", " ", "1,3"])
inputs = st.lists(
    st.tuples(
        st.one_of(commands, words, st.text(max_size=60)),
        st.sampled_from(["text", "text", "text", "button", "voice", "media"]),
        st.integers(min_value=0, max_value=3 * 3600),
    ),
    max_size=40,
)


@hyp_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs, st.booleans())
def test_engine_never_crashes_and_records_only_while_enrolled(sequence, rehearsal):
    engine = Engine(SETTINGS, "console", rehearsal=rehearsal)
    state = ConversationState()
    now = T0
    enrolled = False
    for text, kind, gap in sequence:
        now += timedelta(seconds=gap)
        before = state.stage
        t = engine.handle(state, UserInput(text, now, kind))  # type: ignore[arg-type]
        assert t.replies or t.records or t.effects or before == "enrolled"
        if t.records:
            assert enrolled, "an answer was recorded from someone not enrolled"
            assert before == "enrolled" and t.state.stage in ("enrolled", "stopped")
        for effect in t.effects:
            if isinstance(effect, Enrol):
                enrolled = True
            if isinstance(effect, (Erase, OptOut)):
                enrolled = False
        state = ConversationState.from_json(t.state.to_json())
        if state.stage == "stopped":
            enrolled = False


invisible = st.text(
    alphabet=st.sampled_from(
        [" ", "\t", "\n", "\u00a0", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\ufe0f"]
        + ["\u3164", "\u2800", "\u200e", "\u3000", "\U000e0020"]
    ),
    max_size=12,
)
stop_words = st.sampled_from(["stop", "STOP", " Stop! ", "/stop", "unsubscribe", "Unsubscribe."])


@hyp_settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            invisible.map(lambda text: (text, True)),
            st.one_of(words, commands, st.text(max_size=30)).map(lambda text: (text, False)),
        ),
        max_size=25,
    )
)
def test_a_message_that_shows_nothing_is_never_recorded(sequence):
    engine = Engine(SETTINGS, "console", rehearsal=True)
    state = ConversationState()
    for text, shows_nothing in [("/start", False), ("yes", False), ("1", False), *sequence]:
        t = engine.handle(state, UserInput(text, T0, "text"))
        if shows_nothing:
            assert t.records == [], repr(text)
        state = ConversationState.from_json(t.state.to_json())


@hyp_settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stop_words, st.lists(st.one_of(words, commands, st.text(max_size=30)), max_size=25))
def test_after_a_stop_nothing_is_recorded_until_the_person_starts_again(stop, sequence):
    engine = Engine(SETTINGS, "console", rehearsal=True)
    state = ConversationState()
    for text in ["/start", "yes", "1", "4"]:
        state = ConversationState.from_json(
            engine.handle(state, UserInput(text, T0)).state.to_json()
        )
    t = engine.handle(state, UserInput(stop, T0))
    assert t.records == [] and len(t.replies) == 1 and t.state.stage == "stopped"
    state = ConversationState.from_json(t.state.to_json())
    for text in sequence:
        if text.strip().lower().startswith("/start"):
            break
        t = engine.handle(state, UserInput(text, T0))
        assert t.records == [], repr(text)
        state = ConversationState.from_json(t.state.to_json())
