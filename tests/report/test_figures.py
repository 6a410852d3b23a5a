"""The report's numbers, computed from plain rows: participation, closed questions, change."""

from __future__ import annotations

import pytest

from bot.config import Settings, load_settings
from bot.report import figures
from tests.conftest import example_data, write_config
from tests.report.factories import (
    FakeTheme,
    comment,
    enrolment,
    imported,
    pulse,
    row,
)

GROUPS = [("parents", "Parents and carers"), ("vcs", "VCS providers"), ("cc_staff", "Staff")]


def _question(settings: Settings, flow: str, step: str) -> figures.Question:
    campaign = settings.campaigns[0]
    found = [
        q for q in figures.closed_questions(settings.flow_by_id, campaign) if q.key == (flow, step)
    ]
    assert found, f"{flow}/{step} is not a closed question of the campaign"
    return found[0]


def _pulse_rows() -> list:
    return [
        pulse("P1", "parents", 2, days=0),
        pulse("P2", "parents", 4, days=0),
        pulse("P3", "parents", 3, days=1),
        pulse("V1", "vcs", 5, days=0),
        pulse("V2", "vcs", 1, days=0),
        pulse("P1", "parents", 5, days=300),
        pulse("P2", "parents", 4, days=300),
        pulse("V1", "vcs", 4, days=300),
    ]


def test_participation_counts_people_answers_comments_and_imports() -> None:
    enrolments = [
        enrolment(1, "parents"),
        enrolment(2, "parents"),
        enrolment(3, "parents", stopped=True),
        enrolment(4, "vcs"),
        enrolment(5, "vcs"),
        enrolment(6, "cc_staff"),
    ]
    rows = [
        *_pulse_rows(),
        comment("P1", "parents", "More evening sessions please"),
        comment("V1", "vcs", "Contracts are too short"),
        comment("V1", "vcs", "   "),
        imported("vcs", "Workshop: tendering is too complex"),
        imported("la", "Workshop: we need shared outcomes"),
    ]
    table = {p.group: p for p in figures.participation(GROUPS, enrolments, rows)}

    assert list(table) == ["parents", "vcs", "cc_staff", "la", "all"]
    parents, vcs, staff, la, total = (table[g] for g in ("parents", "vcs", "cc_staff", "la", "all"))
    assert (parents.enrolled, parents.stopped, parents.answered) == (3, 1, 3)
    assert (parents.answers, parents.comments, parents.imported) == (6, 1, 0)
    assert parents.response_rate == pytest.approx(1.0)
    assert (vcs.enrolled, vcs.answered, vcs.answers, vcs.comments, vcs.imported) == (2, 2, 5, 1, 1)
    assert (staff.enrolled, staff.answered, staff.response_rate) == (1, 0, 0.0)
    assert la.label == "la" and la.enrolled == 0 and la.response_rate is None and la.imported == 1
    assert (total.enrolled, total.answered, total.imported) == (6, 5, 2)


def test_scale_counts_each_person_once_with_their_latest_answer(settings: Settings) -> None:
    question = _question(settings, "pulse", "positive")
    assert question.repeated and question.positive == {"4", "5"}
    assert question.positive_label == "positive (4-5 of 1-5)"

    result = figures.question_figures(question, GROUPS, _pulse_rows())
    by_group = {g.group: g for g in result.groups}

    parents = by_group["parents"]
    assert parents.people == 3
    assert {o.option: o.count for o in parents.options} == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}
    assert parents.positive == 2 and parents.positive_share == pytest.approx(2 / 3)
    assert parents.mean == pytest.approx(4.0)
    assert by_group["vcs"].positive_share == pytest.approx(0.5)
    assert by_group["cc_staff"].people == 0 and by_group["cc_staff"].positive_share is None
    assert by_group["all"].people == 5 and by_group["all"].positive == 3


