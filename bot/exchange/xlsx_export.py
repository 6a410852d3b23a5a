"""The xlsx export: typed cells, the question text, a frozen header, filters and two sheets.

Sheet ``responses`` has the contract's ten columns with their names and meaning (``answered_at``
stays ISO 8601 UTC text), then ``answered_local (<zone>)`` as a real date-time and ``question``.
xlsx has no time zones, so the local date-time is written naive and the header names the zone.
Sheet ``by person`` has one row per participant (pseudonym, group) and one column per question.

Safety (CONTRACT.md): every piece of free text is a text cell (data type ``s``), never a formula,
whatever it starts with; control characters that xlsx cannot hold become U+FFFD. Only scale
answers (whole numbers) and date-times are typed cells. A CRLF inside an answer reads back as
LF, Excel's own line break in a cell (XML normalises line ends); csv and jsonl keep it exactly.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Flow
from storage.records import ResponseRow

# openpyxl refuses these control characters in cells; they are replaced, never allowed to crash.
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_INTEGER = re.compile(r"^[+-]?\d{1,9}$")
DATE_FORMAT = "yyyy-mm-dd hh:mm"
MIN_WIDTH, MAX_WIDTH = 8, 60
_WIDTH_SAMPLE = 500
RowValues = Callable[[ResponseRow], Mapping[str, str]]
"""The contract's columns of one row as text (``exporting.row_values``)."""


