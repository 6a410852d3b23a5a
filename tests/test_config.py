"""Loading the campaign file: all problems at once, each with its field path and line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from bot.timeparse import parse_duration
from tests.conftest import EXAMPLE_CONFIG, example_data, write_config


def test_example_config_is_valid_and_complete():
    settings = load_settings(EXAMPLE_CONFIG, environ={})
    assert [g.id for g in settings.groups] == ["parents", "vcs", "cc_staff", "la"]
    assert {f.id for f in settings.flows} >= {"pulse", "challenge-1", "challenge-2", "force-field"}
    assert len(settings.flow_by_id["challenge-1"].probes) == 2
    assert settings.enabled_platforms() == ["console"]


def test_three_mistakes_of_different_kinds_are_reported_together_with_paths_and_lines(tmp_path):
    data = example_data()
    data["campaigns"][0]["schedule"][1]["after"] = "two days"
    data["flows"][0]["steps"][0]["type"] = "slider"
    data["campaigns"][0]["groups"].append("pirates")
    path = write_config(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    joined = "\n".join(caught.value.problems)
    assert len(caught.value.problems) == 3, joined  # a type error does not hide the others
    assert "flows[0].steps[0].type: must be 'text', 'choice', 'multi', 'scale' or 'yesno'" in joined
    data["flows"][0]["steps"][0]["type"] = "scale"
    data["flows"][0]["steps"][0]["min"] = 9
    path = write_config(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    joined = "\n".join(caught.value.problems)
    assert "campaigns[0].schedule[1].after:" in joined
    assert "campaigns[0].groups[4]: unknown group 'pirates'" in joined
    assert "flows[0].steps[0].max: must be greater than min" in joined
    assert "(line " in joined


def test_type_errors_in_several_places_are_all_reported(tmp_path):
    data = example_data()
    data["flows"][0]["steps"][0]["type"] = "slider"
    data["telegram"]["port"] = "eighty"
    del data["campaigns"][0]["consent"]
    path = write_config(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    paths = sorted(p.split(":")[0] for p in caught.value.problems)
    assert paths == ["campaigns[0].consent", "flows[0].steps[0].type", "telegram.port"]


def test_unknown_top_level_key_is_an_error(tmp_path):
    data = example_data()
    data["campaings"] = []
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, data), environ={})
    assert caught.value.problems[0].startswith("campaings: unknown key")


def test_env_references_are_expanded_and_unset_ones_disable_the_adapter(tmp_path):
    settings = load_settings(EXAMPLE_CONFIG, environ={"TELEGRAM_BOT_TOKEN": "123:abc"})
    assert settings.telegram.token == "123:abc" and settings.telegram.enabled
    assert not settings.slack.enabled


def test_database_url_environment_overrides_the_file():
    settings = load_settings(EXAMPLE_CONFIG, environ={"LISTENING_DATABASE_URL": "sqlite:///x.db"})
    assert settings.database_url == "sqlite:///x.db"


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("groups:\n  - id: parents\n    label: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d"):
        load_settings(path, environ={})


def test_missing_file_is_one_sentence(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_schedule_entry_needs_exactly_one_timing(tmp_path):
    data = example_data()
    data["campaigns"][0]["schedule"][0] = {"flow": "pulse", "at": "2026-03-02 09:30", "after": "1d"}
    data["campaigns"][0]["schedule"][1]["cron"] = "* * *"
    del data["campaigns"][0]["schedule"][1]["after"]
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, data), environ={})
    joined = "\n".join(caught.value.problems)
    assert "campaigns[0].schedule[0]: give exactly one of at, cron or after" in joined
    assert "campaigns[0].schedule[1].cron: '* * *' must have five fields" in joined


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("P2D", timedelta(days=2)),
        ("PT1H30M", timedelta(minutes=90)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "2 days", "-1d", "PT"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_a_secret_can_come_from_a_file_named_by_name_file(tmp_path):
    """Docker secrets: ``TELEGRAM_BOT_TOKEN_FILE=/run/secrets/...`` when the variable is unset."""
    from bot.config import load_settings

    secret = tmp_path / "token"
    secret.write_text("123:from-a-file\n")
    settings = load_settings(EXAMPLE_CONFIG, environ={"TELEGRAM_BOT_TOKEN_FILE": str(secret)})
    assert settings.telegram.token == "123:from-a-file"
    both = load_settings(
        EXAMPLE_CONFIG,
        environ={"TELEGRAM_BOT_TOKEN": "123:env-wins", "TELEGRAM_BOT_TOKEN_FILE": str(secret)},
    )
    assert both.telegram.token == "123:env-wins"
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN_FILE names a file that cannot"):
        load_settings(EXAMPLE_CONFIG, environ={"TELEGRAM_BOT_TOKEN_FILE": str(tmp_path / "no")})


def test_the_database_url_override_can_take_its_password_from_a_secret_file(tmp_path):
    secret = tmp_path / "db_password"
    secret.write_text("s3cret\n")
    settings = load_settings(
        EXAMPLE_CONFIG,
        environ={
            "LISTENING_DATABASE_URL": "postgresql://listening:${DB_PASSWORD}@db:5432/listening",
            "DB_PASSWORD_FILE": str(secret),
        },
    )
    assert settings.database_url == "postgresql://listening:s3cret@db:5432/listening"


# -- issue 11: check catches what will go wrong --------------------------------------------------
def _problems(tmp_path, data) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, data), environ={})
    return caught.value.problems


def _force_field(data):
    return next(f for f in data["flows"] if f["id"] == "force-field")


def test_a_when_value_that_is_not_an_option_is_refused_with_the_closest_suggested(tmp_path):
    data = example_data()
    _force_field(data)["steps"].insert(
        0, {"id": "age", "type": "choice", "ask": "Age?", "options": ["under 3", "3 to 4"]}
    )
    _force_field(data)["steps"].insert(
        1,
        {
            "id": "nursery",
            "type": "text",
            "ask": "Which?",
            "when": {"step": "age", "equals": "3 to 4 years"},
        },
    )
    [problem] = _problems(tmp_path, data)
    assert problem.startswith("flows[3].steps[1].when.equals: '3 to 4 years' is not an option")
    assert "did you mean '3 to 4'?" in problem and "(options: under 3, 3 to 4)" in problem


@pytest.mark.parametrize(
    ("when", "fragment"),
    [
        ({"step": "worked-together", "equals": "maybe"}, "is a yes/no question"),
        ({"step": "worked-together", "at_least": 2}, "only works on a scale step"),
        ({"step": "worked-together"}, "but no answer"),
        ({"step": "worked-togther", "equals": "yes"}, "did you mean 'worked-together'?"),
    ],
)
def test_when_conditions_that_can_never_hold_are_refused(tmp_path, when, fragment):
    data = example_data()
    _force_field(data)["steps"][4]["when"] = when
    [problem] = _problems(tmp_path, data)
    assert problem.startswith("flows[3].steps[4].when") and fragment in problem


def test_when_values_that_can_hold_pass(tmp_path):
    data = example_data()
    flow = _force_field(data)
    flow["steps"][4]["when"] = {"step": "worked-together", "equals": True}  # YAML `yes`
    flow["steps"].append(
        {"id": "which", "type": "multi", "ask": "?", "options": ["Weekly", "None of these"]}
    )
    flow["steps"].append(
        {
            "id": "why-not",
            "type": "text",
            "ask": "?",
            "when": {"step": "which", "in": ["none of these"]},
        }
    )
    data["flows"][0]["steps"].append(
        {"id": "why", "type": "text", "ask": "?", "when": {"step": "positive", "at_most": 2}}
    )
    load_settings(write_config(tmp_path, data), environ={})


def test_every_mistake_is_reported_at_once_across_kinds(tmp_path):
    """Type errors no longer hide cross-field or when-value mistakes in the same flow/campaign."""
    data = example_data()
    flow = _force_field(data)
    flow["steps"][0]["optional"] = "sometimes"  # type error in the flow ...
    flow["steps"][4]["when"]["equals"] = "yess"  # ... and a when-value in the same flow
    flow["steps"][2]["type"] = "essay"  # an unreadable step does not hide its neighbours
    campaign = data["campaigns"][0]
    campaign["reminders"]["max"] = 20  # type error in the campaign ...
    campaign["schedule"][1]["after"] = "soon"  # ... and a bad duration in the same campaign
    campaign["schedule"][3]["at"] = "2027-06-01 10:00"  # a send after closes
    campaign["groups"].append("pirates")  # cross-field
    problems = _problems(tmp_path, data)
    paths = [p.split(":")[0] for p in problems]
    assert paths == [
        "flows[3].steps[0].optional",
        "flows[3].steps[2].type",
        "flows[3].steps[4].when.equals",
        "campaigns[0].groups[4]",
        "campaigns[0].schedule[1].after",
        "campaigns[0].schedule[3].at",
        "campaigns[0].reminders.max",
    ], "\n".join(problems)


def test_problems_say_where_as_a_person_counts_with_the_line(tmp_path):
    data = example_data()
    data["campaigns"][0]["schedule"][1]["after"] = "soon"
    data["flows"][3]["steps"][2]["type"] = "essay"
    problems = _problems(tmp_path, data)
    text = write_config(tmp_path, data).read_text(encoding="utf-8")
    after_line = next(n for n, line in enumerate(text.splitlines(), 1) if "after: soon" in line)
    assert "campaigns[0].schedule[1].after: 'soon' is not a duration" in problems[-1]
    assert problems[-1].endswith(f"(line {after_line}, campaign 1 (leeds-2026), schedule entry 2)")
    assert "(line " in problems[0] and "flow 4 (force-field), step 3 (one-change))" in problems[0]


@pytest.mark.parametrize(
    ("at", "fragment"),
    [
        ("2027-04-01 10:00", "is after the campaign closes (2027-03-31 17:00)"),
        ("2026-01-01 10:00", "is before the campaign opens (2026-01-05 09:00)"),
    ],
)
def test_a_send_outside_opens_and_closes_is_flagged_not_dropped(tmp_path, at, fragment):
    data = example_data()
    data["campaigns"][0]["schedule"][3]["at"] = at
    [problem] = _problems(tmp_path, data)
    assert problem.startswith("campaigns[0].schedule[3].at: ") and fragment in problem


def test_a_cron_that_never_fires_while_open_is_flagged(tmp_path):
    data = example_data()
    data["campaigns"][0]["schedule"].append({"flow": "pulse", "cron": "0 10 30 2 *"})
    [problem] = _problems(tmp_path, data)
    assert "never fires between opens" in problem


def test_flows_and_schedule_entries_can_be_limited_to_groups(tmp_path):
    settings = load_settings(EXAMPLE_CONFIG, environ={})
    campaign = settings.campaigns[0]
    family = next(e for e in campaign.schedule if e.flow == "family-services")
    pulse = campaign.schedule[0]
    assert settings.flow_by_id["family-services"].groups == ["parents"]
    assert settings.entry_groups(campaign, family) == ["parents"]
    assert settings.entry_groups(campaign, pulse) == ["parents", "vcs", "cc_staff", "la"]
    data = example_data()
    data["campaigns"][0]["schedule"][0]["groups"] = ["la", "vcs"]
    limited = load_settings(write_config(tmp_path, data), environ={})
    entry = limited.campaigns[0].schedule[0]
    assert limited.entry_groups(limited.campaigns[0], entry) == ["vcs", "la"]  # campaign order


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        (
            lambda d: d["flows"][0].update(groups=["parent"]),
            "flows[0].groups[0]",
            "did you mean 'parents'?",
        ),
        (lambda d: d["flows"][0].update(groups=[]), "flows[0].groups", "at least one group"),
        (
            lambda d: d["campaigns"][0]["schedule"][4].update(groups=["vcs"]),  # family-services
            "campaigns[0].schedule[4]",
            "goes to nobody",
        ),
        (
            lambda d: (
                d["campaigns"][0].update(groups=["parents", "vcs"]),
                d["campaigns"][0]["schedule"][0].update(groups=["la"]),
            ),
            "campaigns[0].schedule[0].groups[0]",
            "does not take part in this campaign",
        ),
        (
            lambda d: d["campaigns"][0]["schedule"].append(
                {"flow": "pulse", "at": "2027-03-15 10:00", "groups": ["vcs"]}
            ),
            "campaigns[0].schedule[6]",
            "same flow at the same time",
        ),
    ],
)
def test_group_limits_that_reach_nobody_or_unknown_groups_are_refused(
    tmp_path, change, path, fragment
):
    data = example_data()
    change(data)
    problems = _problems(tmp_path, data)
    assert any(p.startswith(path + ":") and fragment in p for p in problems), problems


def test_a_relative_sqlite_path_is_relative_to_the_config_file(tmp_path, monkeypatch):
    data = example_data()
    data["database_url"] = "sqlite:///data/listening.db"
    folder = tmp_path / "campaigns"
    folder.mkdir()
    path = write_config(folder, data)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(path.relative_to(tmp_path), environ={})
    assert settings.database_url == f"sqlite:///{folder / 'data' / 'listening.db'}"
    del data["database_url"]
    settings = load_settings(write_config(folder, data), environ={})
    assert settings.database_url == f"sqlite:///{folder / 'listening.db'}"  # the default too
    data["database_url"] = "sqlite:////srv/bot.db"
    assert (
        load_settings(write_config(folder, data), environ={}).database_url
        == "sqlite:////srv/bot.db"
    )
