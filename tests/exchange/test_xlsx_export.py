"""The xlsx writer on its own: question texts, typed answers and formula-looking text."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from bot.exchange.exporting import COLUMNS, row_values, xlsx_bytes
from bot.exchange.xlsx_export import XlsxContext, question_text
from storage.records import ResponseRow


def test_question_text_for_every_kind_of_answer(settings):
    flows = settings.flow_by_id
    assert question_text(flows, "force-field", "hinders") == "What gets in the way?"
    assert question_text(flows, "challenge-1", "opening").startswith("If children's centres")
    assert question_text(flows, "challenge-1", "probe-2") == (
        "What would need to be in place for that to work?"
    )
    assert question_text(flows, "challenge-1", "probe-9") == ""
    assert question_text(flows, "challenge-1", "more").startswith("(more")
    assert question_text(flows, "challenge-1", "import").startswith("If children's centres")
    assert question_text(flows, "import", "workshop") == "(imported comment: workshop)"
    assert question_text(flows, "pulse", "unprompted") == "(sent when no question was open)"
    assert question_text(flows, "gone", "x") == ""


def row(answer: str, kind: str, step: str = "positive") -> ResponseRow:
    return ResponseRow(
        "R-1", "c", "pulse", step, "vcs", "P-1", "telegram", kind, answer,
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
    )  # fmt: skip


def test_only_whole_scale_answers_become_numbers_and_formulas_stay_text(settings):
    rows = [row("4", "scale"), row("4.5", "scale"), row("=1+1", "text"), row("12", "text")]
    data, count = xlsx_bytes(rows, XlsxContext(ZoneInfo("Europe/London"), settings.flow_by_id))
    assert count == 4
    sheet = load_workbook(io.BytesIO(data))["responses"]
    answers = [(c.value, c.data_type) for c in sheet["I"][1:]]
    assert answers == [(4, "n"), ("4.5", "s"), ("=1+1", "s"), ("12", "s")]
    # 00:30 UTC on the night the clocks go back is 01:30 BST (the first 01:30)
    assert sheet["K"][1].value == datetime(2026, 10, 25, 1, 30)
    assert [c.value for c in sheet[1]][: len(COLUMNS)] == list(COLUMNS)
    assert row_values(rows[0])["answered_at"] == "2026-10-25T00:30:00Z"
