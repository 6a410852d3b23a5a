"""Theme labels read as short phrases a person would write, taken from the answers' own words.

The comments below were written for this test: three clear themes of a children's centre
consultation (waiting for speech therapy, friendly staff, getting there by car or bus), each
worded many ways, as parents write them.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from bot.analysis import SPECIAL_THEMES, discover_themes
from bot.analysis.describe import build_themes, phrase_keys
from bot.analysis.text import STOP_WORDS, Tokeniser
from tests.analysis.conftest import make_comments

WAITING = [
    "We waited nine months for a speech therapy referral.",
    "The waiting list for speech therapy is far too long.",
    "Waiting times for speech therapy are far too long, my son is nearly four.",
    "Still on the waiting list for speech and language therapy after a year.",
    "Long wait for speech therapy, we had to go private in the end.",
    "The wait for a speech therapy assessment was over six months.",
    "Speech therapy waiting times need to come down.",
    "Nobody told us how long the waiting list for speech therapy would be.",
    "Our referral to speech therapy took ages, the waiting time was awful.",
    "Waiting times for speech therapy appointments are too long.",
    "We were on the speech therapy waiting list for eight months.",
    "Shorter waiting times for speech therapy please.",
    "The waiting time for a speech and language referral is terrible.",
    "My daughter waited a year for speech therapy.",
    "Speech therapy has a huge waiting list.",
    "Too long a wait for speech therapy sessions.",
    "The speech therapy waiting list is the biggest problem.",
    "We have been waiting since March for speech therapy.",
]
STAFF = [
    "The staff at the centre are so friendly.",
    "Friendly staff who always say hello to my children.",
    "Staff at the centre are friendly and welcoming.",
    "Lovely friendly staff, they know every child by name.",
    "The centre staff are really friendly and kind.",
    "Such friendly staff, my son loves going.",
    "The staff are always friendly and helpful.",
    "Really friendly staff at the centre, nothing is too much trouble.",
    "Friendly staff made us feel welcome from the first day.",
    "The staff are kind, friendly and patient with the children.",
    "Staff were friendly when I was nervous about coming.",
    "The friendly staff are the best thing about the centre.",
    "Very friendly staff on reception and in the groups.",
    "Friendly and caring staff at the centre.",
    "The staff at the centre are warm and friendly.",
    "Staff always friendly, never rushed.",
    "I love how friendly the staff are.",
    "Friendly staff, great play sessions.",
]
TRAVEL = [
    "There is nowhere to park at the centre.",
    "Parking at the centre is impossible in the mornings.",
    "The bus to the centre only runs twice a day.",
    "No parking near the centre so we are always late.",
    "Hard to get to the centre without a car, the bus takes an hour.",
    "The car park is too small for the number of families.",
    "Parking is a nightmare, please add more spaces.",
    "The bus stop is a long walk from the centre with a buggy.",
    "We gave up because the bus to the centre is so unreliable.",
    "Parking near the centre costs too much.",
    "More parking spaces at the centre would help.",
    "There is no bus to the centre from our village.",
    "The car park fills up before the morning sessions start.",
    "Getting the bus to the centre with two toddlers is hard.",
    "Parking at the centre is always full.",
    "A bus that stops at the centre would make a big difference.",
    "The centre car park needs more spaces.",
    "It takes two buses to reach the centre.",
]
THEME_WORDS = {
    "waiting": {"wait", "waiting", "waited", "speech", "therapy", "referral", "list"},
    "staff": {"staff", "friendly", "kind", "welcoming"},
    "travel": {"parking", "park", "bus", "buses", "car", "spaces"},
}


def _assert_reads_as_phrase(label: str) -> None:
    """A short phrase: capital first word only, 2-8 words, no repeats, no dangling word."""
    words = re.findall(r"[\w']+", label.lower())
    assert 2 <= len(words) <= 8, label
    assert len(set(words)) == len(words), f"repeated word in {label!r}"
    assert words[0] not in STOP_WORDS and words[-1] not in STOP_WORDS, label
    assert words[-1] not in {"and", "or", "not", "more", "no", "very"}, label
    assert label[0].isupper() and label[1:] == label[1:].lower(), label
    assert "/" not in label and "," not in label, label


def _partition() -> tuple[list, np.ndarray]:
    comments = make_comments(WAITING + STAFF + TRAVEL, ("parents", "vcs", "cc_staff"))
    labels = np.repeat([0, 1, 2], [len(WAITING), len(STAFF), len(TRAVEL)])
    return comments, labels


def test_labels_of_a_known_partition_are_phrases_of_their_theme() -> None:
    comments, labels = _partition()
    themes = build_themes(
        comments,
        labels,
        ["waiting", "staff", "travel"],
        ["parents", "vcs", "cc_staff"],
        np.linspace(1, 0, len(comments)),
        Tokeniser(),
    )
    by_id = {t.theme_id: t.label for t in themes}
    for theme_id, label in by_id.items():
        _assert_reads_as_phrase(label)
        assert set(re.findall(r"\w+", label.lower())) & THEME_WORDS[theme_id], label
    assert len({label.lower() for label in by_id.values()}) == 3


def test_discovered_themes_get_distinct_phrase_labels() -> None:
    comments = make_comments(WAITING + STAFF + TRAVEL, ("parents", "vcs", "cc_staff"))
    result = discover_themes(comments, n_themes=3)
    themes = [t for t in result.themes if t.theme_id not in SPECIAL_THEMES]
    truth = {
        c.response_id: k
        for k, group in enumerate((WAITING, STAFF, TRAVEL))
        for c in comments
        if c.text in group
    }
    for theme in themes:
        _assert_reads_as_phrase(theme.label)
        members = [a.response_id for a in result.assignments if a.theme_id == theme.theme_id]
        majority = np.bincount([truth[r] for r in members]).argmax()
        words = set(THEME_WORDS[("waiting", "staff", "travel")[majority]])
        assert set(re.findall(r"\w+", theme.label.lower())) & words, theme.label
    assert len({t.label.lower() for t in themes}) == len(themes)


def test_label_keeps_the_answers_own_capitals() -> None:
    texts = [f"Our GP surgery {end}" for end in ("is great", "was helpful", "rang back")]
    texts += [f"The NHS app {end}" for end in ("is slow", "crashed", "needs work")]
    comments = make_comments(texts)
    themes = build_themes(
        comments,
        np.repeat([0, 1], 3),
        ["gp", "app"],
        ["parents", "vcs"],
        np.ones(6),
        Tokeniser(),
    )
    assert {t.label for t in themes} == {"GP surgery", "NHS app"}


@pytest.mark.parametrize(
    ("text", "present", "absent"),
    [
        ("I can't fault the service", "can't fault servic", "fault servic"),
        ("Could not fault the care", "not fault care", "fault care"),
        ("We need more staff.", "more staff", "need more staff"),
        ("Long waits but lovely staff", "lovely staff", "long wait lovely staff"),
        ("Parking, buses", "park", "park buse"),
        ("I waited 3 hours for the GP", "wait hour gp", "wait 3 hour gp"),
        ("Waiting waiting for speech therapy", "wait speech therapy", "wait wait"),
    ],
)
def test_phrase_candidates_are_phrase_shaped(text: str, present: str, absent: str) -> None:
    """Spans keep negations, stop at clause breaks, skip numbers and never repeat a word."""
    keys = phrase_keys(text)
    assert present in keys and absent not in keys
    for key in keys:
        assert len(key.split()) == len(set(key.split()))


def test_a_broad_theme_is_named_as_a_mix_of_its_two_top_words_not_a_rare_phrase() -> None:
    """No phrase covers 2% of a broad theme's answers: the label says it is a mix, with its two
    commonest words, so nobody reads it as one topic."""
    rare = [a + b + c for a in "bdfgk" for b in "aeiou" for c in "lmnrt"][:120]
    broad = [f"Help with the {w}." for w in rare[:60]] + [
        f"Patients, {w} and {v}." for w, v in zip(rare[60:90], rare[90:120], strict=True)
    ]
    broad += ["Patients ward visiting", "Patients ward visiting"]  # one rare two-word phrase
    comments = make_comments(broad + TRAVEL)
    labels = np.repeat([0, 1], [len(broad), len(TRAVEL)])
    themes = build_themes(
        comments,
        labels,
        ["broad", "travel"],
        ["parents", "vcs"],
        np.ones(len(comments)),
        Tokeniser(),
    )
    label = next(t.label for t in themes if t.theme_id == "broad")
    assert label == "Mixed comments on help and patients"
    _assert_reads_as_phrase(label)
