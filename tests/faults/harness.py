"""What every fault run shares: the bot process, killing it, a database outage, the tally.

The suite drives the real ``listening-bot run`` process; these helpers start it, SIGKILL it at
once from inside a double's request handler (so the platform has taken a message and the bot
never hears back), restart it after a seeded pause, and make the database unavailable for a few
seconds. Every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.processes import launch_bot

SCALE = max(1, int(os.environ.get("LISTENING_FAULT_SCALE", "1") or 1))
"""``LISTENING_FAULT_SCALE=10`` runs ten times as many seeded runs (by hand, not in CI)."""


@dataclass(slots=True)
class Tally:
    """What all fault runs found, for the summary line and the checks."""

    runs: int = 0
    kills: int = 0
    faults: int = 0
    outages: int = 0
    answers_lost: int = 0
    answers_twice: int = 0
    prompts_unsent: int = 0
    replies_unsent: int = 0
    prompts_twice: int = 0
    replies_twice: int = 0
    uncertain: int = 0
    log_leaks: int = 0
    unclean_exits: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def duplicated(self) -> int:
        return self.answers_twice + self.prompts_twice + self.replies_twice

    @property
    def unsent(self) -> int:
        return self.prompts_unsent + self.replies_unsent

    def summary(self) -> str:
        return (
            f"faults: runs={self.runs} kills={self.kills} faults={self.faults} "
            f"lost={self.answers_lost} duplicated={self.duplicated} unsent={self.unsent} "
            f"uncertain={self.uncertain}"
        )

    def note(self, text: str) -> None:
        self.notes.append(text)


TALLY = Tally()
"""One tally per pytest session; ``conftest.pytest_terminal_summary`` prints it."""


async def until(check: Callable[[], bool], what: str, timeout: float) -> bool:
    """Poll ``check`` every 50 ms until it holds or ``timeout`` passes; returns whether it held."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


class _Outages:
    """When the database was last unavailable (a process exiting then is told apart)."""

    active = 0
    ended = 0.0

    @classmethod
    def recent(cls) -> bool:
        return cls.active > 0 or time.monotonic() - cls.ended < 10


class BotUnderTest:
    """``listening-bot run --verbose`` as a child process that can be killed at any instant.

    ``kill_now`` is synchronous so a double's request handler can call it between taking a
    message and answering; the bot is then started again after a seeded pause. Like a service
    manager, it also restarts (after a second) a bot that exits on its own, and records that in
    ``crashes`` with whether the database had just been unavailable.
    """

    def __init__(self, config: Path, log: Path, env: Mapping[str, str], rng: random.Random):
        self.config, self.log, self.env, self.rng = config, log, dict(env), rng
        self.proc: asyncio.subprocess.Process | None = None
        self.kills = 0
        self.exits: list[int] = []
        self.crashes: list[tuple[int, bool]] = []
        self._expected = False
        self._restarting: asyncio.Task[None] | None = None
        self._watchers: set[asyncio.Task[None]] = set()
        self._kill_points: list[str] = []
        self.kill_times: list[float] = []
        """``time.monotonic()`` of each SIGKILL (the doubles stamp their calls the same way)."""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and not self.restarting

    @property
    def restarting(self) -> bool:
        return self._restarting is not None and not self._restarting.done()

    async def start(self) -> None:
        self.proc = await launch_bot(self.config, self.log, self.env)
        self._expected = False
        watcher = asyncio.get_running_loop().create_task(self._watch(self.proc))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if proc is not self.proc or self._expected:
            return
        self.crashes.append((code, _Outages.recent()))
        self._expected = True  # this restart is ours
        self._restarting = asyncio.get_running_loop().create_task(self._restart())

    def kill_now(self, why: str) -> bool:
        """SIGKILL at once (no await in between) and schedule a restart; False if not running."""
        if not self.alive:
            return False
        assert self.proc is not None
        self._expected = True
        os.kill(self.proc.pid, signal.SIGKILL)
        self.kill_times.append(time.monotonic())
        self.kills += 1
        self._kill_points.append(why)
        self._restarting = asyncio.get_running_loop().create_task(self._restart())
        return True

    async def _restart(self) -> None:
        assert self.proc is not None
        await self.proc.wait()
        await asyncio.sleep(self.rng.uniform(0.2, 1.5))
        await self.start()

    async def restart(self) -> None:
        """SIGTERM, wait, start again (an organiser restarting after editing the config)."""
        await self.settle()

        async def again() -> None:
            self.exits.append(await self._stop())
            await self.start()

        self._restarting = asyncio.get_running_loop().create_task(again())
        await self._restarting

    async def settle(self) -> None:
        """Wait for a pending restart (bounded by the restart's own pause and start)."""
        if self._restarting is not None:
            await asyncio.wait_for(self._restarting, 30)

    async def ensure_running(self) -> None:
        """Wait for any restart under way, then make sure the bot is up."""
        await self.settle()
        await asyncio.sleep(0)
        await self.settle()
        if self.proc is not None and self.proc.returncode is not None:
            await self.start()

    async def terminate(self) -> int:
        """SIGTERM and wait (at most 40 s, then SIGKILL); returns the exit code."""
        await self.settle()
        return await self._stop()

    async def _stop(self) -> int:
        assert self.proc is not None
        self._expected = True
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 40)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
                return -9
        return self.proc.returncode or 0

    @property
    def kill_points(self) -> list[str]:
        return list(self._kill_points)


