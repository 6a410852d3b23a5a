"""Rehearsal data kept apart from live data, by one rule applied to every ORM statement.

A console rehearsal (``run --console``) marks the participants it creates with
``participants.rehearsal``. Every session belongs to one *view*:

- ``live`` (the default): rehearsal participants and every row that refers to them are invisible
  to every query;
- ``rehearsal``: only rehearsal participants and their rows are visible, and new participants are
  created as rehearsal participants (what the console adapter uses);
- ``all``: no filter (``--include-rehearsal``, ``reset --rehearsal``, erasure).

The rule is added by a ``do_orm_execute`` hook as ``with_loader_criteria`` on :class:`Participant`
and on every mapped class with a ``participant_id`` column, found from the registry when the
statement runs. So a repository or command written later is filtered without knowing about
rehearsals, and a new table that refers to participants is filtered as soon as it is mapped. Rows
with no participant (imported comments) belong to live data.

The guarantee holds for ORM SELECTs (``select(Model...)``, ``select(Model.column)``, joins and
subqueries included); a statement built from a ``Table`` or ``text()`` is not filtered, so reads
are written against mapped classes only. UPDATE and DELETE are not filtered (see
:func:`_apply_view`).
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import ColumnElement, event, false, or_, select, true
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from storage.models import Base, Participant

DataView = Literal["live", "rehearsal", "all"]
VIEW_KEY = "data_view"
_participants = Participant.__table__
# Its own alias, so the check never correlates with a query that also reads participants.
_checked = _participants.alias("rehearsal_check")


def data_view(session: Any) -> DataView:
    """The view a session (sync or async) reads through; ``live`` unless it was made otherwise."""
    view = session.info.get(VIEW_KEY, "live")
    return view if view in ("live", "rehearsal", "all") else "live"


def creates_rehearsal_participants(session: Any) -> bool:
    """New participants of a ``rehearsal`` session are rehearsal participants."""
    return data_view(session) == "rehearsal"


def _rehearsal_ids() -> Any:
    # A Core alias, not the mapped class, so this subquery is not filtered again; the index on
    # ``rehearsal`` makes it a lookup of the few rehearsal participants, done once per statement.
    return select(_checked.c.id).where(_checked.c.rehearsal == true()).scalar_subquery()


def _referring_classes() -> list[type[Any]]:
    return [
        mapper.class_
        for mapper in Base.registry.mappers
        if mapper.class_ is not Participant and "participant_id" in mapper.columns
    ]


def _live_participant(cls: Any) -> ColumnElement[bool]:
    return cls.rehearsal == false()


def _rehearsal_only_participant(cls: Any) -> ColumnElement[bool]:
    return cls.rehearsal == true()


def _refers_to_live(cls: Any) -> ColumnElement[bool]:
    # Rows with no participant (imports, anonymised answers) are live data.
    return or_(cls.participant_id.is_(None), cls.participant_id.not_in(_rehearsal_ids()))


def _refers_to_rehearsal(cls: Any) -> ColumnElement[bool]:
    return cls.participant_id.in_(_rehearsal_ids())


_built: dict[tuple[str, int], tuple[Any, ...]] = {}


def _criteria(view: DataView) -> tuple[Any, ...]:
    """The options for ``view``, built once per view and set of mapped classes (building them
    analyses the criteria functions, which is too slow to repeat for every statement)."""
    key = (view, len(Base.registry.mappers))
    if key not in _built:
        _built[key] = tuple(_build_criteria(view))
    return _built[key]


def _build_criteria(view: DataView) -> list[Any]:
    own, referring = (
        (_rehearsal_only_participant, _refers_to_rehearsal)
        if view == "rehearsal"
        else (_live_participant, _refers_to_live)
    )
    options: list[Any] = [with_loader_criteria(Participant, own, include_aliases=True)]
    options += [
        with_loader_criteria(model, referring, include_aliases=True)
        for model in _referring_classes()
    ]
    return options


@event.listens_for(Session, "do_orm_execute")
def _apply_view(state: ORMExecuteState) -> None:
    """Add the session's view to every ORM SELECT it runs.

    Only reads: resolving the criteria for an ORM UPDATE or DELETE costs about a quarter of the
    dispatcher's CPU per message, and writes act on rows their caller has already read (by id)
    through this same filter, or go through :func:`clear_rehearsals`.
    """
    if not state.is_select:
        return
    if state.is_column_load or state.is_relationship_load:
        return
    view = data_view(state.session)
    if view == "all":
        return
    state.statement = state.statement.options(*_criteria(view))


async def rehearsal_participants(session: Any) -> int:
    """How many rehearsal participants there are (whatever the session's view)."""
    from sqlalchemy import func

    return int(
        await session.scalar(
            select(func.count())
            .select_from(_participants)
            .where(_participants.c.rehearsal == true())
        )
        or 0
    )


async def clear_rehearsals(session: Any) -> tuple[int, int]:
    """Delete every rehearsal participant and every row that refers to one.

    Works in any view (it goes through the Core tables); returns (participants, answers) removed.
    Live data is untouched: only rows whose participant is a rehearsal participant match.
    """
    from sqlalchemy import delete, func

    from storage.models import Response

    ids = select(_participants.c.id).where(_participants.c.rehearsal == true())
    responses = Response.__table__
    answers = int(
        await session.scalar(
            select(func.count()).select_from(responses).where(responses.c.participant_id.in_(ids))
        )
        or 0
    )
    for model in _referring_classes():
        table = model.__table__
        await session.execute(delete(table).where(table.c.participant_id.in_(ids)))
    removed = await session.execute(
        delete(_participants).where(_participants.c.rehearsal == true())
    )
    return int(removed.rowcount or 0), answers
