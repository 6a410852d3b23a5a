"""Write responses as csv, jsonl or xlsx with the contract's columns, safe in a spreadsheet."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC
from typing import IO, TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.exchange.xlsx_export import RightToLeftText, XlsxContext
from bot.exchange.xlsx_export import xlsx_bytes as write_xlsx
from storage.records import ResponseRow

if TYPE_CHECKING:
    from bot.redaction import Redactor

COLUMNS = (
    "response_id",
    "campaign",
    "flow",
    "step",
    "group",
    "participant",
    "channel",
    "kind",
    "answer",
    "answered_at",
)
FORMATS = ("csv", "jsonl", "xlsx")
_FORMULA_START = ("=", "+", "-", "@")
# A Slack mention carries another person's platform id (<@U0123ABC>); exports show no such id.
_SLACK_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


@dataclass(frozen=True, slots=True)
class ExtraColumns:
    """Columns after the contract's ten (e.g. ``language``): their names and each row's values."""

    names: tuple[str, ...]
    values: Callable[[ResponseRow], tuple[str, ...]]
    # True for a row whose answer reads right to left (xlsx then sets the cell's reading order).
    right_to_left: Callable[[ResponseRow], bool] = lambda row: False


def _values(row: ResponseRow, extra: ExtraColumns | None) -> dict[str, str]:
    values = row_values(row)
    if extra is not None:
        values.update(zip(extra.names, extra.values(row), strict=True))
    return values


def _columns(extra: ExtraColumns | None) -> list[str]:
    return [*COLUMNS, *(extra.names if extra is not None else ())]


def readable_answer(row: ResponseRow) -> str:
    """The answer as exports and reports show it: Slack mentions become ``@someone``."""
    if row.channel == "slack":
        return _SLACK_MENTION.sub("@someone", row.answer)
    return row.answer


def redacted(
    rows: Iterable[ResponseRow], redactor: Redactor, names: Mapping[str, tuple[str, ...]]
) -> list[ResponseRow]:
    """The rows with identifying details masked in ``answer`` (``export --redact``).

    Each answer is masked with its author's own platform names as well as the patterns; the
    database keeps every answer as sent, only what is written out changes.
    """
    return [
        replace(
            row,
            answer=redactor.mask(row.answer, names.get(row.participant, ())),
            translation=row.translation
            and redactor.mask(row.translation, names.get(row.participant, ())),
        )
        for row in rows
    ]


def row_values(row: ResponseRow) -> dict[str, str]:
    """The contract's columns for one response; ``answered_at`` in ISO 8601 UTC."""
    return {
        "response_id": row.response_id,
        "campaign": row.campaign,
        "flow": row.flow,
        "step": row.step,
        "group": row.group,
        "participant": row.participant,
        "channel": row.channel,
        "kind": row.kind,
        "answer": readable_answer(row),
        "answered_at": row.answered_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


def looks_like_export(head: bytes, fmt: str) -> bool:
    """Whether a file's first bytes are an earlier export in ``fmt`` (safe to replace)."""
    text = head.removeprefix(b"\xef\xbb\xbf")
    if fmt == "csv":
        return text.startswith(b"response_id,")
    if fmt == "jsonl":
        return text.startswith(b'{"response_id"')
    return head.startswith(b"PK\x03\x04")  # xlsx is a zip; the caller checks the suffix


def neutralise_formula(value: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula (OWASP CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def write_csv(
    rows: Iterable[ResponseRow],
    out: IO[str],
    extra: ExtraColumns | None = None,
    *,
    bom: bool = False,
) -> int:
    """CSV with CRLF line ends; ``bom`` starts it with U+FEFF so Excel reads it as UTF-8."""
    if bom:
        out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=_columns(extra), lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for row in rows:
        values = _values(row, extra)
        writer.writerow({k: neutralise_formula(v) for k, v in values.items()})
        count += 1
    return count


def write_jsonl(
    rows: Iterable[ResponseRow], out: IO[str], extra: ExtraColumns | None = None
) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(_values(row, extra), ensure_ascii=False) + "\n")
        count += 1
    return count


def xlsx_bytes(
    rows: Iterable[ResponseRow],
    context: XlsxContext | None = None,
    extra: ExtraColumns | None = None,
) -> tuple[bytes, int]:
    """The xlsx export (see :mod:`bot.exchange.xlsx_export`): typed cells, free text as text.

    With ``extra`` (the language columns), they follow the contract's ten, and an answer in a
    right-to-left language is a cell whose reading order is right to left.
    """

    def values(row: ResponseRow) -> dict[str, str]:
        found = _values(row, extra)
        if extra is not None and extra.right_to_left(row):
            found["answer"] = RightToLeftText(found["answer"])
        return found

    return write_xlsx(rows, values, _columns(extra), context or XlsxContext(ZoneInfo("UTC")))
