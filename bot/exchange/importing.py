"""Load offline comments (workshop notes, paper forms) from CSV: the whole file or nothing.

Every row is read and checked before anything is written (:func:`plan_import`); then one
transaction stores the responses together with an import batch (:func:`store_import`), so an
import can be listed (``listening-bot imports``) and undone whole (``import --undo BATCH``).
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import io
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Group
from bot.errors import ImportRefused
from bot.exchange.csv_layout import Layout, decode, find_layout
from bot.exchange.import_dates import DateOrder
from storage.records import ImportBatchRef, NewResponse

__all__ = [
    "BATCH_ALPHABET",
    "ImportPlan",
    "decode",
    "group_resolver",
    "new_batch_id",
    "os_user",
    "plan_import",
    "store_import",
]

MAX_FIELD = 1_000_000
BATCH_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""No 0/O, 1/I/L: a batch id read off a screen is typed back right."""


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What a file will add, checked in full before anything is written."""

    responses: list[NewResponse]
    encoding: str
    skipped: list[str]
    fingerprint: str
    delimiter: str = ","
    columns: str = ""
    """What was read from which column, e.g. ``comments from 'Comment' (semicolon-separated)``."""


def group_resolver(groups: list[Group]) -> dict[str, str]:
    """Every way a file may name a group (its id or label, in any case) → the group id."""
    names: dict[str, str] = {}
    for group in groups:
        names.setdefault(" ".join(group.label.split()).casefold(), group.id)
    for group in groups:  # an id wins over another group's identical label
        names[group.id.casefold()] = group.id
    return names


def _group_hint(groups: list[Group]) -> str:
    return ", ".join(
        group.id if group.label.casefold() == group.id.casefold() else f"{group.id} ({group.label})"
        for group in groups
    )


def plan_import(
    path: Path,
    *,
    campaign_id: str,
    groups: list[Group],
    default_group: str | None,
    source: str,
    tz: ZoneInfo,
    now: datetime,
    skip_invalid: bool = False,
    text_column: str | None = None,
    dates: DateOrder | None = None,
    question: tuple[str, str] | None = None,
) -> ImportPlan:
    """Read and check every row; raise :class:`ImportRefused` naming the first bad rows.

    Args:
        groups: the campaign's groups; a row may name one by id or label, in any case.
        skip_invalid: skip rows with an unknown group or bad date (each named) instead of
            refusing the file.
        text_column: the header of the comments column when it is not one of the usual names.
        dates: how slashed dates are read (day or month first); default day first.
        question: ``(flow id, step id)`` the comments answer, so theme analysis puts them under
            that question; None stores them as ``import``/source.
    """
    dates = dates or DateOrder(dayfirst=True)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportRefused(f"{path} cannot be read: {exc.strerror or exc}.") from None
    text, encoding = decode(data, path)
    fingerprint = hashlib.sha256(data).hexdigest()[:16]
    layout = find_layout(text, path, text_column)
    resolve = group_resolver(groups)
    responses: list[NewResponse] = []
    problems: list[str] = []
    blank = 0
    for number, cells in _rows(layout, path):
        if len(cells) > len(layout.header) and any(c.strip() for c in cells[len(layout.header) :]):
            problems.append(
                f"row {number} has more cells than the header has columns "
                "(a cell with the delimiter in it must be quoted)"
            )
            continue
        body = _cell(cells, layout.text)
        if not body.strip():
            blank += 1
            continue
        named = " ".join(_cell(cells, layout.group).split())
        group = resolve.get(named.casefold()) if named else default_group
        if not group:
            if named:
                problems.append(
                    f"row {number} has an unknown group {named!r} "
                    f"(this campaign's groups: {_group_hint(groups)})"
                )
            else:
                problems.append(f"row {number} has no group (add a group column or --group)")
            continue
        answered_at = now
        stamp = _cell(cells, layout.date).strip()
        if stamp:
            try:
                answered_at = dates.parse(stamp, tz)
            except ValueError:
                problems.append(
                    f"row {number} has a date {stamp!r} that cannot be read; "
                    f"accepted forms: {dates.accepted_forms()}"
                )
                continue
        responses.append(
            NewResponse(
                campaign_id=campaign_id,
                flow_id=question[0] if question else "import",
                step_id=question[1] if question else source,
                group_id=group,
                channel="import",
                kind="open",
                answer=body,
                answered_at=answered_at,
                source=source,
                source_msg_id=f"import:{fingerprint}:{number}",
            )
        )
    if problems and not skip_invalid:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ImportRefused(
            f"Nothing was imported: {'; '.join(problems[:3])}{more}. "
            "Fix the file, or pass --skip-invalid to import the other rows."
        )
    skipped = problems + ([f"{blank} blank row(s)"] if blank else [])
    if not responses:
        raise ImportRefused(f"{path} has no comments to import.")
    return ImportPlan(
        responses, encoding, skipped, fingerprint, layout.delimiter, layout.describe()
    )


def _rows(layout: Layout, path: Path) -> list[tuple[int, list[str]]]:
    """Data rows with the number a spreadsheet shows them at (the header is row 1)."""
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(io.StringIO(layout.body, newline=""), delimiter=layout.delimiter)
    rows: list[tuple[int, list[str]]] = []
    try:
        next(reader, None)
        for number, cells in enumerate(reader, start=2):
            if cells:
                rows.append((number, cells))
    except csv.Error as exc:
        raise ImportRefused(f"{path} is not a readable CSV file: {exc}.") from None
    return rows


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


def new_batch_id() -> str:
    """``B-`` and six characters that cannot be misread (``B-7KQ3XM``)."""
    return "B-" + "".join(secrets.choice(BATCH_ALPHABET) for _ in range(6))


def os_user() -> str:
    """The operating-system account running the import (who to ask about it later)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


async def store_import(
    session: AsyncSession,
    plan: ImportPlan,
    *,
    campaign_id: str,
    file_name: str,
    source: str,
    imported_by: str,
    now: datetime,
) -> ImportBatchRef:
    """Store a checked plan as one new batch, in the caller's transaction.

    Raises:
        ImportRefused: this file was imported before (and not undone); nothing is added.
    """
    from storage.models import Response
    from storage.repositories import ImportBatchRepo, ResponseRepo

    earlier = await session.scalar(
        select(Response.import_batch_id)
        .where(Response.source_msg_id.like(f"import:{plan.fingerprint}:%"))
        .limit(1)
    )
    if earlier is not None or await session.scalar(
        select(Response.id).where(Response.source_msg_id == plan.responses[0].source_msg_id)
    ):
        batch = f" as batch {earlier}" if earlier else ""
        undo = f" (`import --undo {earlier}` removes it)" if earlier else ""
        raise ImportRefused(f"{file_name} was already imported{batch}; nothing was added{undo}.")
    batches = ImportBatchRepo(session)
    batch_id = new_batch_id()
    while await batches.exists(batch_id):
        batch_id = new_batch_id()
    batch = ImportBatchRef(
        id=batch_id,
        campaign_id=campaign_id,
        file_name=file_name[:255],
        source=source[:128],
        fingerprint=plan.fingerprint,
        rows=len(plan.responses),
        imported_by=imported_by[:128],
        imported_at=now,
    )
    await batches.add(batch)
    await ResponseRepo(session).add_many(
        replace(response, import_batch_id=batch_id) for response in plan.responses
    )
    return batch
