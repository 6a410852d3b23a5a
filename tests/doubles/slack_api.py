"""A local double of the Slack Web API (and Socket Mode websocket) for tests and the benchmark.

Reached through slack_sdk's ``base_url`` (``double.api_url``); it records every call, keeps the
messages posted per channel, can enforce Slack's one-post-per-second-per-channel limit with 429 +
``Retry-After``, and can be told to fail or stall the next calls. It also signs Events API
requests the way Slack does, so tests go through bolt's real signature check.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.doubles.faults import SHUTDOWN_TIMEOUT, FaultPlan, Injected

BOT_USER = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM = "T0TEAM001"


@dataclass
class Call:
    """One Web API call the double received."""

    method: str
    args: dict[str, Any]
    at: float


@dataclass
class Plan:
    """What the next call of one method should do instead of succeeding at once."""

    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    store: bool = True


@dataclass
class SlackApiDouble:
    """``async with SlackApiDouble() as slack:`` then point ``slack.api_url`` at it.

    Args:
        post_interval: when set, chat.postMessage is refused with 429 if a channel got an
            accepted post less than this many seconds before (like Slack's 1 per second).
    """

    post_interval: float | None = None
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    acks: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    timezones: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    """Display names users.info reports ("First Last"), by user id."""
    locales: dict[str, str] = field(default_factory=dict)
    """Client locales users.info reports with include_locale ("pl-PL"), by user id."""
    _plans: dict[str, list[Plan]] = field(default_factory=lambda: defaultdict(list))
    _last_post: dict[str, float] = field(default_factory=dict)
    _last_ts: int = 0
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _ack_event: asyncio.Event | None = None
    _connected: asyncio.Event | None = None
    fault_plan: FaultPlan | None = None
    """Seeded random faults (see tests/doubles/faults.py); scripted ``plan`` ones win."""

    async def __aenter__(self) -> SlackApiDouble:
        self._ack_event = asyncio.Event()
        self._connected = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.api_url = f"http://127.0.0.1:{self.port}/api/"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        for ws in list(self._sockets):
            await ws.close()
        await self._runner.cleanup()

    # -- scripting ----------------------------------------------------------------------------
    def plan(self, method: str, *plans: Plan) -> None:
        """Queue what the next calls of ``method`` do (then it answers normally again)."""
        self._plans[method].extend(plans)

    def received(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every call of ``method``, in order."""
        return [c.args for c in self.calls if c.method == method]

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages accepted by chat.postMessage (optionally in one channel)."""
        if channel is not None:
            return list(self.messages.get(channel, []))
        return [m for msgs in self.messages.values() for m in msgs]

    async def wait_for(self, method: str, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until ``method`` was called at least ``count`` times."""
        deadline = time.monotonic() + timeout
        while len(self.received(method)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{method} called {len(self.received(method))} times, expected {count}"
                )
            await asyncio.sleep(0.01)
        return self.received(method)

    def next_ts(self) -> str:
        """A real-time, unique ts, like Slack's (seconds.micros)."""
        micros = max(time.time_ns() // 1000, self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    # -- the Web API --------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.text()
            if request.content_type == "application/json":
                args.update(json.loads(raw or "{}"))
            else:
                args.update(dict(parse_qsl(raw)))
        for key in ("metadata", "blocks"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        self.calls.append(Call(method, args, time.monotonic()))
        if self.fault_plan is not None and not self._plans.get(method):
            planned = self.fault_plan.decide(method, args.get("channel"), args.get("text"))
            if planned is not None:
                return await self._planned_fault(request, method, args, planned)
        plan = self._plans[method].pop(0) if self._plans.get(method) else Plan()
        if plan.delay:
            if plan.store and method == "chat.postMessage":
                self._store_post(args)
            await asyncio.sleep(plan.delay)
            return _json({"ok": True, "channel": args.get("channel"), "ts": "late"})
        if plan.status != 200 or plan.error:
            headers = {"Retry-After": str(plan.retry_after)} if plan.retry_after else {}
            return _json({"ok": False, "error": plan.error or "ratelimited"}, plan.status, headers)
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return _json({"ok": True})
        response = await handler(args)
        if self.fault_plan is not None and response.status == 200:
            self.fault_plan.accepted(method, args.get("channel"), args.get("text"))
        return response

    async def _planned_fault(
        self, request: web.Request, method: str, args: dict[str, Any], fault: Injected
    ) -> web.Response:
        """Apply a :class:`FaultPlan` decision the way Slack's edge would."""
        assert self.fault_plan is not None
        if fault.kind == "429":
            wait = str(max(1, math.ceil(fault.retry_after)))
            return _json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": wait})
        if fault.kind == "500":
            return _json({"ok": False, "error": "internal_error"}, 500)
        if fault.kind == "timeout":
            # Slack took the post; the answer never reaches the client.
            if method == "chat.postMessage":
                self._store_post(args)
                self.fault_plan.accepted(method, args.get("channel"), args.get("text"))
            await asyncio.sleep(self.fault_plan.hold)
        if request.transport is not None:
            request.transport.abort()
        raise web.HTTPInternalServerError()  # not written: the connection is gone

    async def _users_info(self, args: dict[str, Any]) -> web.Response:
        user = str(args.get("user") or "")
        zone = self.timezones.get(user, "Europe/London")
        first, _, last = self.names.get(user, "").partition(" ")
        profile = {"first_name": first, "last_name": last, "real_name": f"{first} {last}".strip()}
        found: dict[str, Any] = {
            "id": user,
            "tz": zone,
            "real_name": profile["real_name"],
            "profile": profile,
        }
        if str(args.get("include_locale", "")).lower() in ("1", "true"):
            found["locale"] = self.locales.get(user, "en-US")
        return _json({"ok": True, "user": found})

    async def _auth_test(self, args: dict[str, Any]) -> web.Response:
        return _json(
            {
                "ok": True,
                "url": "https://example.slack.com/",
                "team": "Example",
                "user": "listening",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
            }
        )

    def _store_post(self, args: dict[str, Any]) -> dict[str, Any]:
        message = {
            "type": "message",
            "ts": self.next_ts(),
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "text": args.get("text"),
            "blocks": args.get("blocks"),
            "thread_ts": args.get("thread_ts"),
            "metadata": args.get("metadata"),
        }
        self.messages[str(args.get("channel"))].append(message)
        return message

    async def _chat_postMessage(self, args: dict[str, Any]) -> web.Response:  # noqa: N802
        channel = str(args.get("channel"))
        now = time.monotonic()
        if self.post_interval is not None:
            last = self._last_post.get(channel)
            if last is not None and now - last < self.post_interval:
                self.rejected += 1
                wait = max(1, math.ceil(self.post_interval - (now - last)))
                return _json({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(wait)})
            self._last_post[channel] = now
        message = self._store_post(args)
        return _json({"ok": True, "channel": channel, "ts": message["ts"], "message": message})

    async def _chat_update(self, args: dict[str, Any]) -> web.Response:
        for message in self.messages.get(str(args.get("channel")), []):
            if message["ts"] == args.get("ts"):
                message["text"], message["blocks"] = args.get("text"), args.get("blocks")
        return _json({"ok": True, "channel": args.get("channel"), "ts": args.get("ts")})

    async def _conversations_history(self, args: dict[str, Any]) -> web.Response:
        oldest = float(args.get("oldest") or 0)
        found = [
            m for m in self.messages.get(str(args.get("channel")), []) if float(m["ts"]) >= oldest
        ]
        if str(args.get("include_all_metadata")).lower() not in ("true", "1"):
            found = [{k: v for k, v in m.items() if k != "metadata"} for m in found]
        return _json({"ok": True, "messages": list(reversed(found)), "has_more": False})

    async def _apps_connections_open(self, args: dict[str, Any]) -> web.Response:
        return _json({"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"})

    # -- Socket Mode --------------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        assert self._connected is not None
        self._connected.set()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(msg.data))
                    assert self._ack_event is not None
                    self._ack_event.set()
        finally:
            self._sockets.remove(ws)
        return ws

    async def push_envelope(self, envelope: dict[str, Any]) -> None:
        """Send one Socket Mode envelope to the connected app."""
        assert self._connected is not None
        await asyncio.wait_for(self._connected.wait(), 5)
        for ws in self._sockets:
            await ws.send_str(json.dumps(envelope))

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The app's acknowledgement of one envelope."""
        deadline = time.monotonic() + timeout
        while True:
            for ack in self.acks:
                if ack.get("envelope_id") == envelope_id:
                    return ack
            if time.monotonic() > deadline:
                raise AssertionError(f"envelope {envelope_id} was not acknowledged")
            await asyncio.sleep(0.01)


def _json(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Any:
    return web.json_response(data, status=status, headers=headers)


# -- signed Events API requests -----------------------------------------------------------------
def sign(secret: str, body: str, timestamp: int) -> str:
    """The ``X-Slack-Signature`` Slack computes: v0=HMAC-SHA256(secret, "v0:ts:body")."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str,
    body: str,
    *,
    timestamp: int | None = None,
    content_type: str = "application/json",
    retry_num: int | None = None,
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(secret, body, ts),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


_event_ids = itertools.count(1)


def event_callback(event: dict[str, Any]) -> dict[str, Any]:
    """An Events API ``event_callback`` wrapper around one event."""
    return {
        "token": "legacy",
        "team_id": TEAM,
        "api_app_id": "A0APP0001",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{next(_event_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": TEAM, "user_id": BOT_USER, "is_bot": True, "is_enterprise_install": False}
        ],
    }


def message_event(
    user: str,
    channel: str,
    text: str,
    ts: str,
    *,
    thread_ts: str | None = None,
    channel_type: str = "channel",
    **extra: Any,
) -> dict[str, Any]:
    event = {
        "type": "message",
        "user": user,
        "channel": channel,
        "channel_type": channel_type,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "team": TEAM,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    event.update(extra)
    return event


def block_actions(user: str, channel: str, message: dict[str, Any], action_index: int) -> str:
    """The form body Slack posts when a button is pressed (``payload=<json>``)."""
    from urllib.parse import urlencode

    button = message["blocks"][-1]["elements"][action_index]
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0APP0001",
        "token": "legacy",
        "trigger_id": f"trig-{message['ts']}-{action_index}",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel},
        "channel": {"id": channel},
        "message": message,
        "actions": [
            {
                "type": "button",
                "action_id": button["action_id"],
                "block_id": "choices",
                "text": button["text"],
                "value": button["value"],
                "action_ts": str(time.time()),
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def slash_command(user: str, channel: str, text: str) -> str:
    from urllib.parse import urlencode

    return urlencode(
        {
            "token": "legacy",
            "team_id": TEAM,
            "channel_id": channel,
            "user_id": user,
            "command": "/listening",
            "text": text,
            "trigger_id": f"trig-{time.monotonic_ns()}",
            "response_url": "http://127.0.0.1:9/unused",
        }
    )
