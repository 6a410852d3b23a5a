"""A local HTTP double of the Telegram Bot API, speaking the real wire format.

Point python-telegram-bot at it with ``base_url=double.base_url``. It records every call (and
when it came), serves queued updates through long-polling ``getUpdates`` with Telegram's offset
rules, answers ``sendMessage`` and friends like Telegram does, and can be told to misbehave.
Anything it does not know fails loudly with 404 and is recorded in ``unknown``.

What the platform received is ``sent`` (every message it accepted, in order, including ones whose
answer it then withheld); tests check that, not only the bot's own database.

Misbehaving, through ``double.faults`` (a :class:`Faults`):

* ``faults.script("sendMessage", Fault(500), Fault.flood(20, chat=6001))`` queues faults for the
  next calls of a method, in order (a fault with ``chat`` only hits calls to that chat);
* ``faults.at_random(seed, "sendMessage", (0.05, Fault.timeout_after_accept(3)), (0.1,
  Fault(500)))`` draws each call's fault with a seeded ``random.Random`` (after the queue);
* ``faults.injected`` lists every fault applied, as ``(method, fault)``.

Kinds of fault: an HTTP error answer (``Fault(500)``, ``Fault.flood(retry_after)`` for 429), a
slow answer (``delay``), a connection dropped before the call is processed (``Fault.drop()``:
nothing delivered), and, after the call was processed (the message is delivered and in ``sent``),
an answer held back for ``delay`` seconds (``Fault.timeout_after_accept(delay)``: the client
times out) or a dropped connection (``Fault.drop_after_accept()``). ``poison(...)`` queues an
update python-telegram-bot cannot parse. ``limit()`` enforces Telegram's flood control, and two
``getUpdates`` at once end the earlier one with 409 Conflict, as Telegram does (``conflicts``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.doubles.faults import SHUTDOWN_TIMEOUT, FaultPlan, Injected

JSON = dict[str, Any]
MESSAGE_METHODS = frozenset({"sendMessage", "editMessageReplyMarkup", "editMessageText"})
"""Calls Telegram's flood control counts as messages."""
_INT_PARAMS = {"chat_id", "message_id", "offset", "limit", "timeout", "user_id"}
_JSON_PARAMS = {"reply_markup", "allowed_updates", "commands", "scope"}


@dataclass(slots=True)
class Call:
    """One request the double received."""

    method: str
    params: JSON
    at: float
    status: int = 200
    retry_after: float = 0.0
    flood_chat: Any = None
    """For a 429: the chat it holds (None: every chat)."""


