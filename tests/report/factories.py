"""Rows and theme results built by hand for report tests (no database, no analysis library)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from bot.analysis import Theme, ThemeResult
from storage.records import EnrolmentRef, ResponseRow

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
_ids = itertools.count(1)


def row(
    participant: str,
    group: str,
    flow: str,
    step: str,
    kind: str,
    answer: str,
    *,
    days: float = 0,
    channel: str = "console",
    campaign: str = "leeds-2026",
) -> ResponseRow:
    return ResponseRow(
        f"R-{next(_ids):06d}",
        campaign,
        flow,
        step,
        group,
        participant,
        channel,
        kind,
        answer,
        T0 + timedelta(days=days),
    )


def pulse(participant: str, group: str, value: int, *, days: float = 0) -> ResponseRow:
    return row(participant, group, "pulse", "positive", "scale", str(value), days=days)


def comment(participant: str, group: str, text: str, *, days: float = 1) -> ResponseRow:
    return row(participant, group, "challenge-1", "opening", "open", text, days=days)


def imported(group: str, text: str) -> ResponseRow:
    return row("", group, "import", "workshop", "open", text, channel="import")


def enrolment(participant_id: int, group: str, *, stopped: bool = False) -> EnrolmentRef:
    stopped_at = T0 + timedelta(days=3) if stopped else None
    return EnrolmentRef(participant_id, "leeds-2026", group, "console", T0, stopped_at)


# The report reads these fields of bot.analysis's values; tests build them by hand.
FakeTheme = Theme


def FakeResult(  # noqa: N802 - stands where the value's constructor stood
    method: str, groups: tuple[str, ...], themes: tuple[Theme, ...]
) -> ThemeResult:
    return ThemeResult(method, groups, themes, ())
