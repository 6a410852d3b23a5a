"""Shared fixtures: a migrated database per test (SQLite, and PostgreSQL when configured),
a manual clock, the example settings, and a dispatcher wired to them."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.clock import ManualClock
from bot.config import Settings, load_settings
from bot.dispatcher import Dispatcher
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "config" / "campaign.yaml"
SHARED = ROOT.parent / "shared"
POSTGRES_URL = os.environ.get("LISTENING_TEST_POSTGRES_URL")


@pytest.fixture(autouse=True)
def _no_real_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly on any connection that is not to this machine (tests are hermetic)."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in ("localhost", "::1") or host.startswith("/")
        ):
            pytest.fail(f"Network access disallowed in this test: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating every time would be slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_ready() -> Iterator[str]:
    """A private, migrated PostgreSQL database for this test session (skip when none is set).

    Each session creates its own database so parallel runs on one server never collide.
    """
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need LISTENING_TEST_POSTGRES_URL (e.g. set by .ci/run)")
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"lbtest_{uuid.uuid4().hex[:12]}"
    base = make_url(POSTGRES_URL)

    async def admin(statement: str) -> None:
        engine = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_postgres(url: str) -> None:
    from sqlalchemy import text

    from storage.models import Base

    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database: every storage-touching test runs on both back ends."""
    if request.param == "sqlite":
        target = tmp_path / "test.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_ready")
    asyncio.run(_truncate_postgres(url))
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite database only (for CLI subprocess tests)."""
    target = tmp_path / "test.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))


def example_data() -> dict[str, Any]:
    """The example campaign as a dict, for tests that tweak it.

    ``${NAME}`` references are resolved against an empty environment (as ``load_settings`` would
    with nothing set), so the dict validates as it is and no test depends on this machine's env.
    """
    from bot.config import _blank_to_none, expand_env

    raw = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    data: dict[str, Any] = _blank_to_none(expand_env(raw, {}))
    return data


def write_config(tmp_path: Path, data: dict[str, Any], name: str = "campaign.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def settings() -> Settings:
    """The example config with no platform tokens (the environment must not leak in)."""
    return load_settings(EXAMPLE_CONFIG, environ={})


@pytest.fixture
async def sessionmaker(db_url: str) -> AsyncIterator[Any]:
    engine = make_engine(db_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def dispatcher(settings: Settings, sessionmaker: Any, clock: ManualClock) -> Dispatcher:
    return Dispatcher(settings, sessionmaker, clock)


def unique_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def shared_data() -> Iterator[Path]:
    path = SHARED / "data" / "nhs_fft_phase2_dev"
    if not (path / "responses.csv").exists():
        pytest.skip(f"the shared development data is not at {path}")
    yield path


# -- the fault suite's summary line ---------------------------------------------------------------
# The fault runs count what they found in ``tests.faults.harness.TALLY``. Under pytest-xdist the
# runs happen in a worker, so the worker hands its tally to the controller, which prints it.


def _fault_tally() -> Any:
    harness = sys.modules.get("tests.faults.harness")
    return None if harness is None else harness.TALLY


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    tally = _fault_tally()
    if workeroutput is not None and tally is not None and tally.runs:
        workeroutput["fault_tally"] = asdict(tally)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    found = getattr(node, "workeroutput", {}).get("fault_tally")
    if not found:
        return
    from tests.faults.harness import TALLY

    for item in fields(TALLY):
        value = found.get(item.name)
        if isinstance(value, list):
            getattr(TALLY, item.name).extend(value)
        elif isinstance(value, int):
            setattr(TALLY, item.name, getattr(TALLY, item.name) + value)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    tally = _fault_tally()
    if tally is None or tally.runs == 0 or hasattr(config, "workerinput"):
        return
    terminalreporter.section("fault injection")
    for note in tally.notes:
        terminalreporter.write_line(note)
    terminalreporter.write_line(tally.summary())