class RightToLeftText(str):
    """Text written right to left (Arabic, Urdu): its cell's reading order says so."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class XlsxContext:
    """What the sheet needs beyond the rows: the zone for local times and the questions."""

    timezone: ZoneInfo
    flows: Mapping[str, Flow] = field(default_factory=dict)


def question_text(flows: Mapping[str, Flow], flow_id: str, step_id: str) -> str:
    """The words the person was asked, or a note on what kind of answer this was."""
    if flow_id == "import":
        return f"(imported comment: {step_id})"
    if step_id == "unprompted":
        return "(sent when no question was open)"
    flow = flows.get(flow_id)
    if flow is None:
        return ""
    if flow.kind == "open":
        if step_id in ("opening", "import"):  # comments imported as answers to the opening
            return (flow.opening or "").strip()
        if step_id.startswith("probe-") and step_id[6:].isdigit():
            index = int(step_id[6:]) - 1
            return flow.probes[index].strip() if 0 <= index < len(flow.probes) else ""
        if step_id == "more":
            return "(more, after the last follow-up question)"
        return ""
    for step in flow.steps:
        if step.id == step_id:
            return step.ask.strip()
    return ""


def _question_order(
    flows: Mapping[str, Flow], rows: Sequence[ResponseRow]
) -> list[tuple[str, str]]:
    """Questions in the order the config asks them, then any others as they first appear."""
    known: list[tuple[str, str]] = []
    for flow in flows.values():
        if flow.kind == "open":
            known.append((flow.id, "opening"))
            known += [(flow.id, f"probe-{n}") for n in range(1, len(flow.probes) + 1)]
            known.append((flow.id, "more"))
        else:
            known += [(flow.id, step.id) for step in flow.steps]
    seen = {(row.flow, row.step) for row in rows}
    order = list(dict.fromkeys(key for key in known if key in seen))
    for row in rows:
        order.append((row.flow, row.step))
    return list(dict.fromkeys(order))


def _text(value: str) -> str:
    return _ILLEGAL_XLSX.sub("\ufffd", value)


def _typed_answer(row: ResponseRow, answer: str) -> int | str:
    """A scale answer as a number; everything else stays text."""
    if row.kind == "scale" and _INTEGER.match(answer.strip()):
        return int(answer.strip())
    return answer


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None, microsecond=0)


@cache
def _styles() -> tuple[Any, Any, Any]:
    """The header's bold font, the wrap for long text and right-to-left text (openpyxl loads
    only when needed)."""
    from openpyxl.styles import Alignment, Font

    return (
        Font(bold=True),
        Alignment(wrap_text=True, vertical="top"),
        Alignment(wrap_text=True, vertical="top", horizontal="right", readingOrder=2),
    )


class _Sheet:
    """A write-only sheet whose cells keep the types we chose, with widths set from content."""

    def __init__(self, workbook: Any, title: str, header: list[str]) -> None:
        self.sheet = workbook.create_sheet(title)
        self.header = header
        self.rows: list[list[Any]] = []

    def add(self, values: list[Any]) -> None:
        self.rows.append(values)

    def write(self, *, frozen: str) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.utils import get_column_letter

        sheet = self.sheet
        for index, width in enumerate(self._widths(), start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
        sheet.freeze_panes = frozen
        last = f"{get_column_letter(len(self.header))}{len(self.rows) + 1}"
        sheet.auto_filter.ref = f"A1:{last}"
        header = [self._cell(WriteOnlyCell, name) for name in self.header]
        for cell in header:
            cell.font = _styles()[0]
        sheet.append(header)
        for values in self.rows:
            sheet.append([self._cell(WriteOnlyCell, value) for value in values])

    def _cell(self, factory: Any, value: Any) -> Any:
        if isinstance(value, str):
            cell = factory(self.sheet, value=_text(value))
            cell.data_type = "s"  # set after the value: openpyxl would read "=..." as a formula
            if isinstance(value, RightToLeftText):
                cell.alignment = _styles()[2]
            elif "\n" in value or len(value) > MAX_WIDTH:
                cell.alignment = _styles()[1]  # long answers wrap inside their column, not across
            return cell
        cell = factory(self.sheet, value=value)
        if isinstance(value, datetime):
            cell.number_format = DATE_FORMAT
        return cell

    def _widths(self) -> list[float]:
        widths = [float(len(name)) for name in self.header]
        for values in self.rows[:_WIDTH_SAMPLE]:
            for index, value in enumerate(values):
                size = 16 if isinstance(value, datetime) else _longest_line(value)
                widths[index] = max(widths[index], float(size))
        return [min(max(w + 2, MIN_WIDTH), MAX_WIDTH) for w in widths]


def _longest_line(value: Any) -> int:
    text = "" if value is None else str(value)
    return max((len(line) for line in text.splitlines()), default=0)


def xlsx_bytes(
    rows: Iterable[ResponseRow],
    values: RowValues,
    columns: Sequence[str],
    context: XlsxContext,
) -> tuple[bytes, int]:
    """The workbook for ``rows``; ``values(row)`` gives the contract columns as strings."""
    from openpyxl import Workbook

    rows = list(rows)
    zone = context.timezone.key
    workbook = Workbook(write_only=True)
    responses = _Sheet(workbook, "responses", [*columns, f"answered_local ({zone})", "question"])
    for row in rows:
        cells: dict[str, Any] = dict(values(row))
        cells["answer"] = _typed_answer(row, cells["answer"])
        responses.add(
            [
                *(cells[name] for name in columns),
                _local(row.answered_at, context.timezone),
                question_text(context.flows, row.flow, row.step),
            ]
        )
    responses.write(frozen="A2")
    _by_person_sheet(workbook, rows, values, context).write(frozen="C2")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), len(rows)


def _by_person_sheet(
    workbook: Any, rows: Sequence[ResponseRow], values: RowValues, context: XlsxContext
) -> _Sheet:
    """One row per person, one column per question; several answers to one question (a
    repeated flow, an open conversation) are joined in time order, one per line."""
    people = [row for row in rows if row.participant]
    order = _question_order(context.flows, people)
    headers = []
    for flow_id, step_id in order:
        asked = question_text(context.flows, flow_id, step_id)
        headers.append(f"{flow_id}/{step_id}: {asked}" if asked else f"{flow_id}/{step_id}")
    sheet = _Sheet(workbook, "by person", ["participant", "group", *headers])
    column = {key: index for index, key in enumerate(order)}
    answers: dict[tuple[str, str], list[list[Any]]] = {}
    for row in people:  # rows come in time order
        person = answers.setdefault((row.participant, row.group), [[] for _ in order])
        answer = dict(values(row))["answer"]
        person[column[(row.flow, row.step)]].append(_typed_answer(row, answer))
    for (participant, group), cells in answers.items():
        sheet.add([participant, group, *(_join(given) for given in cells)])
    return sheet


def _join(given: list[Any]) -> Any:
    if not given:
        return None
    if len(given) == 1:
        return given[0]
    return "\n".join(str(value) for value in given)