def test_change_pairs_first_and_last_answer_of_people_who_answered_twice(
    settings: Settings,
) -> None:
    question = _question(settings, "pulse", "positive")
    result = figures.question_figures(question, GROUPS, _pulse_rows())
    change = {(c.group, c.measure): c for c in result.change}

    parents = change[("parents", "positive (4-5 of 1-5)")]
    assert parents.people == 2  # P3 answered once and is left out of the comparison
    assert (parents.start, parents.end) == (pytest.approx(0.5), pytest.approx(1.0))
    assert parents.delta == pytest.approx(0.5)
    mean = change[("parents", "mean")]
    assert (mean.start, mean.end) == (pytest.approx(3.0), pytest.approx(4.5))
    vcs = change[("vcs", "positive (4-5 of 1-5)")]
    assert (vcs.people, vcs.start, vcs.end) == (1, 1.0, 1.0)
    every = change[("all", "positive (4-5 of 1-5)")]
    assert (every.people, every.start, every.end) == (3, pytest.approx(2 / 3), 1.0)
    assert ("cc_staff", "positive (4-5 of 1-5)") not in change


def test_questions_asked_once_have_no_change(settings: Settings) -> None:
    question = _question(settings, "force-field", "worked-together")
    assert not question.repeated and question.positive_label == "yes"
    rows = [
        row("P1", "parents", "force-field", "worked-together", "yesno", "yes"),
        row("P2", "parents", "force-field", "worked-together", "yesno", "no"),
        row("V1", "vcs", "force-field", "worked-together", "yesno", "yes"),
        row("V1", "vcs", "force-field", "worked-together", "yesno", "no", days=1),
    ]
    result = figures.question_figures(question, GROUPS, rows)
    by_group = {g.group: g for g in result.groups}
    assert by_group["parents"].positive_share == pytest.approx(0.5)
    assert by_group["vcs"].positive_share == 0.0  # latest answer wins
    assert result.change == ()


def test_choice_shares_and_unknown_answers_are_kept(settings: Settings) -> None:
    question = _question(settings, "force-field", "how-often")
    assert question.options == ("Weekly", "Monthly", "A few times", "Once")
    assert question.positive_label == "" and not question.positive
    rows = [
        row("P1", "parents", "force-field", "how-often", "choice", "Weekly"),
        row("P2", "parents", "force-field", "how-often", "choice", "Weekly"),
        row("P3", "parents", "force-field", "how-often", "choice", "Daily"),  # an old option
        row("P4", "parents", "force-field", "how-often", "choice", "Once"),
    ]
    parents = figures.question_figures(question, GROUPS, rows).groups[0]
    shares = {o.option: o.share for o in parents.options}
    assert shares == {
        "Weekly": 0.5,
        "Monthly": 0.0,
        "A few times": 0.0,
        "Once": 0.25,
        "Daily": 0.25,
    }
    assert parents.positive is None and parents.mean is None


def test_multi_choice_counts_every_pick_and_its_change(tmp_path) -> None:
    data = example_data()
    data["flows"].append(
        {
            "id": "needs",
            "kind": "structured",
            "steps": [
                {
                    "id": "what",
                    "type": "multi",
                    "ask": "What helps?",
                    "options": ["Money", "Time", "Trust"],
                }
            ],
        }
    )
    data["campaigns"][0]["schedule"] += [
        {"flow": "needs", "after": "1d"},
        {"flow": "needs", "at": "2027-03-20 10:00"},
    ]
    settings = load_settings(write_config(tmp_path, data), environ={})
    question = _question(settings, "needs", "what")
    rows = [
        row("P1", "parents", "needs", "what", "multi", "Money; Time"),
        row("P2", "parents", "needs", "what", "multi", "Trust"),
        row("P1", "parents", "needs", "what", "multi", "Money; Time; Trust", days=300),
        row("P2", "parents", "needs", "what", "multi", "Trust", days=300),
    ]
    result = figures.question_figures(question, GROUPS, rows)
    parents = result.groups[0]
    assert {o.option: o.count for o in parents.options} == {"Money": 1, "Time": 1, "Trust": 2}
    trust = next(c for c in result.change if c.group == "parents" and c.measure == "Trust")
    assert (trust.people, trust.start, trust.end) == (2, 0.5, 1.0)


