"""Where a person's data lives, found from the schema itself: subject access and erasure.

Every table in :data:`storage.models.Base.metadata` is one of:

- **the person's own**: it has a foreign key to ``participants.id`` (answers, enrolments,
  addresses, consent records, the outbox, the inbound log, ...). Their rows are the person's.
- **keyed by a platform address**: its table ``info`` names the columns that hold a platform id
  (``info={"personal_refs": ("platform", "user_ref")}``, e.g. quarantined updates that could not
  be tied to a participant). Rows whose platform and ref match one of the person's addresses are
  theirs.
- **not personal**: its table ``info`` says ``{"personal": False}`` (invite codes, consent texts,
  the audit log).

:func:`unclassified_tables` lists any table that is none of these, and a test fails on it, so a
table added later cannot be forgotten by subject access or erasure. Both walk the same list, so
what :func:`collect` shows is exactly what :func:`erase` removes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Table, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Base, Participant, PlatformAddress

PARTICIPANTS = Participant.__table__


@dataclass(frozen=True, slots=True)
class HeldData:
    """Everything held about one person: ``tables`` maps a table name to its rows (as dicts)."""

    pseudonym: str
    tables: dict[str, list[dict[str, Any]]]

    @property
    def row_count(self) -> int:
        return sum(len(rows) for rows in self.tables.values())


def _participant_columns(table: Table) -> list[Column[Any]]:
    return [
        column
        for column in table.columns
        for fk in column.foreign_keys
        if fk.column.table is PARTICIPANTS
    ]


def _address_refs(table: Table) -> tuple[str, ...] | None:
    refs = table.info.get("personal_refs")
    return tuple(refs) if refs else None


def unclassified_tables() -> list[str]:
    """Tables that neither point at a participant nor say how (or that they are not personal)."""
    return [
        table.name
        for table in Base.metadata.sorted_tables
        if table is not PARTICIPANTS
        and not _participant_columns(table)
        and _address_refs(table) is None
        and table.info.get("personal") is not False
    ]


def _personal_tables() -> Iterator[Table]:
    """The person's tables, children before parents (the order erasure needs)."""
    for table in reversed(Base.metadata.sorted_tables):
        if table is PARTICIPANTS:
            continue
        if _participant_columns(table) or _address_refs(table) is not None:
            yield table


async def _addresses(session: AsyncSession, participant_id: int) -> list[tuple[str, str]]:
    """The person's (platform, ref) pairs: user ids and chat ids both."""
    rows = await session.execute(
        select(PlatformAddress.platform, PlatformAddress.user_ref, PlatformAddress.chat_ref).where(
            PlatformAddress.participant_id == participant_id
        )
    )
    pairs: set[tuple[str, str]] = set()
    for platform, user_ref, chat_ref in rows.all():
        pairs.add((platform, user_ref))
        pairs.add((platform, chat_ref))
    return sorted(pairs)


def _where(table: Table, participant_id: int, addresses: list[tuple[str, str]]) -> Any:
    clauses = [column == participant_id for column in _participant_columns(table)]
    refs = _address_refs(table)
    if refs is not None and addresses:
        platform_col, *ref_cols = refs
        for platform, ref in addresses:
            clauses.append(
                and_(
                    table.c[platform_col] == platform,
                    or_(*(table.c[name] == ref for name in ref_cols)),
                )
            )
    return or_(*clauses) if clauses else None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def collect(session: AsyncSession, participant_id: int) -> HeldData:
    """Every row held about the person, table by table (tables with none are left out)."""
    pseudonym = await session.scalar(
        select(Participant.pseudonym).where(Participant.id == participant_id)
    )
    addresses = await _addresses(session, participant_id)
    tables: dict[str, list[dict[str, Any]]] = {}
    own = await session.execute(select(PARTICIPANTS).where(PARTICIPANTS.c.id == participant_id))
    tables[PARTICIPANTS.name] = [
        {k: _plain(v) for k, v in row._mapping.items()} for row in own.all()
    ]
    for table in sorted(_personal_tables(), key=lambda t: t.name):
        condition = _where(table, participant_id, addresses)
        if condition is None:
            continue
        rows = (await session.execute(select(table).where(condition))).all()
        if rows:
            tables[table.name] = [{k: _plain(v) for k, v in r._mapping.items()} for r in rows]
    return HeldData(str(pseudonym or ""), tables)


async def erase(session: AsyncSession, participant_id: int) -> dict[str, int]:
    """Delete every row :func:`collect` would show; returns rows deleted per table.

    Deletes explicitly rather than trusting ``ON DELETE CASCADE``: SQLite enforces foreign keys
    only when asked, and address-keyed tables have no foreign key at all.
    """
    addresses = await _addresses(session, participant_id)
    removed: dict[str, int] = {}
    for table in _personal_tables():
        condition = _where(table, participant_id, addresses)
        if condition is None:
            continue
        result = await session.execute(delete(table).where(condition))
        if result.rowcount:
            removed[table.name] = int(result.rowcount)
    result = await session.execute(delete(PARTICIPANTS).where(PARTICIPANTS.c.id == participant_id))
    if result.rowcount:
        removed[PARTICIPANTS.name] = int(result.rowcount)
    return removed


def normalise_reference(reference: str) -> str:
    """A reference as a person may type it (``p-1A2B...``, spaces around) in its stored form."""
    text = reference.strip()
    if text[:2].lower() == "p-":
        return "P-" + text[2:].strip().lower()
    return text