@dataclass(slots=True)
class Sent:
    """A message the bot sent (and its keyboard as it is now)."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: JSON | None
    at: float


@dataclass(slots=True)
class Fault:
    """One misbehaviour for one call.

    Args:
        status: the HTTP error to answer with (429 with ``retry_after``); 200 answers normally.
        retry_after: seconds in a 429's ``parameters.retry_after``.
        delay: seconds to wait before answering (after processing, with ``after_accept``).
        description: the error's ``description``.
        after_accept: process the call first (a message is delivered), then misbehave.
        drop: close the connection without any answer.
        chat: only calls to this ``chat_id`` get the fault (None: any call). A 429 holds the
            chat of the call it answered (until ``retry_after``), or every call if it had none.
    """

    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    description: str | None = None
    after_accept: bool = False
    drop: bool = False
    chat: int | None = None

    @classmethod
    def flood(cls, retry_after: float, *, chat: int | None = None) -> Fault:
        """429 Too Many Requests with ``retry_after``."""
        return cls(429, retry_after=retry_after, chat=chat)

    @classmethod
    def drop_before(cls, *, chat: int | None = None) -> Fault:
        """The connection drops before the call is processed (nothing delivered)."""
        return cls(200, drop=True, chat=chat)

    @classmethod
    def timeout_after_accept(cls, delay: float = 30.0, *, chat: int | None = None) -> Fault:
        """The call is processed (delivered), but the answer comes only after ``delay``."""
        return cls(200, delay=delay, after_accept=True, chat=chat)

    @classmethod
    def drop_after_accept(cls, *, chat: int | None = None) -> Fault:
        """The call is processed (delivered), then the connection drops without an answer."""
        return cls(200, after_accept=True, drop=True, chat=chat)


class Faults:
    """What the double does wrong, per method: scripted queues first, then seeded chance."""

    def __init__(self) -> None:
        self.queues: dict[str, deque[Fault]] = defaultdict(deque)
        self.chances: dict[str, list[tuple[float, Fault]]] = {}
        self.rng = random.Random(0)
        self.injected: list[tuple[str, Fault]] = []

    def get(self, method: str) -> deque[Fault] | None:
        """The scripted queue of ``method``, if any (dict-like, as older callers use it)."""
        return self.queues.get(method)

    def __getitem__(self, method: str) -> deque[Fault]:
        """The scripted queue of ``method`` (e.g. to ``clear()`` it)."""
        return self.queues[method]

    def script(self, method: str, *faults: Fault) -> None:
        """The next calls of ``method`` (to the fault's chat, if it names one) get these."""
        self.queues[method].extend(faults)

    def at_random(self, seed: int, method: str, *chances: tuple[float, Fault]) -> None:
        """Each call of ``method`` gets one of these faults with its probability (seeded)."""
        self.rng = random.Random(seed)
        self.chances[method] = list(chances)

    def clear(self) -> None:
        self.queues.clear()
        self.chances.clear()

    def take(self, method: str, params: JSON) -> Fault | None:
        """The fault for this call, if any (and note it in ``injected``)."""
        chat = params.get("chat_id")
        queue = self.queues.get(method)
        fault: Fault | None = None
        if queue:
            for candidate in queue:
                if candidate.chat is None or candidate.chat == chat:
                    fault = candidate
                    queue.remove(candidate)
                    break
        if fault is None and method in self.chances:
            draw = self.rng.random()
            for chance, candidate in self.chances[method]:
                if draw < chance:
                    fault = candidate
                    break
                draw -= chance
        if fault is not None:
            self.injected.append((method, fault))
        return fault


@dataclass(slots=True)
class Gcra:
    """Telegram-like flood control: ``rate`` per second, ``burst`` back to back."""

    rate: float
    burst: int = 1
    tolerance: float = 0.05
    tat: dict[Any, float] = field(default_factory=dict)

    def admit(self, key: Any, now: float) -> float:
        """0 when allowed (and counted), else the seconds to wait."""
        interval = 1.0 / self.rate
        tat = self.tat.get(key, now)
        earliest = tat - (self.burst - 1) * interval - self.tolerance
        if now < earliest:
            return earliest - now
        self.tat[key] = max(tat, now) + interval
        return 0.0


class TelegramApiDouble:
    """``async with TelegramApiDouble() as tg:`` serves the Bot API on 127.0.0.1 (random port)."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        username: str = "listening_test_bot",
        *,
        max_poll_wait: float = 1.0,
    ) -> None:
        self.token = token
        self.username = username
        self.bot_id = int(token.split(":")[0])
        self.max_poll_wait = max_poll_wait
        self.calls: list[Call] = []
        self.unknown: list[str] = []
        self.sent: list[Sent] = []
        self.updates: list[JSON] = []
        self.confirmed = 0
        self.deliveries: dict[int, int] = defaultdict(int)
        self.faults = Faults()
        self.fault_plan: FaultPlan | None = None
        """Seeded random faults (see tests/doubles/faults.py); scripted ``fail`` ones win."""
        self.overall: Gcra | None = None
        self.per_chat: Gcra | None = None
        self.flood_until = 0.0
        self.chat_flood_until: dict[Any, float] = {}
        self.rate_limited = 0
        self.webhook: JSON | None = None
        self.commands: list[JSON] = []
        # setMyCommands per language_code ("" for everyone whose language has no menu of its own)
        self.commands_by_language: dict[str, list[JSON]] = {}
        self.blocked: set[int] = set()
        # Telegram app language per user (the update's from.language_code), when the test sets one.
        self.language_codes: dict[int, str] = {}
        self.closing = False
        self.conflicts = 0
        self._poller: tuple[web.Request, list[bool]] | None = None
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.started = time.monotonic()

    # -- server -------------------------------------------------------------------------------
    async def __aenter__(self) -> TelegramApiDouble:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.closing = True
        await self._notify()  # long polls still waiting return at once
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def limit(
        self,
        overall: float | None = 30.0,
        per_chat: float | None = 1.0,
        *,
        overall_burst: int = 30,
        chat_burst: int = 3,
    ) -> None:
        """Enforce Telegram's flood control on message calls (429 with ``retry_after``)."""
        self.overall = Gcra(overall, overall_burst) if overall else None
        self.per_chat = Gcra(per_chat, chat_burst) if per_chat else None

    def fail(self, method: str, *faults: Fault) -> None:
        """The next calls of ``method`` get these answers, in order (``faults.script``)."""
        self.faults.script(method, *faults)

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        params = await _params(request)
        now = time.monotonic()
        call = Call(method, params, now)
        self.calls.append(call)
        await self._notify()
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            self.unknown.append(method)
            call.status = 404
            return _error(404, f"Not Found: method {method} is not in the double")
        if self.fault_plan is not None and not self.faults.get(method):
            planned = self.fault_plan.decide(method, params.get("chat_id"), params.get("text"))
            if planned is not None:
                return await self._planned_fault(request, call, handler, params, planned)
        fault = self.faults.take(method, params)
        response = await self._misbehave(method, params, now, fault)
        if response is None:
            try:
                result = (
                    await handler(params, request)
                    if method == "getUpdates"
                    else (await handler(params))
                )
            except _ApiError as exc:
                response = _error(exc.status, exc.description)
            else:
                response = web.json_response({"ok": True, "result": result})
            if fault is not None and fault.after_accept:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.drop or request.transport is None or request.transport.is_closing():
                    return self._dropped(call, request)
        elif response is _DROP:
            return self._dropped(call, request)
        call.status = response.status
        if response.status == 429:
            call.retry_after = float(response.retry_after)  # type: ignore[attr-defined]
            until = now + call.retry_after
            chat = call.flood_chat = getattr(response, "chat", None)
            if chat is None:
                self.flood_until = max(self.flood_until, until)
            else:
                self.chat_flood_until[chat] = max(self.chat_flood_until.get(chat, 0.0), until)
        elif response.status == 200 and self.fault_plan is not None:
            self.fault_plan.accepted(method, params.get("chat_id"), params.get("text"))
        async with self._changed:
            self._changed.notify_all()
        return response

    async def _planned_fault(
        self, request: web.Request, call: Call, handler: Any, params: JSON, fault: Injected
    ) -> web.Response:
        """Apply a :class:`FaultPlan` decision (a 429 here is one chat's, not a global flood)."""
        assert self.fault_plan is not None
        if fault.kind == "429":
            chat = params.get("chat_id")
            response = _flood(fault.retry_after, chat)
            call.status, call.retry_after = 429, float(fault.retry_after)
            call.flood_chat = chat
            return response
        if fault.kind == "500":
            call.status = 500
            return _error(500, "Internal Server Error")
        if fault.kind == "timeout":
            # Telegram took the message; the answer never reaches the client.
            try:
                await handler(params)
            except _ApiError:
                pass
            else:
                self.fault_plan.accepted(call.method, params.get("chat_id"), params.get("text"))
            async with self._changed:
                self._changed.notify_all()
            await asyncio.sleep(self.fault_plan.hold)
        call.status = 0  # no answer at all
        if request.transport is not None:
            request.transport.abort()
        raise web.HTTPInternalServerError()  # not written: the connection is gone

    def _dropped(self, call: Call, request: web.Request) -> web.Response:
        """Close the connection without an answer (the client sees it drop)."""
        call.status = 0
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=204)

    async def _misbehave(
        self, method: str, params: JSON, now: float, fault: Fault | None
    ) -> web.Response | None:
        if fault is not None and not fault.after_accept:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.drop:
                return _DROP
            if fault.status == 429:
                # Like Telegram's flood control for messages: it holds the chat written to
                # (a call without a chat, e.g. getUpdates, is held as a whole).
                return _flood(fault.retry_after or 1, params.get("chat_id"))
            if fault.status != 200:
                return _error(fault.status, fault.description or "Internal Server Error")
        if method not in MESSAGE_METHODS:
            return None
        chat = params.get("chat_id")
        if now < self.flood_until:  # Telegram keeps refusing until retry_after has passed
            self.rate_limited += 1
            return _flood(self.flood_until - now)
        if now < self.chat_flood_until.get(chat, 0.0):  # ... in that chat, if it was one chat's
            self.rate_limited += 1
            return _flood(self.chat_flood_until[chat] - now, chat)
        for gcra, key in ((self.per_chat, chat), (self.overall, None)):
            if gcra is None:
                continue
            wait = gcra.admit(key, now)
            if wait:
                self.rate_limited += 1
                return _flood(wait, key)
        return None

    # -- what tests look at -------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.status == 200]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Texts of the messages the bot sent (to one chat), in order."""
        return [s.text for s in self.sent if chat_id is None or s.chat_id == chat_id]

    def last_sent(self, chat_id: int) -> Sent:
        return [s for s in self.sent if s.chat_id == chat_id][-1]

    def early_after_flood(self) -> list[tuple[Call, float]]:
        """Message calls that came sooner after a 429 holding them than its ``retry_after``."""
        early = []
        until = 0.0
        chat_until: dict[Any, float] = {}
        for call in self.calls:
            if call.method in MESSAGE_METHODS:
                held = max(until, chat_until.get(call.params.get("chat_id"), 0.0))
                if call.at < held:
                    early.append((call, held - call.at))
            if call.status == 429:
                end = call.at + call.retry_after
                if call.flood_chat is None:
                    until = max(until, end)
                else:
                    chat_until[call.flood_chat] = max(chat_until.get(call.flood_chat, 0.0), end)
        return early

    def early_after_flood_in_chat(self, chat_id: int) -> list[tuple[Call, float]]:
        """:meth:`early_after_flood` for the calls to one chat."""
        return [(c, by) for c, by in self.early_after_flood() if c.params.get("chat_id") == chat_id]

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds (checked after every call); fail after ``timeout``."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                raise AssertionError(f"the double waited {timeout}s in vain") from None

    async def wait_sent(self, chat_id: int, contains: str, timeout: float = 10.0) -> Sent:
        """Wait for a message to ``chat_id`` containing ``contains``."""
        found: list[Sent] = []

        def seen() -> bool:
            found[:] = [s for s in self.sent if s.chat_id == chat_id and contains in s.text]
            return bool(found)

        try:
            await self.wait_for(seen, timeout)
        except AssertionError:
            raise AssertionError(
                f"nothing containing {contains!r} went to {chat_id}; sent: {self.texts(chat_id)}"
            ) from None
        return found[-1]

    # -- updates (what people do) -------------------------------------------------------------
    def push(self, update: JSON) -> int:
        """Queue a raw update; returns its update_id."""
        update_id = next(self._update_ids)
        self.updates.append({"update_id": update_id, **update})
        asyncio.get_running_loop().create_task(self._notify())
        return update_id

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _user(self, user_id: int) -> JSON:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": f"Parent{user_id}"}
        if user_id in self.language_codes:  # optional in the Bot API: sent only when known
            user["language_code"] = self.language_codes[user_id]
        return user

    def _chat(self, chat_id: int, kind: str = "private") -> JSON:
        chat: JSON = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = f"Parent{chat_id}"
        else:
            chat["title"] = f"Group {chat_id}"
        return chat

    def _message(self, user_id: int, chat_id: int | None = None, kind: str = "private") -> JSON:
        return {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id or user_id, kind),
            "from": self._user(user_id),
        }

    def poison(self, user_id: int, how: str = "entity") -> int:
        """An update python-telegram-bot cannot parse; returns its update_id.

        ``how``: ``entity`` (an entity without offset/length), ``from`` (a sender without id)
        or ``date`` (a date that is not a number). It carries a name and text, like a real one.
        """
        message: JSON = {**self._message(user_id), "text": f"My name is Secret Person{user_id}"}
        if how == "entity":
            message["entities"] = [{"type": "bold"}]
        elif how == "from":
            message["from"] = {"is_bot": False, "first_name": f"Secret Person{user_id}"}
        elif how == "date":
            message["date"] = "yesterday"
        else:
            raise ValueError(f"unknown poison {how!r}")
        return self.push({"message": message})

    def text(self, user_id: int, text: str, *, chat_id: int | None = None, kind: str = "private"):
        """A person types ``text``; returns (update_id, message_id)."""
        message = {**self._message(user_id, chat_id, kind), "text": text}
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self.push({"message": message}), message["message_id"]

    def voice(self, user_id: int, file_id: str = "AwACAgQAAxkBAAIBVoice") -> int:
        voice = {"file_id": file_id, "file_unique_id": "uniq-" + file_id[-6:], "duration": 7}
        return self.push({"message": {**self._message(user_id), "voice": voice}})

    def sticker(self, user_id: int) -> int:
        sticker = {
            "file_id": "CAACAgIAAxkBAAIBSticker",
            "file_unique_id": "sticker-1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self.push({"message": {**self._message(user_id), "sticker": sticker}})

    def photo(self, user_id: int) -> int:
        size = {"file_id": "AgACAgQPhoto", "file_unique_id": "photo-1", "width": 90, "height": 90}
        return self.push({"message": {**self._message(user_id), "photo": [size]}})

    def edit(self, user_id: int, message_id: int, text: str) -> int:
        message = {
            **self._message(user_id),
            "message_id": message_id,
            "text": text,
            "edit_date": int(time.time()) + 1,
        }
        return self.push({"edited_message": message})

    def press(self, user_id: int, sent: Sent, data: str) -> int:
        """A person presses the button carrying ``data`` on a message the bot sent."""
        message: JSON = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": self._chat(sent.chat_id),
            "from": self.me(),
            "text": sent.text,
        }
        if sent.reply_markup:
            message["reply_markup"] = sent.reply_markup
        query = {
            "id": f"q{next(self._ids)}",
            "from": self._user(user_id),
            "chat_instance": f"ci{sent.chat_id}",
            "message": message,
            "data": data,
        }
        return self.push({"callback_query": query})

    def me(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Listening bot",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    # -- the API ------------------------------------------------------------------------------
    async def _api_getMe(self, params: JSON) -> JSON:
        return self.me()

    async def _api_setMyCommands(self, params: JSON) -> bool:
        """Checked as the Bot API does: ``language_code`` is empty or a two-letter ISO 639-1
        code; each command is 1-32 of ``a-z0-9_`` and its description 1-256 characters."""
        code = str(params.get("language_code") or "")
        if code and not (len(code) == 2 and code.isascii() and code.isalpha() and code.islower()):
            raise _ApiError(400, "Bad Request: invalid language code specified")
        commands = params.get("commands", [])
        for command in commands:
            name, description = str(command.get("command", "")), str(command.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands_by_language[code] = commands
        if not code:
            self.commands = commands
        return True

    async def _api_deleteWebhook(self, params: JSON) -> bool:
        self.webhook = None
        return True

    async def _api_setWebhook(self, params: JSON) -> bool:
        self.webhook = params
        return True

    async def _api_getUpdates(self, params: JSON, request: Any = None) -> list[JSON]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), self.max_poll_wait)
        if self._poller is not None:
            earlier, ended = self._poller
            if (
                request is not None
                and earlier.transport is not None
                and not earlier.transport.is_closing()
            ):
                ended[0] = True  # Telegram ends the earlier request with 409 Conflict
                self.conflicts += 1
                await self._notify()
        ended = [False]
        self._poller = (request, ended)
        if offset and offset - 1 > self.confirmed:
            self.confirmed = offset - 1
            await self._notify()

        def pending() -> list[JSON]:
            return [u for u in self.updates if u["update_id"] > self.confirmed][:limit]

        try:
            if not pending() and timeout > 0:
                async with self._changed:
                    try:
                        await asyncio.wait_for(
                            self._changed.wait_for(
                                lambda: bool(pending()) or self.closing or ended[0]
                            ),
                            timeout,
                        )
                    except TimeoutError:
                        pass
        finally:
            if self._poller is not None and self._poller[0] is request:
                self._poller = None
        if ended[0]:
            raise _ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot "
                "instance is running",
            )
        batch = pending()
        for update in batch:
            self.deliveries[update["update_id"]] += 1
        return batch

    async def _api_sendMessage(self, params: JSON) -> JSON:
        chat_id = int(params["chat_id"])
        text = params.get("text", "")
        if not text or len(text.encode("utf-16-le")) // 2 > 4096:
            raise _ApiError(400, "Bad Request: message text is empty or too long")
        if chat_id in self.blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        sent = Sent(chat_id, next(self._ids), text, params.get("reply_markup"), time.monotonic())
        self.sent.append(sent)
        result = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": self.me(),
            "text": text,
        }
        if sent.reply_markup:
            result["reply_markup"] = sent.reply_markup
        return result

    async def _api_editMessageReplyMarkup(self, params: JSON) -> JSON | bool:
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        for sent in self.sent:
            if sent.chat_id == chat_id and sent.message_id == message_id:
                markup = params.get("reply_markup")
                if markup == sent.reply_markup:
                    raise _ApiError(400, "Bad Request: message is not modified")
                sent.reply_markup = markup
                result = {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": self._chat(chat_id),
                    "from": self.me(),
                    "text": sent.text,
                }
                if markup:
                    result["reply_markup"] = markup
                return result
        raise _ApiError(400, "Bad Request: message to edit not found")

    async def _api_answerCallbackQuery(self, params: JSON) -> bool:
        return True


_DROP = web.Response(status=599)
"""Marker from ``_misbehave``: drop the connection."""


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _error(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description}, status=status
    )


def _flood(wait: float, chat: Any = None) -> web.Response:
    # Telegram sends whole seconds; a fraction keeps tests short (PTB accepts it).
    seconds: float = math.ceil(wait) if wait >= 1 else round(max(wait, 0.05), 2)
    response = web.json_response(
        {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {seconds}",
            "parameters": {"retry_after": seconds},
        },
        status=429,
    )
    response.retry_after = seconds  # type: ignore[attr-defined]
    response.chat = chat  # type: ignore[attr-defined]  # None: the flood holds every chat
    return response


async def _params(request: web.Request) -> JSON:
    """Read parameters the way the Bot API does: query string, form or JSON body."""
    raw: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            raw.update(await request.json())
        else:
            form = await request.post()
            raw.update({k: v for k, v in form.items() if isinstance(v, str)})
    params: JSON = {}
    for key, value in raw.items():
        if isinstance(value, str) and key in _INT_PARAMS:
            try:
                value = int(value)
            except ValueError:
                pass
        elif isinstance(value, str) and key in _JSON_PARAMS:
            value = json.loads(value)
        params[key] = value
    return params
