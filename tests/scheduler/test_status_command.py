"""``listening-bot status`` shows participation and the outbox per campaign and group."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from typer.testing import CliRunner

from bot.cli import app
from bot.events import Address, DeliveryOutcome, Outbound
from bot.scheduling.outbox import on_delivery
from storage.db import make_engine, make_sessionmaker
from tests.conftest import example_data, write_config
from tests.scheduler.conftest import Harness, campaign_settings


async def _populate(url: str, clock) -> None:
    engine = make_engine(url)
    try:
        settings = campaign_settings([{"flow": "pulse", "at": "2026-03-03 10:00"}])
        h = Harness(settings, make_sessionmaker(engine), clock)
        ann = await h.join("ann", "1")  # parents
        await h.join("bob", "1")
        cat = await h.join("cat", "2")  # vcs
        await cat.say("/stop")
        await cat.say("yes")
        dan = await h.join("dan", "1")  # parents; their send may or may not have arrived
        clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
        h.adapter.fail = 1
        send = h.adapter.send

        async def times_out_for_dan(to: Address, message: Outbound) -> str | None:
            if to.chat_ref != dan.user_ref:
                return await send(to, message)
            outcome = DeliveryOutcome(to, None, "uncertain", 1, None, "timed out", clock.now())
            await on_delivery(outcome)
            return None

        h.adapter.send = times_out_for_dan  # type: ignore[method-assign]
        await h.tick()
        await ann.say("5")
    finally:
        await engine.dispose()


def test_status_counts_per_group(sqlite_url, clock, tmp_path):
    asyncio.run(_populate(sqlite_url, clock))
    data = example_data()
    data["database_url"] = sqlite_url
    data["telegram"], data["slack"] = {}, {}
    config = write_config(tmp_path, data)
    result = CliRunner().invoke(app, ["status", "--config", str(config)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    from tests.scheduler.test_end_to_end import _status_cells

    cells = _status_cells(result.output, "leeds-2026")
    # enrolled, prompted, answered, finished, opted out, pending, sent, failed, missed, uncertain
    # "prompted" is the engine's view: it includes the send still being retried (pending).
    assert cells["parents"] == ["3", "3", "1", "1", "0", "1", "1", "0", "0", "1"]
    assert cells["vcs"] == ["0", "0", "0", "0", "1", "0", "0", "0", "0", "0"]
    assert cells["all"] == ["3", "3", "1", "1", "1", "1", "1", "0", "0", "1"]
