"""What keeping rehearsals apart costs the dispatcher: the live view against no filter at all.

    .venv/bin/python bench/rehearsal_view_bench.py [--people 150] [--rounds 3]

Every session reads through a view (storage.rehearsal): the live view adds "participant is not
a rehearsal participant" to every ORM SELECT that touches participants' rows. This drives the
real dispatcher through joining, a scale answer, an open comment and /done for N people on
SQLite, once with the live
view (ours) and once with the ``all`` view (no filter: the bare peer), alternating, and prints
messages per CPU-second for each and their ratio. CPU time, not wall time, because the machine
is shared and SQLite's fsyncs make wall time noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.clock import ManualClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.dispatcher import Dispatcher  # noqa: E402
from bot.events import Address, Inbound  # noqa: E402
from storage.db import make_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.rehearsal import DataView  # noqa: E402

SCRIPT = ("/start", "yes", "2", "4", "Some comment about the centre", "/done")


async def messages_per_cpu_second(view: DataView, people: int) -> float:
    url = f"sqlite:///{tempfile.mkdtemp(prefix='rehearsal-bench-')}/bench.db"
    upgrade(url)
    engine = make_engine(url)
    settings = load_settings(ROOT / "config" / "campaign.yaml", environ={})
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    dispatcher = Dispatcher(settings, make_sessionmaker(engine, view), clock, group_commit=False)
    n = 0
    started = time.process_time()
    for person in range(people):
        user = f"user-{person}"
        for text in SCRIPT:
            n += 1
            await dispatcher.handle(
                Inbound(
                    platform="console",
                    user_ref=user,
                    address=Address("console", user),
                    received_at=clock.now(),
                    text=text,
                    platform_msg_id=f"console:{n}",
                )
            )
    elapsed = time.process_time() - started
    await engine.dispose()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ours, bare = [], []
    for _ in range(args.rounds):
        ours.append(asyncio.run(messages_per_cpu_second("live", args.people)))
        bare.append(asyncio.run(messages_per_cpu_second("all", args.people)))
    ours_median, bare_median = statistics.median(ours), statistics.median(bare)
    print(f"live view (ours):      {ours_median:7.0f} messages per CPU-second (median)")
    print(f"no filter (bare peer): {bare_median:7.0f} messages per CPU-second (median)")
    print(f"ratio ours/bare:       {ours_median / bare_median:7.2f}")


if __name__ == "__main__":
    main()
