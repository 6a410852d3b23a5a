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
