"""``/healthz``, ``/readyz`` and ``/metrics`` served by :class:`MonitoringServer`, in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.clock import ManualClock
from bot.monitoring import MonitoringServer, Readiness
from storage.models import OutboxRow, Participant
from tests.ports import free_port

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as ``{(name, sorted labels): value}``."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
async def server(sessionmaker: Any) -> AsyncIterator[tuple[MonitoringServer, Readiness, str]]:
    readiness = Readiness()
    port = free_port()
    served = MonitoringServer(
        sessionmaker, ManualClock(NOW), readiness, listen="127.0.0.1", port=port
    )
    await served.start()
    try:
        yield served, readiness, f"http://127.0.0.1:{port}"
    finally:
        await served.stop()


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.text()


async def test_liveness_and_readiness(server: Any) -> None:
    _, readiness, base = server
    assert (await _get(f"{base}/healthz"))[0] == 200
    readiness.add("adapter:telegram", lambda: (True, "running"))
    status, body = await _get(f"{base}/readyz")
    assert status == 200 and '"status": "ready"' in body

    readiness.add("scheduler", lambda: (False, "not running"))
    status, body = await _get(f"{base}/readyz")
    assert status == 503
    assert '"scheduler": {"detail": "not running", "ready": false}' in body


async def test_readiness_fails_when_the_database_is_gone(tmp_path: Any) -> None:
    from storage.db import make_engine, make_sessionmaker

    # A server that refuses connections. (Not a missing SQLite file: aiosqlite leaves the thread
    # of a failed connect behind, which later reports into a closed event loop.)
    engine = make_engine("postgresql://postgres@127.0.0.1:1/gone")
    port = free_port()
    served = MonitoringServer(
        make_sessionmaker(engine), ManualClock(NOW), Readiness(), listen="127.0.0.1", port=port
    )
    await served.start()
    try:
        status, body = await _get(f"http://127.0.0.1:{port}/readyz")
        assert status == 503 and "database unreachable (" in body
        status, body = await _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and samples(body)[("listening_database_up", ())] == 0
    finally:
        await served.stop()
        await engine.dispose()


async def test_metrics_read_the_outbox_and_answers_from_the_database(
    server: Any, sessionmaker: Any
) -> None:
    _, _, base = server
    async with sessionmaker.begin() as session:
        person = Participant(pseudonym="P-metrics", created_at=NOW)
        session.add(person)
        await session.flush()
        for n, (status, due) in enumerate(
            [
                ("sent", NOW - timedelta(hours=1)),
                ("uncertain", NOW - timedelta(hours=1)),
                ("pending", NOW - timedelta(seconds=90)),  # due, waiting 90 s
                ("pending", NOW + timedelta(hours=1)),  # not due yet: not in the queue
            ]
        ):
            session.add(
                OutboxRow(
                    participant_id=person.id,
                    campaign_id="c",
                    schedule_key="k",
                    entry_key=f"k{n}",
                    flow_id="pulse",
                    occurrence="1",
                    kind="prompt",
                    platform="telegram",
                    nominal_at=due,
                    due_at=due,
                    next_attempt_at=due,
                    status=status,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    status, body = await _get(f"{base}/metrics")
    assert status == 200
    got = samples(body)
    assert got[("listening_outbox_sends", (("status", "sent"),))] == 1
    assert got[("listening_uncertain_sends", ())] == 1
    assert got[("listening_outbox_queue_depth", ())] == 1
    assert got[("listening_outbox_oldest_due_lag_seconds", ())] == 90
    assert got[("listening_answers_stored", ())] == 0
    assert got[("listening_database_up", ())] == 1
    assert "P-metrics" not in body
