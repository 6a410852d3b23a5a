"""Fan-out benchmark: one scheduled prompt to N participants through an adapter limited to R msg/s.

    .venv/bin/python bench/scheduler_bench.py --n 10000          # the full run (~6 min at 30/s)
    .venv/bin/python bench/scheduler_bench.py --n 900            # quicker; extrapolated to 10,000
    .venv/bin/python bench/scheduler_bench.py --n 10000 --rate 0 # no rate limit: our own overhead
    LISTENING_BENCH_DB=postgresql://postgres@127.0.0.1:5432/listening_bench ...  # PostgreSQL
    (a PostgreSQL benchmark database is emptied first; its name must contain 'bench')

Participants are enrolled straight through the repositories (joining by chat would only measure
the dispatcher). The scheduler then runs one real tick: plan the outbox rows, claim them in
batches, let the engine start the flow for each person, send through the limited double, and
mark each row sent. The double is a token bucket in the process (no HTTP), so the figure is the
scheduler's own pipeline against a platform that accepts at most R messages per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.clock import SystemClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.dispatcher import Dispatcher  # noqa: E402
from bot.events import Address, Outbound  # noqa: E402
from bot.flows.state import ConversationState  # noqa: E402
from bot.scheduling.plan import SchedulerOptions  # noqa: E402
from bot.scheduling.scheduler import CampaignScheduler  # noqa: E402
from storage.db import make_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.repositories import EnrolmentRepo, ParticipantRepo, StateRepo  # noqa: E402


class LimitedAdapter:
    """A platform double that accepts at most ``rate`` messages per second (0: unlimited)."""

    name = "telegram"

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate if rate else 0.0
        self._next = 0.0
        self.sent = 0
        self.first: float | None = None
        self.last = 0.0

    async def start(self, sink: Any) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, to: Address, message: Outbound) -> str | None:
        now = time.perf_counter()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
        self.sent += 1
        self.first = self.first if self.first is not None else time.perf_counter()
        self.last = time.perf_counter()
        return str(self.sent)


def settings_for(url: str, due: datetime) -> Settings:
    return Settings.model_validate(
        {
            "database_url": url,
            "timezone": "UTC",
            "groups": [{"id": "parents", "label": "Parents and carers"}],
            "flows": [
                {
                    "id": "pulse",
                    "kind": "structured",
                    "steps": [{"id": "q", "type": "scale", "ask": "How positive do you feel?"}],
                }
            ],
            "campaigns": [
                {
                    "id": "bench",
                    "title": "Benchmark",
                    "groups": ["parents"],
                    "channels": ["telegram"],
                    "consent": "Do you agree?",
                    "schedule": [{"flow": "pulse", "at": due.strftime("%Y-%m-%d %H:%M:%S")}],
                }
            ],
        }
    )


async def enrol(sessionmaker: Any, n: int, joined: datetime) -> None:
    state = ConversationState(stage="enrolled", campaign_id="bench", group_id="parents").to_json()
    async with sessionmaker.begin() as session:
        people, enrolments, states = (
            ParticipantRepo(session),
            EnrolmentRepo(session),
            StateRepo(session),
        )
        for i in range(n):
            ref = await people.create("telegram", f"u{i}", f"u{i}", joined)
            await enrolments.enrol(ref.id, "bench", "parents", "telegram", None, joined)
            await states.save(ref.id, state, joined)


async def reset(engine: Any, url: str) -> None:
    """Empty a benchmark database first; refuse any database not named for benchmarks."""
    from sqlalchemy import text

    from storage.models import Base

    if "bench" not in (engine.url.database or ""):
        raise SystemExit(f"refusing to empty {url}: use a database whose name contains 'bench'")
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="participants (default 10000)")
    parser.add_argument("--rate", type=float, default=30.0, help="msg/s the double accepts")
    defaults = SchedulerOptions()
    parser.add_argument("--batch", type=int, default=defaults.batch)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    args = parser.parse_args()

    url = os.environ.get("LISTENING_BENCH_DB")
    tmp = None
    if not url:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/bench.db"
    upgrade(url)
    engine = make_engine(url)
    if tmp is None:
        await reset(engine, url)
    sessionmaker = make_sessionmaker(engine)
    clock = SystemClock()
    due = clock.now().replace(microsecond=0)
    settings = settings_for(url, due)
    t0 = time.perf_counter()
    await enrol(sessionmaker, args.n, due - timedelta(days=1))
    setup = time.perf_counter() - t0

    adapter = LimitedAdapter(args.rate)
    options = SchedulerOptions(batch=args.batch, concurrency=args.concurrency)
    scheduler = CampaignScheduler(
        settings,
        sessionmaker,
        Dispatcher(settings, sessionmaker, clock),
        {"telegram": adapter},
        clock,
        options,
    )
    t0 = time.perf_counter()
    report = await scheduler.tick()
    elapsed = time.perf_counter() - t0
    await engine.dispose()
    if tmp is not None:
        tmp.cleanup()

    backend = url.split(":", 1)[0]
    print(f"backend: {backend}; participants: {args.n}; enrolment setup {setup:.1f} s")
    print(f"planned {report.planned}; sent {report.delivery.sent}; adapter got {adapter.sent}")
    print(f"fan-out took {elapsed:.1f} s ({adapter.sent / elapsed:.1f} msg/s)")
    if args.rate:
        floor = args.n / args.rate
        print(
            f"theoretical minimum at {args.rate:g} msg/s: {floor:.1f} s; "
            f"overhead {elapsed - floor:+.1f} s ({elapsed / floor:.1%} of the minimum)"
        )
        full = elapsed * 10_000 / args.n
        print(
            f"extrapolated to 10,000 participants: {full:.0f} s "
            f"(minimum {10_000 / args.rate:.0f} s)"
        )
    else:
        print(
            f"pipeline cost: {elapsed / max(adapter.sent, 1) * 1000:.2f} ms per send; "
            f"ceiling {adapter.sent / elapsed:.0f} msg/s"
        )


if __name__ == "__main__":
    asyncio.run(main())
