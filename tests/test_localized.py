"""Translated config texts, `check` per language, `run` refusing an incomplete language, and the
bot's own message catalogs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.config import load_settings
from bot.errors import ConfigError
from bot.flows import messages
from bot.flows.catalogs import LOCALE_DIR, catalog
from bot.localized import platform_language
from bot.translations import language_problem, untranslated
from tests.conftest import EXAMPLE_CONFIG, ROOT, write_config

MULTILINGUAL = ROOT / "config" / "campaign.multilingual.yaml"


def multilingual_data() -> dict:
    import yaml

    from bot.config import _blank_to_none, expand_env

    return _blank_to_none(expand_env(yaml.safe_load(MULTILINGUAL.read_text("utf-8")), {}))


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "LISTENING_DATABASE_URL": f"sqlite:///{cwd}/t.db"},
        encoding="utf-8",
    )


def test_a_text_is_a_string_or_a_mapping_and_the_default_is_the_first_language(tmp_path):
    data = multilingual_data()
    data["languages"] = ["pl", "en"]
    # options are stored (and named by `when`) in the default language, now Polish
    data["flows"][4]["steps"][1]["when"]["in"] = ["3–4 lata"]
    settings = load_settings(write_config(tmp_path, data), environ={})
    label = settings.group_by_id["parents"].label
    assert label == "Rodzice i opiekunowie"  # the default (Polish) text
    assert label.get("en") == "Parents and carers" and label.get("de") == label


def test_a_mapping_without_the_default_language_is_a_clear_problem(tmp_path):
    data = multilingual_data()
    data["groups"][0]["label"] = {"pl": "Rodzice"}
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, data), environ={})
    assert any(
        p.startswith("groups[0].label") and "default language 'en'" in p
        for p in caught.value.problems
    ), caught.value.problems


def test_untranslated_texts_are_listed_per_language(tmp_path):
    data = multilingual_data()
    del data["flows"][0]["steps"][0]["ask"]["ar"]
    data["flows"][4]["steps"][0]["options"][1] = "1 to 2"  # a plain string: default only
    settings = load_settings(write_config(tmp_path, data), environ={})
    missing = {lang: [t.path for t in texts] for lang, texts in untranslated(settings).items()}
    assert missing == {
        "pl": ["flows[4].steps[0].options[1]"],
        "ar": ["flows[0].steps[0].ask", "flows[4].steps[0].options[1]"],
        "ur": ["flows[4].steps[0].options[1]"],
    }
    assert language_problem(settings, "pl") == (
        "The campaign cannot start in pl: flows[4].steps[0].options[1] has no pl translation "
        "(`listening-bot check` lists them)."
    )


def test_check_lists_and_run_refuses_an_incomplete_language(tmp_path):
    data = multilingual_data()
    del data["campaigns"][0]["consent"]["pl"]
    config = write_config(tmp_path, data)
    checked = run_cli("check", "--config", str(config), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "pl: 1 untranslated" in checked.stdout and "campaigns[0].consent" in checked.stdout
    assert "ar: every text is translated" in checked.stdout
    ran = run_cli("run", "--console", "--config", str(config), cwd=tmp_path)
    assert ran.returncode == 1
    assert "cannot start in pl: campaigns[0].consent has no pl translation" in ran.stderr
    assert "Traceback" not in ran.stderr
    wrong = run_cli("run", "--console", "--lang", "de", "--config", str(MULTILINGUAL), cwd=tmp_path)
    assert wrong.returncode == 1 and "'de' is not one of this config's languages" in wrong.stderr


def _rehearse(tmp_path, lang: str, stdin: str) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "run",
            "--console",
            "--lang",
            lang,
            "--config",
            str(MULTILINGUAL),
        ],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "LISTENING_DATABASE_URL": f"sqlite:///{tmp_path}/t.db"},
        encoding="utf-8",
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_console_rehearsal_in_polish_through_real_stdin(tmp_path):
    stdout = _rehearse(tmp_path, "pl", "/start\ntak\n1\n5\n/mydata\n")
    assert "W jakim języku" not in stdout  # never asked
    assert "Czy zgadzasz się" in stdout and "Bierzesz udział jako" in stdout
    assert "  (tak / nie)" in stdout and "(yes / no)" not in stdout  # the console's own hint
    assert "Oto, co o Tobie przechowujemy:" in stdout and "• Liczba odpowiedzi: 1." in stdout
    assert "Here is what we hold" not in stdout


def test_console_rehearsal_in_urdu_a_right_to_left_draft(tmp_path):
    stdout = _rehearse(tmp_path, "ur", "/start\nہاں\n1\n4\n/mydata\n")
    assert "کیا آپ حصہ لینے پر رضامند ہیں؟" in stdout  # the consent, in Urdu
    assert "  (ہاں / نہیں)" in stdout  # typed "ہاں" is a yes
    assert "1. والدین اور نگہداشت کرنے والے" in stdout
    assert "بچوں کے مراکز اور رضاکار گروپوں کے مل کر کام کرنے" in stdout
    assert "ہم آپ کے بارے میں یہ رکھتے ہیں:" in stdout and "• جوابات کی تعداد: 1۔" in stdout
    assert "• جس زبان میں میں آپ کو لکھتا ہوں: اردو۔" in stdout


def test_the_example_without_languages_is_english_only():
    settings = load_settings(EXAMPLE_CONFIG, environ={})
    assert settings.languages == ["en"] and untranslated(settings) == {}


@pytest.mark.parametrize(
    ("reported", "expected"),
    [("pl", "pl"), ("pl-PL", "pl"), ("pl_PL", "pl"), ("en-GB", "en"), ("de", None), (None, None)],
)
def test_platform_locales_map_to_offered_languages(reported, expected):
    assert platform_language(reported, ["en", "pl", "ar"]) == expected


# -- the bot's own messages ------------------------------------------------------------------
def _msgids() -> set[str]:
    return {
        value for name, value in vars(messages).items() if name.isupper() and isinstance(value, str)
    }


@pytest.mark.parametrize("lang", ["pl", "ar", "ur"])
def test_every_bot_message_has_a_draft_translation_keeping_its_placeholders(lang):
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "listening_bot.po"
    entries = {m.id: m.string for m in read_po(po.open("rb")) if m.id}
    assert "DRAFT" in po.read_text("utf-8").split("msgid", 1)[0]  # marked for a native speaker
    assert _msgids() <= set(entries), _msgids() - set(entries)
    for msgid, translated in entries.items():
        assert translated.strip(), msgid
        assert set(re.findall(r"\{\w+\}", msgid)) == set(re.findall(r"\{\w+\}", translated))
        assert set(re.findall(r"/\w+", msgid)) <= set(re.findall(r"/\w+", translated)), msgid
        # the committed .mo is compiled from this .po
        assert catalog(lang).gettext(msgid) == translated, msgid


def test_the_template_lists_every_message():
    pot = {m.id for m in read_po((LOCALE_DIR / "listening_bot.pot").open("rb")) if m.id}
    assert _msgids() <= pot
