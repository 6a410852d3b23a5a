# ruff: noqa: E402  (imports follow the sys.path and PTB_TIMEDELTA set-up below)
"""Benchmark of the Telegram adapter against the local Bot API double (not a timed test).

    .venv/bin/python bench/telegram_bench.py            # full run (~2 minutes)
    .venv/bin/python bench/telegram_bench.py --quick    # smaller run (~20 s)
    .venv/bin/python bench/telegram_bench.py --database-url postgresql://postgres@127.0.0.1/test

Measures, on the same double and machine:
1. inbound: answers stored per second through the adapter's full path (getUpdates, mapping,
   dispatcher: engine, state, answer and inbound log in one transaction, offset confirmed after
   commit) against a bare python-telegram-bot Application storing one row per message;
2. outbound: a fan-out of prompts to many chats with the double enforcing 30 msg/s overall and
   1 msg/s per chat, plus scripted 429 and 500 answers: delivered per second as a share of the
   limit, lost, duplicated, and whether any request came sooner than a 429's retry_after;
3. reply latency: from an update being available to the next prompt reaching the double.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "true")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml
from rich.console import Console
from rich.table import Table
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Text,
    func,
    insert,
    select,
)
from sqlalchemy import (
    Table as SqlTable,
)
from telegram.ext import Application, MessageHandler, filters

from bot.adapters.telegram import TelegramAdapter
from bot.clock import SystemClock
from bot.config import load_settings
from bot.dispatcher import Dispatcher
from bot.events import Address, Inbound, Outbound
from storage.db import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.models import Response
from storage.repositories import InviteRepo
from tests.doubles.telegram_api import Fault, TelegramApiDouble

console = Console()
CAMPAIGN = "leeds-2026"


def bench_settings(tmp: Path, tg: TelegramApiDouble, db_url: str) -> Any:
    """The example campaign; people go straight into challenge 1 (every message is an answer)."""
    data = yaml.safe_load((ROOT / "config" / "campaign.yaml").read_text(encoding="utf-8"))
    data["database_url"] = db_url
    data["telegram"] = {"token": tg.token, "base_url": tg.base_url}
    data.pop("slack", None)
    data["quiet_hours"] = None
    data["campaigns"][0]["schedule"] = [{"flow": "challenge-1", "after": "0m"}]
    data["flows"][1]["idle"] = "1d"
    data["flows"][1]["probes"] = []
    path = tmp / f"bench-{tg.port}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_settings(path, environ={})


async def fresh_db(url: str | None, tmp: Path, name: str) -> str:
    if url:
        from sqlalchemy import text

        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
        await asyncio.to_thread(upgrade, url)
        return url
    db = f"sqlite:///{tmp / name}"
    await asyncio.to_thread(upgrade, db)
    return db


# -- 1. inbound ---------------------------------------------------------------------------------
async def inbound_adapter(tmp: Path, db_arg: str | None, users: int, per_user: int) -> dict:
    db_url = await fresh_db(db_arg, tmp, "adapter.db")
    engine = make_engine(db_url)
    sessionmaker = make_sessionmaker(engine)
    clock = SystemClock()
    async with TelegramApiDouble() as tg:
        settings = bench_settings(tmp, tg, db_url)
        dispatcher = Dispatcher(settings, sessionmaker, clock)
        async with sessionmaker.begin() as session:
            code = (await InviteRepo(session).create(CAMPAIGN, "parents", clock.now())).code
        for uid in range(1, users + 1):  # enrol everyone first (not measured)
            for n, text in enumerate((f"/start {code}", "yes")):
                await dispatcher.handle(
                    Inbound(
                        "telegram",
                        str(uid),
                        Address("telegram", str(uid)),
                        clock.now(),
                        text=text,
                        platform_msg_id=f"setup:{uid}:{n}",
                    )
                )
        total = users * per_user
        done = asyncio.Event()
        count = 0

        async def counting(inbound: Inbound) -> list[Outbound]:
            nonlocal count
            replies = await dispatcher.handle(inbound)
            count += 1
            if count == total:
                done.set()
            return replies

        # As `run` wires it: the dispatcher is also the ledger of delivered replies.
        adapter = TelegramAdapter(
            settings.telegram, clock, poll_timeout=1, drain_timeout=0.1, ledger=dispatcher
        )
        await adapter.start(counting)
        started = time.perf_counter()
        for n in range(per_user):
            for uid in range(1, users + 1):
                tg.text(uid, f"Answer {n} from {uid}: the groups know the families.")
        await done.wait()
        elapsed = time.perf_counter() - started
        await tg.wait_for(lambda: tg.confirmed >= max(u["update_id"] for u in tg.updates), 30)
        await adapter.stop()
    async with sessionmaker() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Response).where(Response.flow_id == "challenge-1")
        )
    await engine.dispose()
    return {"messages": total, "stored": stored, "seconds": elapsed, "rate": stored / elapsed}


async def inbound_bare(tmp: Path, db_arg: str | None, users: int, per_user: int) -> dict:
    db_url = await fresh_db(db_arg, tmp, "bare.db")
    engine = make_engine(db_url)
    meta = MetaData()
    table = SqlTable(
        "bare_messages",
        meta,
        Column("id", Integer, primary_key=True),
        Column("chat_id", String(32)),
        Column("message_id", Integer),
        Column("text", Text),
    )
    async with engine.begin() as conn:
        await conn.run_sync(meta.create_all)
    sessionmaker = make_sessionmaker(engine)
    total = users * per_user
    done = asyncio.Event()
    count = 0
    async with TelegramApiDouble() as tg:

        async def store(update: Any, context: Any) -> None:
            nonlocal count
            message = update.effective_message
            async with sessionmaker.begin() as session:
                await session.execute(
                    insert(table).values(
                        chat_id=str(message.chat_id),
                        message_id=message.message_id,
                        text=message.text,
                    )
                )
            count += 1
            if count == total:
                done.set()

        app = Application.builder().token(tg.token).base_url(tg.base_url).build()
        app.add_handler(MessageHandler(filters.TEXT, store))
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)
            started = time.perf_counter()
            for n in range(per_user):
                for uid in range(1, users + 1):
                    tg.text(uid, f"Answer {n} from {uid}: the groups know the families.")
            await done.wait()
            elapsed = time.perf_counter() - started
            await app.updater.stop()
            await app.stop()
    async with sessionmaker() as session:
        stored = await session.scalar(select(func.count()).select_from(table))
    await engine.dispose()
    return {"messages": total, "stored": stored, "seconds": elapsed, "rate": stored / elapsed}


# -- 2. outbound --------------------------------------------------------------------------------
async def outbound(tmp: Path, prompts: int, chats: int) -> dict:
    clock = SystemClock()
    async with TelegramApiDouble() as tg:
        tg.limit(overall=30, per_chat=1, overall_burst=3, chat_burst=1)
        settings = bench_settings(tmp, tg, "sqlite:///unused.db")
        adapter = TelegramAdapter(settings.telegram, clock, poll_timeout=1)

        async def nothing(inbound: Inbound) -> list[Outbound]:
            return []

        await adapter.start(nothing)
        # misbehaviour along the way: a 500 on every 200th send, and one flood wait of 2 s
        schedule = {n: Fault(500) for n in range(150, prompts, 200)}
        schedule[prompts // 3] = Fault(429, retry_after=2)

        async def injector() -> None:
            seen = 0
            while seen < prompts:
                await tg.wait_for(lambda seen=seen: len(tg.calls_to("sendMessage")) != seen, 60)
                seen = len(tg.calls_to("sendMessage"))
                for n in [k for k in schedule if k <= seen]:
                    tg.fail("sendMessage", schedule.pop(n))

        inject = asyncio.create_task(injector())
        failures = 0

        async def one(i: int) -> None:
            nonlocal failures
            chat = 100_000 + i % chats
            try:
                await adapter.send(Address("telegram", str(chat)), Outbound(f"Prompt #{i}"))
            except Exception:
                failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(prompts)))
        elapsed = time.perf_counter() - started
        inject.cancel()
        await adapter.stop()
    texts = Counter(s.text for s in tg.sent)
    statuses = Counter(c.status for c in tg.calls if c.method == "sendMessage")
    per_chat_gaps = []
    by_chat: dict[int, list[float]] = {}
    for s in tg.sent:
        by_chat.setdefault(s.chat_id, []).append(s.at)
    for times in by_chat.values():
        per_chat_gaps += [b - a for a, b in zip(times, times[1:], strict=False)]
    return {
        "prompts": prompts,
        "chats": chats,
        "seconds": elapsed,
        "rate": len(texts) / elapsed,
        "share": len(texts) / elapsed / 30.0,
        "lost": prompts - len(texts),
        "duplicated": sum(n - 1 for n in texts.values() if n > 1),
        "failed": failures,
        "500": statuses.get(500, 0),
        "429": statuses.get(429, 0),
        "429 from limits": tg.rate_limited,
        "early after 429": len(tg.early_after_flood()),
        "min gap in a chat": min(per_chat_gaps) if per_chat_gaps else float("nan"),
    }


# -- 3. latency ---------------------------------------------------------------------------------
async def latency(tmp: Path, db_arg: str | None, users: int, rounds: int) -> dict:
    db_url = await fresh_db(db_arg, tmp, "latency.db")
    engine = make_engine(db_url)
    sessionmaker = make_sessionmaker(engine)
    clock = SystemClock()
    samples: list[float] = []
    async with TelegramApiDouble() as tg:
        tg.limit(overall=30, per_chat=1, overall_burst=3, chat_burst=3)
        settings = bench_settings(tmp, tg, db_url)
        dispatcher = Dispatcher(settings, sessionmaker, clock)
        async with sessionmaker.begin() as session:
            code = (await InviteRepo(session).create(CAMPAIGN, "parents", clock.now())).code
        adapter = TelegramAdapter(settings.telegram, clock, poll_timeout=1, ledger=dispatcher)
        await adapter.start(dispatcher.handle)

        async def person(uid: int) -> None:
            before = len(tg.texts(uid))
            tg.text(uid, f"/start {code}")
            await tg.wait_for(lambda: len(tg.texts(uid)) >= before + 2, 30)
            consent = [s for s in tg.sent if s.chat_id == uid and s.reply_markup][-1]
            before = len(tg.texts(uid))
            tg.press(uid, consent, "v:yes")
            await tg.wait_for(lambda: any("Tell it" in t for t in tg.texts(uid)[before:]), 30)
            for n in range(rounds):
                await asyncio.sleep(1.2)  # people take a moment to type
                before = len(tg.texts(uid))
                t0 = time.monotonic()
                tg.text(uid, f"Thought {n} from {uid}")
                await tg.wait_for(lambda before=before: len(tg.texts(uid)) > before, 30)
                first = [s for s in tg.sent if s.chat_id == uid][before]
                samples.append(first.at - t0)

        await asyncio.gather(*(person(100 + u) for u in range(users)))
        await adapter.stop()
    await engine.dispose()
    samples.sort()
    return {
        "samples": len(samples),
        "p50_ms": 1000 * statistics.median(samples),
        "p99_ms": 1000 * samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        "max_ms": 1000 * samples[-1],
    }


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)
    quick = args.quick
    users, per_user = (50, 6) if quick else (200, 10)
    prompts, chats = (600, 100) if quick else (3000, 100)
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        console.print(f"[bold]Telegram adapter benchmark[/bold] ({'quick' if quick else 'full'})")
        console.print(
            f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
            f"database: {'PostgreSQL' if args.database_url else 'SQLite (file, WAL)'}"
        )
        bare = await inbound_bare(tmp, args.database_url, users, per_user)
        full = await inbound_adapter(tmp, args.database_url, users, per_user)
        table = Table(title=f"Inbound: {users} people x {per_user} messages, stored per second")
        for column in ("path", "messages", "stored", "seconds", "stored/s"):
            table.add_column(column, justify="right")
        for name, r in (("bare PTB Application (1 row)", bare), ("adapter full path", full)):
            table.add_row(
                name,
                str(r["messages"]),
                str(r["stored"]),
                f"{r['seconds']:.2f}",
                f"{r['rate']:.0f}",
            )
        console.print(table)
        console.print(f"ratio adapter / bare: [bold]{full['rate'] / bare['rate']:.2f}x[/bold]")

        out = await outbound(tmp, prompts, chats)
        table = Table(
            title=f"Outbound fan-out: {prompts} prompts to {chats} chats (30/s, 1/s/chat)"
        )
        table.add_column("measure")
        table.add_column("value", justify="right")
        for key, value in out.items():
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
        console.print(table)

        lat = await latency(tmp, args.database_url, 10 if quick else 20, 5 if quick else 10)
        table = Table(title="Reply latency (update in -> next prompt at the double)")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for key, value in lat.items():
            table.add_row(key, f"{value:.1f}" if isinstance(value, float) else str(value))
        console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run (~20 s)")
    parser.add_argument("--database-url", help="PostgreSQL URL (its public schema is reset!)")
    asyncio.run(main(parser.parse_args()))
