"""Human translations of answers (``import FILE --translation-of``): English beside the original.

Theme analysis reads English only, so answers written in Polish, Urdu or Arabic are set aside.
An organiser who has them translated (by a colleague, an interpreter, a translator) imports the
English here: one row per answer, its ``response_id`` (the export's first column) and the English
``translation`` (or ``english``/``text``). The translation is stored beside the answer, which is
never changed; analysis then reads it, while exports and the report keep showing what was said.

The file is read and checked whole before anything is written: a row naming no answer of the
campaign, a closed question, or one answer twice with two texts refuses the file, in one sentence.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ImportRefused
from bot.exchange.csv_layout import (
    decode,
    delimiter_candidates,
    normalise_name,
    read_header,
    strip_separator_hint,
)

__all__ = [
    "ID_COLUMNS",
    "TEXT_COLUMNS",
    "TranslationPlan",
    "plan_translations",
    "store_translations",
]

ID_COLUMNS = ("response_id", "id")
"""Header names of the answer's id (``response_id`` is the export's first column)."""
TEXT_COLUMNS = ("translation", "english", "translated", "text")
"""Header names of the English translation; never ``answer``, which holds the original."""
FREE_TEXT_KINDS = ("text", "open", "voice")
MAX_FIELD = 1_000_000


@dataclass(frozen=True, slots=True)
class TranslationPlan:
    """The translations a file gives, by response id, read and checked for shape."""

    translations: dict[str, str]
    rows: dict[str, int]
    """The spreadsheet row each response id was read from (to name it in an error)."""
    blank: int
    columns: str


def normalise_id(value: str) -> str:
    """A response id as a spreadsheet may show it (`` r-1A2B ``) in its stored form (``R-1a2b``)."""
    text = value.strip()
    if text[:2].lower() == "r-":
        return "R-" + text[2:].strip().lower()
    return text


def _cells(path: Path, data: bytes) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    """Header, data rows with their spreadsheet numbers, and where they were read from."""
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_cells(path, data)
    text, _ = decode(data, path)
    text, hinted = strip_separator_hint(text)
    candidates = [hinted] if hinted else delimiter_candidates(text)
    delimiter = candidates[0]
    for candidate in candidates:  # the delimiter whose header has the id column
        header = read_header(text, candidate, path)
        if _column(header, ID_COLUMNS) is not None:
            delimiter = candidate
            break
    else:
        header = read_header(text, delimiter, path)
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        next(reader, None)
        rows = [(n, cells) for n, cells in enumerate(reader, start=2) if cells]
    except csv.Error as exc:
        raise ImportRefused(f"{path} is not a readable CSV file: {exc}.") from None
    return header, rows, "CSV"


def _xlsx_cells(path: Path, data: bytes) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    """The first sheet of a workbook (an ``export --format xlsx`` with a column added)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file; all mean "cannot read"
        raise ImportRefused(f"{path} is not a workbook that can be read.") from None
    try:
        sheet = workbook.worksheets[0]
        values = [
            ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
        ]
    finally:
        workbook.close()
    if not values:
        return [], [], f"sheet {sheet.title!r}"
    rows = [(n, cells) for n, cells in enumerate(values[1:], start=2) if any(cells)]
    return values[0], rows, f"sheet {sheet.title!r}"


def _column(header: list[str], accepted: tuple[str, ...]) -> int | None:
    names = [normalise_name(h) for h in header]
    for wanted in accepted:
        if wanted in names:
            return names.index(wanted)
    return None


def plan_translations(path: Path, *, text_column: str | None = None) -> TranslationPlan:
    """Read every row of a translations file; raise :class:`ImportRefused` on a bad one.

    Args:
        text_column: the header of the translation column when it is not one of the usual names.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportRefused(f"{path} cannot be read: {exc.strerror or exc}.") from None
    header, rows, where = _cells(path, data)
    columns = ", ".join(repr(h.strip()) for h in header if h.strip()) or "none"
    id_at = _column(header, ID_COLUMNS)
    if id_at is None:
        raise ImportRefused(
            f"{path} has no 'response_id' column (its columns are {columns}); "
            "start from `listening-bot export`, whose first column it is."
        )
    wanted = (normalise_name(text_column),) if text_column else TEXT_COLUMNS
    text_at = _column(header, wanted)
    if text_at is None:
        named = repr(text_column) if text_column else "'translation' (or 'english', 'text')"
        raise ImportRefused(
            f"{path} has no {named} column for the English translations; its columns are {columns}."
        )
    translations: dict[str, str] = {}
    seen: dict[str, int] = {}
    problems: list[str] = []
    blank = 0
    for number, cells in rows:
        ident = normalise_id(cells[id_at] if id_at < len(cells) else "")
        text = (cells[text_at] if text_at < len(cells) else "").strip()
        if not text:
            blank += 1
            continue
        if not ident:
            problems.append(f"row {number} has a translation but no response_id")
        elif ident in translations and translations[ident] != text:
            problems.append(
                f"row {number} translates {ident} again, differently from row {seen[ident]}"
            )
        else:
            translations[ident], seen[ident] = text, seen.get(ident, number)
    if problems:
        _refuse(problems)
    if not translations:
        raise ImportRefused(f"{path} has no translations to import (every translation is blank).")
    described = (
        f"response ids from {header[id_at].strip()!r}, "
        f"translations from {header[text_at].strip()!r} ({where})"
    )
    return TranslationPlan(translations, seen, blank, described)


def _refuse(problems: list[str]) -> None:
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    raise ImportRefused(f"Nothing was imported: {'; '.join(problems[:3])}{more}.")


async def store_translations(
    session: AsyncSession,
    plan: TranslationPlan,
    *,
    campaign_id: str,
    now: datetime,
    rehearsal_included: bool = False,
) -> tuple[int, int]:
    """Check every row against the stored answers, then store all translations or none.

    Returns:
        (translations stored, of which replaced an earlier translation).

    Args:
        rehearsal_included: the session sees console rehearsals' answers too; when it does not,
            a refusal says how to reach them.

    Raises:
        ImportRefused: a row names no answer of the campaign, or an answer that is not free text.
    """
    from storage.repositories import ResponseRepo

    repo = ResponseRepo(session)
    targets = await repo.translation_targets(campaign_id, list(plan.translations))
    problems: list[str] = []
    for ident in plan.translations:
        found = targets.get(ident)
        row = plan.rows[ident]
        if found is None:
            rehearsal = (
                "" if rehearsal_included else " (rehearsal answers need --include-rehearsal)"
            )
            problems.append(
                f"row {row} names {ident}, which is no answer of {campaign_id}{rehearsal}"
            )
        elif found[0] not in FREE_TEXT_KINDS:
            problems.append(
                f"row {row} names {ident}, a {found[0]} answer: only free-text answers are "
                "analysed for themes"
            )
    if problems:
        _refuse(problems)
    replaced = sum(
        1
        for ident, text in plan.translations.items()
        if targets[ident][2] is not None and targets[ident][2] != text
    )
    stored = await repo.translate(plan.translations, now)
    return stored, replaced
