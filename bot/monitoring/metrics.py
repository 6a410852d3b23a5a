"""Prometheus metrics: process counters, and figures read from the database at each scrape.

Two kinds, on purpose:

- *Process counters* (messages in, 429s, send retries) count what this worker did since it
  started; Prometheus sums them across workers and copes with restarts (``rate()``).
- *Database figures* (answers stored, prompts sent, uncertain sends, queue depth, the lag of the
  oldest due prompt) are read from the shared database when scraped, so every worker reports the
  same truth and a restarted worker loses nothing. They are gauges for that reason.

The metrics live in their own :class:`CollectorRegistry` (not the library's global one), so a test
or a second app in one process never sees another's figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import OutboxRow, Response

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES_IN = Counter(
    "listening_messages_in",
    "Messages people sent that this worker received, by platform.",
    ["platform"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "listening_rate_limited",
    "HTTP 429 answers this worker received from a platform, by platform.",
    ["platform"],
    registry=REGISTRY,
)
SEND_RETRIES = Counter(
    "listening_send_retries",
    "Sends this worker tried again after a platform fault, by platform.",
    ["platform"],
    registry=REGISTRY,
)
ANSWERS_STORED = Gauge(
    "listening_answers_stored", "Answers held in the database.", registry=REGISTRY
)
OUTBOX_ROWS = Gauge(
    "listening_outbox_sends",
    "Scheduled sends in the database, by status (sent, uncertain, pending, failed, ...).",
    ["status"],
    registry=REGISTRY,
)
UNCERTAIN_SENDS = Gauge(
    "listening_uncertain_sends",
    "Scheduled sends a platform may or may not have delivered (not sent again).",
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "listening_outbox_queue_depth",
    "Scheduled sends due now or earlier that have not gone out yet.",
    registry=REGISTRY,
)
OLDEST_DUE_LAG = Gauge(
    "listening_outbox_oldest_due_lag_seconds",
    "How long the oldest due, unsent scheduled send has waited (0 when none waits).",
    registry=REGISTRY,
)
DATABASE_UP = Gauge(
    "listening_database_up", "1 when the last scrape could read the database.", registry=REGISTRY
)

_WAITING = ("pending", "sending")


@dataclass(frozen=True, slots=True)
class DatabaseFigures:
    """What the database says at one moment; see the module docstring for why gauges."""

    answers: int
    outbox_by_status: dict[str, int]
    queue_depth: int
    oldest_due_lag_seconds: float


async def read_figures(session: AsyncSession, now: datetime) -> DatabaseFigures:
    """Counts only: no row's content is read."""
    answers = await session.scalar(select(func.count()).select_from(Response)) or 0
    by_status = {
        status: count
        for status, count in (
            await session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))
        ).all()
    }
    due = select(func.count(), func.min(OutboxRow.due_at)).where(
        OutboxRow.status.in_(_WAITING), OutboxRow.due_at <= now
    )
    depth, oldest = (await session.execute(due)).one()
    lag = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:  # SQLite hands back naive UTC in aggregates
            from datetime import UTC

            oldest = oldest.replace(tzinfo=UTC)
        lag = max(0.0, (now - oldest).total_seconds())
    return DatabaseFigures(int(answers), by_status, int(depth or 0), lag)


async def render_metrics(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> bytes:
    """The exposition text: database figures refreshed now, then every metric."""
    try:
        async with sessionmaker() as session:
            figures = await read_figures(session, now)
    except Exception:  # the scrape must still answer; readiness says why
        DATABASE_UP.set(0)
    else:
        DATABASE_UP.set(1)
        ANSWERS_STORED.set(figures.answers)
        for status in set(figures.outbox_by_status) | {"sent", "uncertain", "pending", "failed"}:
            OUTBOX_ROWS.labels(status=status).set(figures.outbox_by_status.get(status, 0))
        UNCERTAIN_SENDS.set(figures.outbox_by_status.get("uncertain", 0))
        QUEUE_DEPTH.set(figures.queue_depth)
        OLDEST_DUE_LAG.set(figures.oldest_due_lag_seconds)
    return generate_latest(REGISTRY)
