"""The xlsx export read back with openpyxl: typed cells, local times, questions, two sheets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from bot.clock import ManualClock
from bot.config import load_settings
from bot.dispatcher import Dispatcher
from storage.db import make_engine, make_sessionmaker
from storage.models import Participant
from storage.records import NewResponse
from storage.repositories import ResponseRepo
from tests.cli.test_cli import CONTRACT_COLUMNS, cli
from tests.conftest import EXAMPLE_CONFIG
from tests.helpers import Person

PULSE = "How positive do you feel about children's centres and voluntary groups working together?"
FORMULA = '=HYPERLINK("http://evil.example","click")'


async def answers(url: str) -> list[str]:
    """Two people answer the pulse in British Summer Time; one answers it again; two imports."""
    # Telegram enabled (never called: the dispatcher alone is driven) so people join as on a phone.
    settings = load_settings(EXAMPLE_CONFIG, environ={"TELEGRAM_BOT_TOKEN": "123:TEST"})
    engine = make_engine(url)
    clock = ManualClock(datetime(2026, 7, 1, 9, 0, tzinfo=UTC))  # 10:00 in London
    try:
        dispatcher = Dispatcher(settings, make_sessionmaker(engine), clock)
        first = Person(dispatcher, platform="telegram", user_ref="11")
        await first.join("1")
        await first.say("4")
        clock.advance(timedelta(minutes=5))
        second = Person(dispatcher, platform="telegram", user_ref="12")
        await second.join("2")
        await second.say("2")
        async with dispatcher.sessionmaker() as session:
            mine = [r for r in await ResponseRepo(session).rows() if r.answer == "4"][0]
            pid = await session.scalar(
                select(Participant.id).where(Participant.pseudonym == mine.participant)
            )
        async with dispatcher.sessionmaker.begin() as session:
            repo = ResponseRepo(session)
            await repo.add(
                NewResponse(
                    "leeds-2026",
                    "pulse",
                    "positive",
                    "parents",
                    "telegram",
                    "scale",
                    "5",
                    datetime(2027, 3, 15, 11, 0, tzinfo=UTC),
                    participant_id=pid,
                )
            )
            for text in (FORMULA, "tab\tbell\x07end"):
                await repo.add(
                    NewResponse(
                        "leeds-2026",
                        "import",
                        "workshop",
                        "vcs",
                        "import",
                        "open",
                        text,
                        datetime(2026, 7, 2, 12, 0, tzinfo=UTC),
                        source="workshop",
                    )
                )
        return [mine.participant]
    finally:
        await engine.dispose()


async def test_xlsx_has_typed_cells_local_times_questions_and_a_sheet_per_person(
    sqlite_url, tmp_path
):
    (pseudonym,) = await answers(sqlite_url)
    out = tmp_path / "responses.xlsx"
    result = cli("export", "--format", "xlsx", "--out", str(out), db=sqlite_url)
    assert result.returncode == 0, result.stderr
    book = load_workbook(out)
    assert book.sheetnames == ["responses", "by person"]

    sheet = book["responses"]
    header = [c.value for c in sheet[1]]
    assert header == [*CONTRACT_COLUMNS, "answered_local (Europe/London)", "question"]
    rows = {row[8].value: row for row in sheet.iter_rows(min_row=2)}
    four = rows[4]
    assert four[8].data_type == "n" and isinstance(four[8].value, int)
    assert four[9].value == "2026-07-01T09:00:00Z"  # the contract's column: ISO 8601 UTC text
    assert four[10].value == datetime(2026, 7, 1, 10, 0) and four[10].is_date
    assert four[11].value == PULSE
    assert rows[5][10].value == datetime(2027, 3, 15, 11, 0)  # GMT in March
    formula = rows[FORMULA]
    assert formula[8].data_type == "s"  # text, never a formula
    assert formula[11].value == "(imported comment: workshop)"
    assert "tab\tbell\ufffdend" in rows
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:L{sheet.max_row}"
    widths = {col: sheet.column_dimensions[col].width for col in "ABIKL"}
    assert all(8 <= width <= 60 for width in widths.values())
    assert widths["L"] == 60 and widths["K"] >= 16  # the long question is capped, dates fit
    assert four[11].alignment.wrap_text and sheet["A1"].font.bold  # long text wraps

    people = book["by person"]
    assert [c.value for c in people[1]] == ["participant", "group", f"pulse/positive: {PULSE}"]
    by_person = {row[0]: row[1:] for row in people.iter_rows(min_row=2, values_only=True)}
    assert len(by_person) == 2  # imported comments belong to nobody
    assert by_person[pseudonym] == ("parents", "4\n5")  # answered twice: both, in time order
    (other,) = [p for p in by_person if p != pseudonym]
    assert by_person[other] == ("vcs", 2)
    assert people.freeze_panes == "C2" and people.auto_filter.ref == "A1:C3"


def test_csv_bom_is_an_option_for_excel(sqlite_url, tmp_path):
    plain = tmp_path / "plain.csv"
    excel = tmp_path / "excel.csv"
    assert cli("export", "--out", str(plain), db=sqlite_url).returncode == 0
    assert cli("export", "--bom", "--out", str(excel), db=sqlite_url).returncode == 0
    assert plain.read_bytes().startswith(b"response_id,")
    assert excel.read_bytes() == b"\xef\xbb\xbf" + plain.read_bytes()
    wrong = cli("export", "--format", "jsonl", "--bom", db=sqlite_url)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
