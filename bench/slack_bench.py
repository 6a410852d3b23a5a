"""Slack adapter benchmark: inbound events stored per second, and outbound fan-out under 429s.

Run (not a timed test):

    .venv/bin/python bench/slack_bench.py [--events 2000] [--concurrency 32] [--posts 10]
                                          [--database-url postgresql://...]

Part 1 sends the same signed Events API thread replies over HTTP to (a) the listening-bot Slack
adapter (dispatcher, channel-prompt service, one transaction per reply) and (b) a bare slack-bolt
app that stores one row per event, both storing before they answer 200, on the same Web API double
and the same kind of database. It prints events stored per second, the ratio, and p50/p99 time to
the HTTP 200.

Part 2 fans prompts out to 20 channels against a double that accepts one chat.postMessage per
second per channel and answers 429 with Retry-After past it, through (a) the adapter's outbox and
(b) a plain slack_sdk client with its rate-limit retry handler. It prints delivered per second as a
share of the limit, lost and posted-twice counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.adapters.slack import SlackAdapter  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import Settings, load_settings  # noqa: E402
from bot.dispatcher import Dispatcher  # noqa: E402
from bot.events import Address, Outbound  # noqa: E402
from storage.db import make_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Response  # noqa: E402
from tests.doubles.slack_api import (  # noqa: E402
    SlackApiDouble,
    event_callback,
    message_event,
    signed_headers,
)

SECRET = "bench-secret"
CHANNEL = "C0VCSFORUM"
FANOUT_CHANNELS = [f"C0FAN{i:04d}" for i in range(20)]


def bench_settings(api_url: str, database_url: str) -> Settings:
    base = load_settings(ROOT / "config" / "campaign.yaml", environ={})
    data = base.model_dump(by_alias=True, exclude_none=True)
    data["database_url"] = database_url
    data["slack"] = {
        "bot_token": "xoxb-bench",
        "signing_secret": SECRET,
        "mode": "http",
        "api_url": api_url,
        "channels": {CHANNEL: "vcs", **{c: "vcs" for c in FANOUT_CHANNELS}},
    }
    return Settings.model_validate(data)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


async def fire(url: str, bodies: list[str], concurrency: int) -> tuple[float, list[float], int]:
    """POST every signed body with ``concurrency`` in flight; (seconds, latencies, non-200s)."""
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                body = queue.get_nowait()
                headers = signed_headers(SECRET, body)
                started = time.perf_counter()
                async with http.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        failures += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, failures


def reply_bodies(thread_ts: str, count: int, people: int) -> list[str]:
    return [
        json.dumps(
            event_callback(
                message_event(
                    f"UVCS{i % people:05d}",
                    CHANNEL,
                    f"Reply number {i}: more trust between centres and groups",
                    f"{1800000000 + i}.000001",
                    thread_ts=thread_ts,
                )
            )
        )
        for i in range(count)
    ]


async def run_ours(
    slack: SlackApiDouble, url: str, events: int, concurrency: int
) -> dict[str, Any]:
    settings = bench_settings(slack.api_url, url)
    engine = make_engine(url)
    clock = SystemClock()
    dispatcher = Dispatcher(settings, make_sessionmaker(engine), clock)
    adapter = SlackAdapter(settings.slack, clock, host="127.0.0.1", port=0, interval=0.0)
    await adapter.start(dispatcher.handle)
    try:
        campaign = settings.campaigns[0]
        entry = next(e.key for e in campaign.schedule if e.flow == "challenge-1")
        outcomes = await adapter.post_channel_prompts(campaign.id, entry, "challenge-1")
        thread = str(next(o for o in outcomes if o.address.chat_ref == CHANNEL).platform_msg_id)
        bodies = reply_bodies(thread, events, people=max(1, events // 4))
        endpoint = f"http://127.0.0.1:{adapter.port}{settings.slack.path}"
        seconds, latencies, failures = await fire(endpoint, bodies, concurrency)
        await adapter.drain()
        async with dispatcher.sessionmaker() as session:
            stored = int(await session.scalar(select(func.count()).select_from(Response)) or 0)
    finally:
        await adapter.stop()
        await engine.dispose()
    return {"seconds": seconds, "latencies": latencies, "failures": failures, "stored": stored}


async def run_bare(
    slack: SlackApiDouble, url: str, events: int, concurrency: int
) -> dict[str, Any]:
    """A bare slack-bolt app: verify, store one row per event, answer 200."""
    metadata = MetaData()
    table = Table(
        "bench_bare_events",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("channel", String(32)),
        Column("ts", String(32), unique=True),
        Column("user", String(32)),
        Column("text", Text),
    )
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    sessionmaker = make_sessionmaker(engine)
    client = AsyncWebClient(token="xoxb-bench", base_url=slack.api_url)
    app = AsyncApp(client=client, signing_secret=SECRET, process_before_response=True)

    @app.event("message")
    async def store(body: dict[str, Any]) -> None:
        event = body["event"]
        async with sessionmaker.begin() as session:
            await session.execute(
                table.insert().values(
                    channel=event["channel"], ts=event["ts"], user=event["user"], text=event["text"]
                )
            )

    async def handler(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    webapp = web.Application()
    webapp.router.add_post("/slack/events", handler)
    runner = web.AppRunner(webapp, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        bodies = reply_bodies("1799999999.000001", events, people=max(1, events // 4))
        seconds, latencies, failures = await fire(
            f"http://127.0.0.1:{port}/slack/events", bodies, concurrency
        )
        async with sessionmaker() as session:
            stored = int(await session.scalar(select(func.count()).select_from(table)) or 0)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
    finally:
        await runner.cleanup()
        await engine.dispose()
    return {"seconds": seconds, "latencies": latencies, "failures": failures, "stored": stored}


def fanout_figures(slack: SlackApiDouble, expected: dict[str, list[str]]) -> dict[str, Any]:
    accepted = slack.posts()
    texts = Counter(m["text"] for m in accepted)
    wanted = {t for texts_ in expected.values() for t in texts_}
    lost = len(wanted - set(texts))
    twice = sum(n - 1 for t, n in texts.items() if n > 1)
    accept_times = [c.at for c in slack.calls if c.method == "chat.postMessage"]
    # Time each accepted post occupies: span between first and last acceptance plus one slot.
    posts_per_channel = max(len(v) for v in expected.values())
    firsts, lasts = [], []
    for channel in expected:
        times = [
            c.at
            for c in slack.calls
            if c.method == "chat.postMessage" and c.args.get("channel") == channel
        ]
        firsts.append(min(times))
        lasts.append(max(times))
    span = max(lasts) - min(firsts) + 1.0
    rate = len(accepted) / span
    limit = len(expected) * 1.0
    return {
        "delivered": len(accepted),
        "per_second": rate,
        "share": rate / limit,
        "lost": lost,
        "twice": twice,
        "rejected_429": slack.rejected,
        "calls": len(accept_times),
        "posts_per_channel": posts_per_channel,
    }


async def fanout_ours(posts: int) -> dict[str, Any]:
    async with SlackApiDouble(post_interval=1.0) as slack:
        settings = bench_settings(slack.api_url, "sqlite://")
        adapter = SlackAdapter(settings.slack, SystemClock(), host="127.0.0.1", port=0)
        await adapter.start(_no_sink)
        expected = {c: [f"Prompt {i} for {c}" for i in range(posts)] for c in FANOUT_CHANNELS}
        try:
            await asyncio.gather(
                *(
                    adapter.send(Address("slack", c), Outbound(text))
                    for i in range(posts)
                    for c, texts in expected.items()
                    for text in [texts[i]]
                )
            )
        finally:
            await adapter.stop()
        return fanout_figures(slack, expected)


async def fanout_plain(posts: int) -> dict[str, Any]:
    async with SlackApiDouble(post_interval=1.0) as slack:
        client = AsyncWebClient(
            token="xoxb-bench",
            base_url=slack.api_url,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=100)],
        )
        expected = {c: [f"Prompt {i} for {c}" for i in range(posts)] for c in FANOUT_CHANNELS}

        async def channel_lane(channel: str, texts: list[str]) -> None:
            for text in texts:  # in order, one at a time per channel, as a careful caller would
                await client.chat_postMessage(channel=channel, text=text)

        await asyncio.gather(*(channel_lane(c, t) for c, t in expected.items()))
        return fanout_figures(slack, expected)


async def _no_sink(inbound: Any) -> list[Outbound]:
    return []


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--posts", type=int, default=10, help="prompts per channel in the fan-out")
    parser.add_argument("--database-url", help="default: a fresh SQLite file per app")
    parser.add_argument("--skip-fanout", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        ours_url = args.database_url or f"sqlite:///{tmp}/ours.db"
        bare_url = args.database_url or f"sqlite:///{tmp}/bare.db"
        upgrade(ours_url)
        async with SlackApiDouble() as slack:
            # A short warm-up of both, then the measured runs.
            await run_bare(slack, bare_url, 50, args.concurrency)
            bare = await run_bare(slack, bare_url, args.events, args.concurrency)
            ours = await run_ours(slack, ours_url, args.events, args.concurrency)
    db = "PostgreSQL" if ours_url.startswith("postgres") else "SQLite"
    print(
        f"Inbound: {args.events} signed thread replies over HTTP, "
        f"{args.concurrency} in flight, {db}"
    )
    for name, result in (("listening-bot adapter", ours), ("bare slack-bolt app", bare)):
        per_second = result["stored"] / result["seconds"]
        result["per_second"] = per_second
        print(
            f"  {name:22s} {per_second:8.1f} stored/s  stored {result['stored']}/{args.events}  "
            f"non-200 {result['failures']}  "
            f"p50 {percentile(result['latencies'], 50) * 1000:6.1f} ms"
            f"  p99 {percentile(result['latencies'], 99) * 1000:6.1f} ms  "
            f"(mean {statistics.fmean(result['latencies']) * 1000:.1f} ms)"
        )
    print(
        f"  ratio ours/bare: {ours['per_second'] / bare['per_second']:.2f}x "
        "(target >= 1.0, floor 0.8)"
    )
    if args.skip_fanout:
        return
    print(f"Fan-out: {args.posts} prompts to each of 20 channels; double allows 1 post/s/channel")
    for name, run in (
        ("listening-bot outbox", fanout_ours),
        ("plain slack_sdk + 429 retry", fanout_plain),
    ):
        figures = await run(args.posts)
        print(
            f"  {name:28s} {figures['per_second']:5.2f} delivered/s = "
            f"{figures['share']:.2f} of the "
            f"limit  delivered {figures['delivered']}  lost {figures['lost']}  posted twice "
            f"{figures['twice']}  429s {figures['rejected_429']}"
        )
    print(
        "  A post that times out after Slack accepted it is looked up (conversations.history, by "
        "the delivery key in its metadata): found = sent, else recorded as uncertain, "
        "never re-posted."
    )


if __name__ == "__main__":
    asyncio.run(main())
