"""Reading the campaign file within bounds, and the time settings that used to pass silently."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import yaml

from bot.config import load_settings, parse_quiet_hours
from bot.errors import ConfigError
from bot.safe_yaml import MAX_CONFIG_BYTES, BoundedSafeLoader, expanded_size, load_bounded
from tests.conftest import ROOT, example_data, write_config

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
groups: *i
flows: []
campaigns: []
"""


def test_billion_laughs_is_refused_quickly_with_one_sentence(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert time.monotonic() - started < 5  # the old loader walked 10^9 values (MemoryError)
    assert "aliases expanded" in caught.value.message
    assert caught.value.message.count(".") <= 3 and "\n" not in caught.value.message


def test_check_on_billion_laughs_exits_1_without_traceback(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "refused" in result.stderr


def test_too_many_aliases_are_refused_while_composing():
    text = "x: &x 1\ny: [" + ",".join(["*x"] * (BoundedSafeLoader.max_aliases + 1)) + "]\n"
    with pytest.raises(yaml.YAMLError, match="more than .* aliases"):
        load_bounded(text)


def test_a_few_anchors_for_shared_options_still_work():
    root, data = load_bounded("opts: &o [a, b]\none: *o\ntwo: *o\n")
    assert data == {"opts": ["a", "b"], "one": ["a", "b"], "two": ["a", "b"]}
    assert root is not None and expanded_size(root) < 20


def test_an_oversized_file_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * MAX_CONFIG_BYTES + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="larger than"):
        load_settings(path, environ={})


def test_the_global_safe_loader_is_untouched():
    assert yaml.SafeLoader.compose_node is not BoundedSafeLoader.compose_node
    assert yaml.safe_load("a: &x 1\nb: *x\n") == {"a": 1, "b": 1}


@pytest.mark.parametrize("where", ["top", "campaign"])
def test_quiet_hours_that_start_and_end_together_are_a_config_error(tmp_path, where):
    data = example_data()
    if where == "top":
        data["quiet_hours"] = "08:00-08:00"
        expected = "quiet_hours: '08:00-08:00' starts and ends at the same time"
    else:
        data["campaigns"][0]["quiet_hours"] = "08:00-08:00"
        expected = "campaigns[0].quiet_hours: '08:00-08:00' starts and ends at the same time"
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, data), environ={})
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


def test_parse_quiet_hours_still_reads_a_real_span():
    start, end = parse_quiet_hours("21:00-08:00")
    assert (start.hour, end.hour) == (21, 8)


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"timezone": ""}, "timezone"),
        ({"campaign_timezone": ""}, "campaigns[0].timezone"),
        ({"quiet_hours": ""}, "quiet_hours"),
    ],
)
def test_an_empty_literal_time_setting_is_a_config_error_with_its_path(tmp_path, patch, path):
    data = example_data()
    for key, value in patch.items():
        if key == "campaign_timezone":
            data["campaigns"][0]["timezone"] = value
        else:
            data[key] = value
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, data), environ={})
    assert any(p.startswith(f"{path}: ") for p in caught.value.problems), caught.value.problems


def test_an_unset_env_reference_still_means_the_default_timezone(tmp_path):
    data = example_data()
    data["timezone"] = "${CAMPAIGN_TZ}"
    settings = load_settings(write_config(tmp_path, data), environ={})
    assert settings.timezone == "Europe/London"
