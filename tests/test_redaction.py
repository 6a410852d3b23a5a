"""Masking identifying details: the patterns, the names, and figures on a hand-written set."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.redaction import EMAIL, LINK, NAME, PHONE, POSTCODE, Redactor, library_names

ROOT = Path(__file__).resolve().parents[1]


def _eval_module():
    spec = importlib.util.spec_from_file_location(
        "redaction_eval", ROOT / "bench/redaction_eval.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(["Kirsty", "Smith", "Dan Morris"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call 07700 900123 after 3", f"call {PHONE} after 3"),
        ("ring (0113) 496 0123 please", f"ring {PHONE} please"),
        ("on +44 7911 123456.", f"on {PHONE}."),
        ("mail jo.b@example.co.uk now", f"mail {EMAIL} now"),
        ("we live at LS8 2AB", f"we live at {POSTCODE}"),
        ("postcode ls9 7bx", f"postcode {POSTCODE}"),
        ("see instagram.com/jo.bloggs_1", f"see {LINK}"),
        ("thanks @leeds_mum for that", f"thanks {NAME} for that"),
        ("thanks <@U0123ABC> for that", f"thanks {NAME} for that"),
        ("my son Tom loves it", f"my son {NAME} loves it"),
        ("Mrs Kowalski helped", f"Mrs {NAME} helped"),
        ("ask for Sarah Jones at the desk", f"ask for {NAME} at the desk"),
        ("Aisha's group is great", f"{NAME}'s group is great"),
    ],
)
def test_each_kind_of_detail_is_masked(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.mask(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Will there be sessions on Saturdays?",
        "Can we have more funding for small groups?",
        "It was 2019 and we had 12 kids in the room",
        "There's a grace period for forms",
        "Sessions run from 9 to 5 on 12/03/2026",
        "The LS8 area needs more",  # half a postcode names an area, not a home
        "",
    ],
)
def test_ordinary_text_is_left_alone(redactor: Redactor, text: str) -> None:
    assert redactor.mask(text) == text


def test_own_names_are_masked_in_any_case_and_others_known_names_when_capitalised() -> None:
    redactor = Redactor(["Kirsty", "Smith", "Dan", "Morris"])
    assert redactor.mask("kirsty smith here", ["Kirsty", "Smith"]) == f"{NAME} here"
    assert redactor.mask("Dan came along") == f"{NAME} came along"
    assert redactor.mask("we ran out of time, dan said") == "we ran out of time, dan said"


def test_the_name_list_is_read_offline_from_the_faker_package() -> None:
    firsts, lasts = library_names()
    assert {"sarah", "mohammed", "aisha", "agnieszka"} <= firsts
    assert "will" not in firsts and "grace" not in firsts  # ordinary words are not names alone
    assert "kowalski" in lasts


def test_without_the_name_list_patterns_cues_and_known_names_still_work() -> None:
    bare = Redactor(["Kirsty"], use_library=False)
    assert bare.mask("Kirsty, 07700 900123, my son Tom") == f"{NAME}, {PHONE}, my son {NAME}"
    assert bare.mask("Sarah was there") == "Sarah was there"


def test_shouted_text_is_not_masked_word_by_word(redactor: Redactor) -> None:
    text = "THE CENTRE IS GREAT AND THE STAFF ARE KIND"
    assert redactor.mask(text) == text


def test_precision_and_recall_on_the_hand_written_set() -> None:
    """Figures (also printed by bench/redaction_eval.py): ours must stay at or above these."""
    module = _eval_module()
    cases = module.load_cases()
    assert len(cases) >= 40
    ours = module.score(Redactor(module.known_names()), cases)
    bare = module.score(Redactor((), use_library=False), cases)
    assert ours.recall >= 0.9 and ours.precision >= 0.85, ours
    assert ours.recall > bare.recall


def test_telegram_names_come_from_the_update() -> None:
    from telegram import Update

    from bot.adapters.telegram._inbound import message_inbound

    update = Update.de_json(
        {
            "update_id": 1,
            "message": {
                "message_id": 5,
                "date": 1767225600,
                "chat": {"id": 42, "type": "private", "first_name": "Kirsty"},
                "from": {"id": 42, "is_bot": False, "first_name": "Kirsty", "last_name": "Smith"},
                "text": "/start",
            },
        },
        None,
    )
    inbound = message_inbound(update, datetime(2026, 1, 1, tzinfo=UTC))
    assert inbound is not None
    assert (inbound.first_name, inbound.last_name) == ("Kirsty", "Smith")
    assert "Kirsty" not in repr(inbound)