@pytest.mark.parametrize(("low", "high"), [(1, 5), (0, 10), (1, 3)])
def test_no_end_of_a_scale_is_assumed_positive(low: int, high: int) -> None:
    """Which end is "good" is the organiser's to say; unsaid, the report names no positive."""
    from bot.config import Flow, Step

    step = Step(id="s", type="scale", ask="?", min=low, max=high)
    assert figures.positive_points(step) == ()
    flow = Flow(id="f", kind="structured", steps=[step])
    question = figures._question(flow, step, repeated=False)
    assert question.positive == frozenset() and question.positive_label == ""


def test_positive_points_come_from_the_config() -> None:
    from bot.config import Flow, Step

    step = Step(id="s", type="scale", ask="?", min=1, max=5, positive=[1, 2])  # 1 = best
    flow = Flow(id="f", kind="structured", steps=[step])
    question = figures._question(flow, step, repeated=False)
    assert question.positive == {"1", "2"} and question.positive_label == "positive (1-2 of 1-5)"


def test_only_flows_asked_twice_or_on_cron_are_repeated(settings: Settings) -> None:
    assert figures.repeated_flows(settings.campaigns[0]) == {"pulse"}
    keys = [q.key for q in figures.closed_questions(settings.flow_by_id, settings.campaigns[0])]
    assert keys == [
        ("pulse", "positive"),
        ("force-field", "worked-together"),
        ("force-field", "how-often"),
        ("family-services", "child-age"),
        ("family-services", "uses-nursery"),
    ]


def test_free_text_is_open_text_and_voice_with_words() -> None:
    rows = [
        comment("P1", "parents", "Evening sessions"),
        row("P1", "parents", "force-field", "helps", "text", "Trust"),
        row("P1", "parents", "force-field", "helps", "voice", "A transcript"),
        row("P1", "parents", "force-field", "helps", "voice", ""),
        row("P1", "parents", "force-field", "worked-together", "yesno", "yes"),
        imported("vcs", "From the workshop"),
    ]
    assert [r.answer for r in figures.free_text(rows)] == [
        "Evening sessions",
        "Trust",
        "A transcript",
        "From the workshop",
    ]


def test_theme_shares_are_of_each_groups_comments() -> None:
    themes = [
        FakeTheme("t1", "waiting", ("wait",), 6, {"parents": 4, "vcs": 2}, ("a", "b", "c", "d")),
        FakeTheme("t2", "staff", ("staff",), 4, {"vcs": 4}, ("e",)),
    ]
    result = figures.theme_figures(themes, GROUPS, {"parents": 4, "vcs": 6})
    first = result[0]
    assert first.share == pytest.approx(0.6) and first.quotes == ("a", "b", "c")
    assert [(g.group, g.count, g.share) for g in first.groups] == [
        ("parents", 4, 1.0),
        ("vcs", 2, pytest.approx(1 / 3)),
    ]  # cc_staff had no comments and is left out
    assert [(g.group, g.count) for g in result[1].groups] == [("parents", 0), ("vcs", 4)]


def test_a_theme_share_of_a_group_below_the_minimum_is_not_given() -> None:
    """Four health visitors are not 25%/50% of anything: the report says "fewer than 5"."""
    themes = [FakeTheme("t1", "waiting", ("wait",), 6, {"parents": 4, "vcs": 2}, ("a",))]
    [theme] = figures.theme_figures(themes, GROUPS, {"parents": 4, "vcs": 6}, min_base=5)
    assert [(g.group, g.share, g.suppressed) for g in theme.groups] == [
        ("parents", None, True),
        ("vcs", pytest.approx(1 / 3), False),
    ]


def test_date_range() -> None:
    rows = _pulse_rows()
    first, last = figures.date_range(rows)
    assert (last - first).days == 300
    assert figures.date_range([]) is None


def test_a_theme_share_of_a_group_with_fewer_than_5_people_is_not_given() -> None:
    """Nine comments from three people are still three people: no share for that group."""
    themes = [FakeTheme("t1", "waiting", ("wait",), 9, {"parents": 3, "vcs": 6}, ("a",))]
    [theme] = figures.theme_figures(
        themes, GROUPS, {"parents": 6, "vcs": 9}, min_base=5, too_few={"vcs"}
    )
    assert [(g.group, g.share is None, g.suppressed) for g in theme.groups] == [
        ("parents", False, False),
        ("vcs", True, True),
    ]