async def database_outage(db_url: str, seconds: float) -> None:
    """Make the database unavailable for ``seconds``.

    SQLite: another connection holds an exclusive lock (every reader and writer waits).
    PostgreSQL: every other backend of the database is terminated, again and again.
    """
    if db_url.startswith("sqlite"):
        path = db_url.split("///", 1)[1]

        _Outages.active += 1
        conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        # in a thread: taking the lock waits for the bot's write in progress
        taking = asyncio.ensure_future(asyncio.to_thread(conn.execute, "BEGIN EXCLUSIVE"))
        try:
            await asyncio.shield(taking)
            await asyncio.sleep(seconds)
        finally:
            with contextlib.suppress(Exception):
                await taking  # never close the connection under the thread's feet
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()
            _Outages.active -= 1
            _Outages.ended = time.monotonic()
        return
    import asyncpg

    plain = re.sub(r"^postgresql\+\w+://", "postgresql://", db_url)
    conn = await asyncpg.connect(plain)
    _Outages.active += 1
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            await asyncio.sleep(0.5)
    finally:
        _Outages.active -= 1
        _Outages.ended = time.monotonic()
        await conn.close()


def leaks(log_text: str, secrets: Iterable[str]) -> list[str]:
    """Log lines that contain any of ``secrets`` (ids matched as whole numbers, words whole)."""
    patterns = []
    for secret in {s for s in secrets if s}:
        if secret.isdigit():
            patterns.append(rf"(?<!\d){re.escape(secret)}(?!\d)")
        else:
            patterns.append(rf"(?<!\w){re.escape(secret)}(?!\w)")
    if not patterns:
        return []
    found = re.compile("|".join(patterns), re.IGNORECASE)
    return [line for line in log_text.splitlines() if found.search(line)]


FIRST_NAMES = (
    "Marigold Thaddeus Ottoline Barnaby Clementine Ignatius Perpetua Lysander Wilhelmina "
    "Cornelius Araminta Ebenezer Philippa Leopold Seraphina Bartholomew Rosalind Peregrine "
    "Evangeline Octavius Millicent Horatio Gwendolyn Fitzwilliam"
).split()
LAST_NAMES = (
    "Quenby Fairweather Ashdown Thistlewood Pennyworth Blackmoor Wintergreen Hollingsworth "
    "Applegarth Merriweather Cloudesley Ravensdale Oakenshaw Featherstone Greenhalgh Nettleford"
).split()
_SYLLABLES = "ka ve lo mi zu ra pe to bi su no fa gri dex mo vu".split()
PHRASES = (
    "the bus to the centre is too slow on weekdays",
    "the stay and play group helped my son settle",
    "nobody told us the sessions had moved",
    "we need evening times for working parents",
    "the volunteers know the families really well",
    "funding runs out every March and staff leave",
    "a single phone number would make things easier",
    "my health visitor pointed me to the toy library",
)


def nonce(rng: random.Random) -> str:
    """A made-up word no log line would contain by chance (marks one participant's text)."""
    return "".join(rng.choice(_SYLLABLES) for _ in range(4)).capitalize()


async def gather_bounded(aws: Iterable[Awaitable[Any]], timeout: float) -> list[Any]:
    """``gather`` with a deadline; whatever is still running then is cancelled."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return [t.result() for t in done if not t.cancelled() and t.exception() is None]
