"""The Telegram adapter: updates in, the dispatcher's replies out, nothing lost on the way.

We drive ``getUpdates`` ourselves instead of PTB's ``Updater`` so that the offset (Telegram's
acknowledgement) only moves past an update once the dispatcher has committed it: a crash before
the commit means Telegram delivers the update again, and the dispatcher's message-id log makes
that redelivery harmless. Replies are then sent from a per-chat queue, in order, paced to
Telegram's limits, so a burst of sends never holds up storing what people say.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any
from urllib.parse import urlparse

from aiohttp import web
from telegram import Bot as PTBBot
from telegram import BotCommand, InlineKeyboardMarkup, Message, Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.adapters.base import InboundSink, ReplyLedger
from bot.adapters.telegram._delivery import Caller, CallFailed, RetryPolicy, retry_after_seconds
from bot.adapters.telegram._inbound import (
    ALLOWED_UPDATES,
    PLATFORM,
    chat_allowed,
    chat_key,
    message_inbound,
)
from bot.adapters.telegram._keyboards import (
    answered_keyboard,
    decode,
    keyboard_for,
    label_of,
    multi_keyboard,
    read_multi,
)
from bot.adapters.telegram._limiter import BULK, REPLY, RateLimiter
from bot.adapters.telegram._text import split_text
from bot.batching import GroupCommitter
from bot.clock import Clock
from bot.config import TelegramSettings
from bot.errors import AdapterError, BotError, ConfigError
from bot.events import Address, DeliveryOutcome, Inbound, Outbound

log = logging.getLogger(__name__)

OnDelivery = Callable[[DeliveryOutcome], Awaitable[None]]

COMMANDS = (
    ("start", "Join (or rejoin) the listening exercise"),
    ("help", "What I can do"),
    ("stop", "Stop taking part"),
    ("mydata", "See what we hold about you"),
    ("delete", "Erase everything you said"),
    ("done", "Finish an open question"),
    ("skip", "Skip an optional question"),
)
ALREADY_ANSWERED = "You've already answered this one."
MOVED_ON = "That question has moved on; please use the latest message."
PICK_FIRST = "Tick at least one option, then press Done."
SORRY = "Sorry, something went wrong with that message on our side. Please send it again."
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_POISON_TRIES = 5


class TelegramAdapter:
    """Long polling or a webhook in, paced and retried sends out.

    Args:
        settings: the ``telegram`` section of the campaign file.
        clock: where ``received_at`` and delivery times come from.
        on_delivery: called with each message's outcome (sent or failed) for the app to keep.
        limiter: outbound pacing (default: Telegram's 30/s overall, 1/s per chat).
        retry: how often to retry server errors, timeouts and flood control.
        poll_timeout: seconds one ``getUpdates`` long poll may wait.
        concurrency: updates of different chats handled at the same time.
        drain_timeout: on stop, how long queued replies may still take to go out.
    """

    name = PLATFORM

    def __init__(
        self,
        settings: TelegramSettings,
        clock: Clock,
        *,
        on_delivery: OnDelivery | None = None,
        ledger: ReplyLedger | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        poll_timeout: int = 25,
        concurrency: int = 8,
        drain_timeout: float = 10.0,
    ) -> None:
        _validate(settings)
        self.settings = settings
        self.clock = clock
        self.on_delivery = on_delivery
        self.ledger = ledger
        self._replied: list[str] = []
        self._replied_waiting = asyncio.Event()
        self._sending: GroupCommitter[str, None] = GroupCommitter(self._note_sending)
        self._started_at = clock.now()
        self._ledger_task: asyncio.Task[None] | None = None
        self.limiter = limiter or RateLimiter()
        self.caller = Caller(self.limiter, retry or RetryPolicy())
        self.poll_timeout = poll_timeout
        self.drain_timeout = drain_timeout
        self.bot = PTBBot(
            settings.token or "",
            base_url=settings.base_url,
            request=HTTPXRequest(
                connection_pool_size=64, read_timeout=10, write_timeout=10, pool_timeout=10
            ),
            get_updates_request=HTTPXRequest(
                connection_pool_size=2, read_timeout=10, write_timeout=10
            ),
        )
        self._sink: InboundSink | None = None
        self._semaphore = asyncio.Semaphore(concurrency)
        self._chat_locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._outboxes: dict[str, deque[Callable[[], Awaitable[None]]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._live: dict[str, int] = {}
        self._consumed: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._selections: dict[tuple[str, int], tuple[list[str], set[int]]] = {}
        self._handled: set[int] = set()
        self._failures: dict[int, tuple[int, float]] = {}
        self._last_commit = 0.0
        self._offset: int | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._in_batch = False
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.webhook_port: int | None = None
        self.started = False

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self, sink: InboundSink) -> None:
        """Connect (getMe), register the commands and begin receiving; returns once running.

        Raises:
            BotError: when Telegram refuses the token or cannot be reached.
        """
        self._sink = sink
        self._started_at = self.clock.now()
        try:
            await self.bot.initialize()
        except InvalidToken:
            raise BotError("Telegram refused the bot token; check TELEGRAM_BOT_TOKEN.") from None
        except TelegramError as exc:
            raise BotError(f"Telegram could not be reached ({exc}).") from None
        self.started = True
        try:
            await self.caller.call(
                "setMyCommands",
                lambda: self.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS]),
                paced=False,
            )
            if self.ledger is not None:
                self._ledger_task = asyncio.create_task(self._note_replied_loop())
            if self.settings.mode == "webhook":
                await self._resend_cut_off_replies()
                await self._start_webhook()
            else:
                await self.caller.call(
                    "deleteWebhook",
                    lambda: self.bot.delete_webhook(drop_pending_updates=False),
                    paced=False,
                )
                self._poll_task = asyncio.create_task(self._poll_loop(), name="telegram-polling")
        except BaseException:
            await self.stop()
            raise
        log.info("telegram: started as @%s (%s)", self.bot.username, self.settings.mode)

    async def stop(self) -> None:
        """Stop receiving, confirm what was handled, let queued replies go out, disconnect."""
        self._stopping.set()
        if self._poll_task is not None:
            if not self._in_batch:
                self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._poll_task), self.drain_timeout + 20)
            if not self._poll_task.done():
                self._poll_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._poll_task
            self._poll_task = None
            await self._confirm_offset()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._drain(self.drain_timeout)
        if self._ledger_task is not None:
            self._ledger_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ledger_task
            self._ledger_task = None
        await self._flush_replied()
        await self.limiter.close()
        if self.started:
            self.started = False
            with contextlib.suppress(TelegramError):
                await self.bot.shutdown()

    async def __aenter__(self) -> TelegramAdapter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- sending ------------------------------------------------------------------------------
    async def send(self, to: Address, message: Outbound, *, priority: int = BULK) -> str | None:
        """Deliver one message (split if long, choices as buttons); returns its message id.

        Raises:
            AdapterError: when it could not be delivered (the outcome is reported either way).
        """
        if not self.started:
            raise AdapterError("The Telegram adapter is not started.")
        return await self._deliver(to, message, priority)

    async def _deliver(self, to: Address, message: Outbound, priority: int) -> str | None:
        chat = to.chat_ref
        text = (
            message.text if message.text.strip() else ("Please choose:" if message.choices else "")
        )
        if not text:
            return None
        pieces = split_text(text)
        markup = keyboard_for(message)
        attempts = 0
        sent: Message | None = None
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            try:
                sent, tries = await self.caller.call(
                    "sendMessage",
                    lambda piece=piece, last=last: self.bot.send_message(  # type: ignore[misc]
                        chat_id=chat, text=piece, reply_markup=markup if last else None
                    ),
                    chat=chat,
                    priority=priority,
                )
            except CallFailed as exc:
                attempts += exc.attempts
                where = f" (after {index} of {len(pieces)} parts)" if index else ""
                await self._report(to, message, "failed", attempts, None, exc.message + where)
                raise
            attempts += tries
        assert sent is not None
        if message.choices or message.prompt_ref:
            # A new question: buttons on older messages no longer answer anything.
            self._live[chat] = max(self._live.get(chat, 0), sent.message_id)
        msg_id = str(sent.message_id)
        await self._report(to, message, "sent", attempts, msg_id, None)
        return msg_id

    async def _report(
        self,
        to: Address,
        message: Outbound,
        status: Any,
        attempts: int,
        msg_id: str | None,
        error: str | None,
    ) -> None:
        outcome = DeliveryOutcome(
            to, message.prompt_ref, status, attempts, msg_id, error, self.clock.now()
        )
        if status == "sent":
            log.debug("telegram: delivered %s", outcome)
        else:
            log.warning("telegram: delivery failed %s", outcome)
        if self.on_delivery is not None:
            try:
                await self.on_delivery(outcome)
            except Exception:
                log.exception("telegram: on_delivery callback failed for %s", outcome)

    def _enqueue(self, chat: str, job: Callable[[], Awaitable[None]]) -> None:
        """Queue work for one chat; each chat's queue runs in order, chats run side by side."""
        self._outboxes.setdefault(chat, deque()).append(job)
        if chat not in self._workers:
            self._workers[chat] = asyncio.create_task(self._work(chat), name=f"telegram-{chat}")

    async def _work(self, chat: str) -> None:
        queue = self._outboxes[chat]
        try:
            while queue:
                job = queue.popleft()
                try:
                    await job()
                except CallFailed:
                    pass  # already reported
                except Exception:
                    log.exception("telegram: sending to chat %s failed", chat)
        finally:
            self._workers.pop(chat, None)
            if not queue:
                self._outboxes.pop(chat, None)

    def _queue_replies(
        self, address: Address, replies: Sequence[Outbound], msg_id: str | None = None
    ) -> None:
        chat = address.chat_ref
        tracked = msg_id is not None and bool(replies) and self.ledger is not None
        if tracked:
            # Written down before the first attempt: a crash before it means "send these on
            # restart", a crash after it "they may have arrived: do not repeat them".
            self._enqueue(chat, lambda: self._sending.submit(msg_id or ""))
        for reply in replies:
            self._enqueue(
                chat,
                lambda reply=reply: self._deliver(address, reply, REPLY),  # type: ignore[misc]
            )
        if tracked:
            # Runs after the replies in this chat's queue, whether they went out or failed.
            self._enqueue(chat, lambda: self._note_replied(msg_id or ""))

    async def _note_sending(self, msg_ids: Sequence[str]) -> list[None | BaseException]:
        assert self.ledger is not None
        await self.ledger.sending(PLATFORM, msg_ids)
        return [None] * len(msg_ids)

    async def _note_replied(self, msg_id: str) -> None:
        self._replied.append(msg_id)
        self._replied_waiting.set()

    async def _note_replied_loop(self) -> None:
        """Write down delivered replies at once; what piles up meanwhile goes in one statement.

        The sooner a delivery is written down, the smaller the window in which a crash would
        make the restarted bot send that reply a second time.
        """
        while True:
            await self._replied_waiting.wait()
            self._replied_waiting.clear()
            await self._flush_replied()

    async def _flush_replied(self) -> None:
        if self.ledger is None or not self._replied:
            return
        batch, self._replied = self._replied, []
        try:
            await self.ledger.replied(PLATFORM, batch)
        except Exception:
            log.exception("telegram: could not note %d delivered replies", len(batch))
            self._replied[:0] = batch

    async def _resend_cut_off_replies(self) -> None:
        """Send replies a crash cut off (committed, never sent), once, after a restart.

        It runs after the updates Telegram redelivered were handled (their replies go out and
        are noted first) and before any new ones are taken, so nothing is sent twice and a
        person who wrote again meanwhile is not asked again.
        """
        if self.ledger is None:
            return
        pending = await self.ledger.unreplied(PLATFORM, self._started_at)
        if not pending:
            return
        log.warning("telegram: sending %d reply batch(es) cut off by a restart", len(pending))
        for item in pending:
            self._queue_replies(item.address, list(item.replies), item.platform_msg_id)
        await self._drain(max(self.drain_timeout, 60.0))
        await self._flush_replied()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _drain(self, timeout: float) -> None:
        pending = [*self._workers.values(), *self._background]
        if not pending:
            return
        done, still = await asyncio.wait(pending, timeout=timeout)
        for task in still:
            task.cancel()
        if still:
            log.warning("telegram: %d queued send(s) dropped at shutdown", len(still))
            await asyncio.gather(*still, return_exceptions=True)

    # -- receiving ----------------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        """getUpdates, handle, and only then confirm (the next call's offset moves past them)."""
        delay = failing = 0.0
        recovered = False
        while not self._stopping.is_set():
            if delay or failing:
                await asyncio.sleep(max(delay, failing))
            try:
                updates = await self.bot.get_updates(
                    offset=self._offset,
                    timeout=self.poll_timeout if recovered else 0,
                    limit=100,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            except RetryAfter as exc:
                delay = retry_after_seconds(exc)
                continue
            except (NetworkError, Conflict) as exc:
                delay = min(30.0, max(0.5, delay * 2))
                log.warning("telegram: getUpdates failed (%s); retrying in %.1fs", exc, delay)
                continue
            except InvalidToken:
                log.critical("telegram: the bot token was revoked; no longer receiving")
                return
            delay = 0.0
            all_failed = False
            if updates:
                self._in_batch = True
                try:
                    all_failed = await self._handle_batch(updates)
                finally:
                    self._in_batch = False
            # Every update failing means the database (not one message) is in trouble: slow down.
            failing = min(30.0, max(0.5, failing * 2)) if all_failed else 0.0
            if not recovered and len(updates) < 100 and not all_failed:
                # What Telegram redelivered after a restart is handled (a short batch means we
                # caught up): now send what a crash cut off, before taking anything new.
                await self._resend_cut_off_replies()
                recovered = True

    async def _handle_batch(self, updates: tuple[Update, ...]) -> bool:
        """Handle a batch and move the offset; True when every update in it failed."""
        fresh = [u for u in updates if u.update_id not in self._handled]
        results = await asyncio.gather(*(self._handle_one(u) for u in fresh))
        now = time.monotonic()
        failed: list[int] = []
        for update, ok in zip(fresh, results, strict=True):
            if ok:
                self._handled.add(update.update_id)
                self._failures.pop(update.update_id, None)
                continue
            count, first = self._failures.get(update.update_id, (0, now))
            self._failures[update.update_id] = (count + 1, first)
            if count + 1 >= _POISON_TRIES and self._last_commit > first:
                # Others get through, so the fault is in this update, not in the database:
                # give up on it rather than hold up everyone behind it.
                log.error(
                    "telegram: giving up on update %s after %d tries", update.update_id, count + 1
                )
                self._handled.add(update.update_id)
                self._failures.pop(update.update_id, None)
                chat = chat_key(update)
                if chat is not None and update.callback_query is None:
                    self._queue_replies(Address(PLATFORM, chat), [Outbound(SORRY)])
                continue
            failed.append(update.update_id)
        newest = max(u.update_id for u in updates)
        self._offset = min(failed) if failed else newest + 1
        self._handled = {i for i in self._handled if i >= self._offset}
        return bool(fresh) and len(failed) == len(fresh)

    async def _handle_one(self, update: Update) -> bool:
        """Handle one update under its chat's lock; False (logged) when it could not be."""
        key = chat_key(update) or "-"
        lock, users = self._chat_locks.get(key) or (asyncio.Lock(), 0)
        self._chat_locks[key] = (lock, users + 1)
        try:
            async with lock, self._semaphore:
                await self._process(update)
            return True
        except Exception:
            log.exception("telegram: update %s not handled; it will come again", update.update_id)
            return False
        finally:
            lock, users = self._chat_locks[key]
            if users <= 1:
                del self._chat_locks[key]
            else:
                self._chat_locks[key] = (lock, users - 1)

    async def _process(self, update: Update) -> None:
        assert self._sink is not None
        if update.callback_query is not None:
            await self._on_press(update)
            return
        inbound = message_inbound(
            update, self.clock.now(), allow_group_chats=self.settings.allow_group_chats
        )
        if inbound is None:
            return
        replies = await self._sink(inbound)
        self._last_commit = time.monotonic()
        self._queue_replies(inbound.address, replies, inbound.platform_msg_id)

    async def _on_press(self, update: Update) -> None:
        """A button press: acknowledge it, update the keyboard, and pass on the chosen value."""
        assert self._sink is not None and update.callback_query is not None
        query = update.callback_query
        message = query.message
        if message is None or not chat_allowed(message.chat, self.settings.allow_group_chats):
            self._answer(query.id)
            return
        chat = str(message.chat.id)
        key = (chat, message.message_id)
        markup = message.reply_markup if isinstance(message, Message) else None
        data = query.data if isinstance(query.data, str) else None
        press = decode(data)
        if press.action == "unknown" or press.action == "noop" or key in self._consumed:
            self._answer(query.id, ALREADY_ANSWERED if press.action != "unknown" else None)
            return
        # Message ids grow within a chat, so a press on a message older than the latest
        # question is stale. (A press may come in before we read our own send's reply, so a
        # newer message than the one we know about is fine.) After a restart nothing is known
        # and the press is taken.
        if message.message_id < self._live.get(chat, 0):
            self._answer(query.id, MOVED_ON)
            self._edit_markup(chat, message.message_id, None)
            return
        if press.action == "toggle":
            labels, selected = self._selections.get(key) or read_multi(markup)
            selected = set(selected) ^ {press.index}
            self._selections[key] = (labels, selected)
            self._answer(query.id)
            self._edit_markup(chat, message.message_id, multi_keyboard(labels, selected))
            return
        if press.action == "done":
            labels, selected = self._selections.get(key) or read_multi(markup)
            if not selected:
                self._answer(query.id, PICK_FIRST)
                return
            text = ",".join(str(i + 1) for i in sorted(selected))
            shown = [labels[i] if i < len(labels) else str(i + 1) for i in sorted(selected)]
        else:
            text = press.value if press.action == "value" else str(press.index)
            shown = [label_of(markup, data or "") or text]
        self._consume(key)
        inbound = Inbound(
            platform=PLATFORM,
            user_ref=str(query.from_user.id),
            address=Address(PLATFORM, chat),
            received_at=self.clock.now(),
            kind="button",
            text=text,
            platform_msg_id=f"cb:{query.id}",
            language=query.from_user.language_code or None,
            raw=update,
        )
        try:
            replies = await self._sink(inbound)
        except BaseException:
            self._consumed.pop(key, None)
            raise
        self._last_commit = time.monotonic()
        self._selections.pop(key, None)
        self._answer(query.id)
        self._edit_markup(chat, message.message_id, answered_keyboard(shown))
        self._queue_replies(inbound.address, replies, inbound.platform_msg_id)

    def _consume(self, key: tuple[str, int]) -> None:
        self._consumed[key] = None
        while len(self._consumed) > 50_000:
            self._consumed.popitem(last=False)

    def _answer(self, query_id: str, text: str | None = None) -> None:
        """answerCallbackQuery at once (the person's button spins until it arrives)."""

        async def answer() -> None:
            with contextlib.suppress(CallFailed):
                await self.caller.call(
                    "answerCallbackQuery",
                    lambda: self.bot.answer_callback_query(query_id, text=text),
                    paced=False,
                )

        self._spawn(answer())

    def _edit_markup(self, chat: str, message_id: int, markup: InlineKeyboardMarkup | None) -> None:
        """Replace a keyboard (queued with the chat's replies, so it goes before the next one)."""

        async def edit() -> None:
            try:
                await self.caller.call(
                    "editMessageReplyMarkup",
                    lambda: self.bot.edit_message_reply_markup(
                        chat_id=chat, message_id=message_id, reply_markup=markup
                    ),
                    chat=chat,
                    priority=REPLY,
                )
            except CallFailed as exc:
                if "not modified" not in exc.message:
                    log.warning(
                        "telegram: keyboard of %s/%s not updated: %s", chat, message_id, exc
                    )

        self._enqueue(chat, edit)

    async def _confirm_offset(self) -> None:
        """Tell Telegram what was handled, so a restart does not see it again."""
        if self._offset is None:
            return
        with contextlib.suppress(TelegramError, TimeoutError):
            await asyncio.wait_for(
                self.bot.get_updates(offset=self._offset, timeout=0, limit=1), 10
            )

    # -- webhook ------------------------------------------------------------------------------
    async def _start_webhook(self) -> None:
        url = self.settings.url or ""
        path = urlparse(url).path or "/"
        app = web.Application()
        app.router.add_post(path, self._on_webhook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.listen, self.settings.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.webhook_port = sockets[0].getsockname()[1] if sockets else self.settings.port
        await self.caller.call(
            "setWebhook",
            lambda: self.bot.set_webhook(
                url,
                secret_token=self.settings.secret_token,
                allowed_updates=list(ALLOWED_UPDATES),
            ),
            paced=False,
        )

    async def _on_webhook(self, request: web.Request) -> web.Response:
        """One update from Telegram: answer 200 only once it is committed (else it comes again)."""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        expected = self.settings.secret_token or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return web.Response(status=403, text="forbidden")
        try:
            update = Update.de_json(await request.json(), self.bot)
        except Exception:
            log.warning("telegram: webhook body is not an update; ignored")
            return web.Response(status=200)
        if update.update_id in self._handled:
            return web.Response(status=200)
        if not await self._handle_one(update):
            return web.Response(status=500, text="not handled, please retry")
        self._handled.add(update.update_id)
        if len(self._handled) > 100_000:
            self._handled = set(sorted(self._handled)[-50_000:])
        return web.Response(status=200)


def _validate(settings: TelegramSettings) -> None:
    """Check the ``telegram`` section; each problem names its key."""
    problems = []
    if not settings.token:
        problems.append("telegram.token: is required (set TELEGRAM_BOT_TOKEN)")
    if settings.mode == "webhook":
        if not settings.url or urlparse(settings.url).scheme not in ("https", "http"):
            problems.append("telegram.url: webhook mode needs the public https:// URL")
        if not settings.secret_token or not _SECRET.match(settings.secret_token):
            problems.append(
                "telegram.secret_token: webhook mode needs a secret of 1-256 letters, digits, "
                "'_' or '-'"
            )
    if problems:
        raise ConfigError("The telegram section cannot be used.", problems)
