"""The Telegram adapter: updates in, the dispatcher's replies out, nothing lost on the way.

We drive ``getUpdates`` ourselves instead of PTB's ``Updater`` so that the offset (Telegram's
acknowledgement) only moves past an update once the dispatcher has committed it: a crash before
the commit means Telegram delivers the update again, and the dispatcher's message-id log makes
that redelivery harmless. Updates come as raw JSON and are read one by one: one that cannot be
read is kept in quarantine and skipped, never holding up the rest. Only the process holding the
polling lease polls (several processes may share a PostgreSQL database). Replies are then sent
from a per-chat queue, in order, paced to Telegram's limits, so a burst of sends never holds up
storing what people say. The delivery guarantees are in README.md ("Delivery guarantees").
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

from bot.adapters.base import (
    InboundSink,
    Leadership,
    ReplyLedger,
    UpdateQuarantine,
    WriteNote,
    write_note,
)
from bot.adapters.reply_claims import ReplyClaims
from bot.adapters.telegram._delivery import (
    Caller,
    CallFailed,
    CallUncertain,
    RetryPolicy,
    retry_after_seconds,
)
from bot.adapters.telegram._inbound import (
    ALLOWED_UPDATES,
    PLATFORM,
    chat_allowed,
    chat_key,
    message_inbound,
)
from bot.adapters.telegram._keyboards import (
    DONE_LABEL,
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
from bot.events import Address, DeliveryOutcome, Inbound, Outbound, PendingReplies
from bot.flows import messages as say
from bot.flows.catalogs import said
from bot.localized import platform_language

log = logging.getLogger(__name__)

OnDelivery = Callable[[DeliveryOutcome], Awaitable[None]]

COMMANDS = (
    ("start", say.COMMAND_START),
    ("help", say.COMMAND_HELP),
    ("stop", say.COMMAND_STOP),
    ("mydata", say.COMMAND_MYDATA),
    ("delete", say.COMMAND_DELETE),
    ("done", say.COMMAND_DONE),
    ("skip", say.COMMAND_SKIP),
)
"""The command menu; descriptions are English msgids, said in each language of the campaign."""
LANGUAGE_COMMAND = ("language", say.COMMAND_LANGUAGE)


def command_menus(
    languages: Sequence[str],
) -> list[tuple[str | None, list[tuple[str, str]]]]:
    """``(language_code, [(command, description)])`` for each ``setMyCommands`` call.

    The first has no language code: everyone whose Telegram language has no menu of its own
    gets the default language's. Each other language of the campaign gets its own (Telegram
    takes two-letter ISO 639-1 codes, so ``pt-BR`` is offered as ``pt``). ``/language`` is
    listed only when there is a choice.
    """
    listed = (*COMMANDS, LANGUAGE_COMMAND) if len(languages) > 1 else COMMANDS

    def menu(lang: str | None) -> list[tuple[str, str]]:
        return [(command, said(description, lang)) for command, description in listed]

    menus: list[tuple[str | None, list[tuple[str, str]]]] = [
        (None, menu(languages[0] if languages else None))
    ]
    codes: set[str] = set()
    for lang in languages[1:]:
        code = lang.split("-", 1)[0].lower()
        if len(code) == 2 and code.isalpha() and code not in codes:
            codes.add(code)
            menus.append((code, menu(lang)))
    return menus


# What a button press is told (a toast), in the language of the person's Telegram app when
# the campaign speaks it: English msgids, translated in bot/locale.
ALREADY_ANSWERED = say.ALREADY_ANSWERED
MOVED_ON = say.MOVED_ON
PICK_FIRST = say.PICK_FIRST
SORRY = "Sorry, something went wrong with that message on our side. Please send it again."
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_POISON_TRIES = 5
CLAIM_STALE = 15.0
"""Webhook mode: seconds after which a claim on replies that was not renewed is taken over (a
live worker renews its claims every third of this, and with every attempt)."""
UNREADABLE = "telegram: skipped an update Telegram sent that could not be read (update %s)"


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
        quarantine: where updates that cannot be read are kept (else they are only skipped).
        leader: the polling lease; only its holder polls (default: always this process).
        request_timeout: seconds a Bot API call may take to answer (long polls get more).
        claim_stale: webhook mode: seconds after which another worker's claim on replies that
            was not renewed is taken over (it renews every third of this while alive).
    """

    name = PLATFORM
    notes_writes = True
    """``send`` keeps a :class:`~bot.adapters.base.WriteNote` (after the rate-limit wait)."""

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
        quarantine: UpdateQuarantine | None = None,
        leader: Leadership | None = None,
        request_timeout: float = 10.0,
        languages: Sequence[str] = (),
        claim_stale: float = CLAIM_STALE,
    ) -> None:
        _validate(settings)
        self.claim_stale = claim_stale
        self.settings = settings
        # The campaign's languages (default first), for the command menu in each of them.
        self.languages = tuple(languages)
        self.clock = clock
        self.on_delivery = on_delivery
        self.ledger = ledger
        self.quarantine = quarantine
        self.leader = leader
        self._replied: list[str] = []
        self._replied_waiting = asyncio.Event()
        self._claims = (
            ReplyClaims(ledger, PLATFORM, clock, claim_stale) if ledger is not None else None
        )
        """Webhook mode: the reply batches this worker claimed and is sending, and the sweep."""
        self._sending: GroupCommitter[str, None] = GroupCommitter(self._note_sending)
        self._started_at = clock.now()
        self._ledger_task: asyncio.Task[None] | None = None
        self.limiter = limiter or RateLimiter()
        self.caller = Caller(self.limiter, retry or RetryPolicy())
        self.poll_timeout = poll_timeout
        self.drain_timeout = drain_timeout
        self.request_timeout = request_timeout
        self.bot = PTBBot(
            settings.token or "",
            base_url=settings.base_url,
            request=HTTPXRequest(
                connection_pool_size=64,
                read_timeout=request_timeout,
                write_timeout=request_timeout,
                pool_timeout=request_timeout,
            ),
            get_updates_request=HTTPXRequest(
                connection_pool_size=2, read_timeout=request_timeout, write_timeout=request_timeout
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
        self._queued: set[str] = set()
        """Messages whose replies sit in this process's chat queues (at most one copy each)."""
        self._spoken: OrderedDict[str, str] = OrderedDict()
        """Per chat, the language of the last message sent there that said its language; see
        :meth:`_language_of`."""
        self._selections: dict[tuple[str, int], tuple[list[str], set[int]]] = {}
        self._handled: set[int] = set()
        self._failures: dict[int, tuple[int, float]] = {}
        self._sends = 0
        self._last_commit = 0.0
        self._offset: int | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._in_batch = False
        self._recovery: asyncio.Task[None] | None = None
        self._recovering = False
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
            for code, menu in command_menus(self.languages):
                await self.caller.call(
                    "setMyCommands",
                    lambda menu=menu, code=code: self.bot.set_my_commands(  # type: ignore[misc]
                        [BotCommand(c, d) for c, d in menu], language_code=code
                    ),
                    paced=False,
                )
            if self.ledger is not None:
                self._ledger_task = asyncio.create_task(self._note_replied_loop())
            if self.settings.mode == "webhook":
                # Before taking updates: a redelivered one must find its replies noted.
                await self._resend_cut_off_replies()
                await self._drain(max(self.drain_timeout, 60.0))
                await self._flush_replied()
                await self._start_webhook()
                if self._claims is not None:
                    self._claims.start(self._send_taken_over)
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
            if self.leader is None or self.leader.held:
                await self._confirm_offset()
            if self.leader is not None:
                await self.leader.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._claims is not None:
            await self._claims.close()
        await self._stop_recovery()
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

    def health(self) -> tuple[bool, str]:
        """For the readiness check: receiving, standing by for the polling lease, or deaf."""
        if not self.started:
            return False, "not started"
        if self.settings.mode == "webhook":
            return self._runner is not None, "webhook"
        if self._poll_task is None or self._poll_task.done():
            return False, "not receiving: polling stopped"
        if self.leader is not None and not self.leader.held:
            return True, "standing by: another process polls"
        return True, "polling"

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
        return await self._deliver(to, message, priority, note=write_note())

    async def _deliver(
        self,
        to: Address,
        message: Outbound,
        priority: int,
        reply_to: str | None = None,
        note: WriteNote | None = None,
    ) -> str | None:
        """Send one message (its pieces in order); each piece is tried until Telegram answers.

        A piece whose request got no answer after it was written may have arrived: it is not
        sent again, the rest still go, and the message is reported ``uncertain`` (returning
        None, as Slack's adapter does). ``reply_to`` is the inbound message this replies to:
        the ledger notes each attempt right before its first request is written. ``note``
        (a scheduled prompt's outbox mark) is kept the same way: awaited after every wait,
        right before the first part's request is written, and taken back after a refused try.

        Raises:
            CallFailed: when a piece could not be sent (the outcome is reported first).
        """
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
        doubt: str | None = None
        self._sends += 1
        number = self._sends
        if note is None and reply_to is not None and self.ledger is not None:
            note = _AttemptNote(self, reply_to)
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
                    repeatable=False,
                    before_send=note.before if note is not None and index == 0 else None,
                    refused=note.refused if note is not None and index == 0 else None,
                )
            except CallUncertain as exc:
                attempts += exc.attempts
                doubt = exc.message
                sent = None
                continue
            except CallFailed as exc:
                attempts += exc.attempts
                if isinstance(note, _AttemptNote) and not note.noted:
                    # A reply given up on stays counted: after a crash the replies after it
                    # (which may have gone out) must not be taken for unsent ones.
                    await note.before()
                where = f" (after {index} of {len(pieces)} parts)" if index else ""
                await self._report(
                    to, message, "failed", attempts, None, exc.message + where, number
                )
                raise
            attempts += tries
        if doubt is not None:
            if reply_to is not None and self.ledger is not None:
                with contextlib.suppress(Exception):
                    await self.ledger.uncertain(PLATFORM, [reply_to])
            await self._report(to, message, "uncertain", attempts, None, doubt, number)
            return None
        assert sent is not None
        if message.lang:
            self._remember_language(chat, message.lang)
        if message.choices or message.prompt_ref:
            # A new question: buttons on older messages no longer answer anything.
            self._live[chat] = max(self._live.get(chat, 0), sent.message_id)
        msg_id = str(sent.message_id)
        await self._report(to, message, "sent", attempts, msg_id, None, number)
        return msg_id

    async def _attempting(self, msg_id: str) -> bool:
        """Note (committed) that a reply to ``msg_id`` is about to be written to Telegram.

        If the database cannot take the note, the reply goes anyway: a person waiting for their
        next question matters more than the rare duplicate a crash right now could then cause.
        """
        try:
            await self._sending.submit(msg_id)
            return True
        except Exception as exc:
            log.warning(
                "telegram: could not note a reply attempt (%s); sending anyway",
                type(exc).__name__,
            )
            return False

    async def _not_attempted(self, msg_id: str) -> bool:
        """Take the note back: Telegram refused that try, so the reply has not arrived.

        Returns False when the database did not take it (the note stands: at worst the reply
        counts as uncertain after a crash, never as two attempts).
        """
        assert self.ledger is not None
        try:
            await self.ledger.not_sent(PLATFORM, [msg_id])
            return True
        except Exception as exc:
            log.warning("telegram: could not note a refused reply (%s)", type(exc).__name__)
            return False

    async def _report(
        self,
        to: Address,
        message: Outbound,
        status: Any,
        attempts: int,
        msg_id: str | None,
        error: str | None,
        number: int = 0,
    ) -> None:
        """Hand the outcome on; logs name the send by its number, never the chat (DEBUG does)."""
        outcome = DeliveryOutcome(
            to, message.prompt_ref, status, attempts, msg_id, error, self.clock.now()
        )
        log.debug("telegram: send #%d to chat %s: %s", number, to.chat_ref, status)
        if status != "sent":
            log.warning(
                "telegram: send #%d %s after %d attempt(s)%s: %s",
                number,
                "may not have arrived (not repeated)" if status == "uncertain" else "failed",
                attempts,
                f" ({message.prompt_ref})" if message.prompt_ref else "",
                error,
            )
        if self.on_delivery is not None:
            try:
                await self.on_delivery(outcome)
            except Exception as exc:
                log.error(
                    "telegram: on_delivery callback failed for send #%d (%s)",
                    number,
                    type(exc).__name__,
                )

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
                except Exception as exc:
                    log.error("telegram: a queued send failed (%s)", type(exc).__name__)
                    log.debug("telegram: queued send to chat %s failed", chat, exc_info=True)
        finally:
            self._workers.pop(chat, None)
            if not queue:
                self._outboxes.pop(chat, None)

    def _queue_replies(
        self,
        address: Address,
        replies: Sequence[Outbound],
        msg_id: str | None = None,
        *,
        claimed: bool = False,
    ) -> None:
        chat = address.chat_ref
        tracked = msg_id is not None and bool(replies) and self.ledger is not None
        if tracked:
            if msg_id in self._queued:
                # This process has this message's replies queued already: Telegram delivered
                # the message again (its offset was never confirmed, e.g. the polling lease was
                # lost and taken back) while the first copy's replies still waited their turn.
                # The inbound log would hand back the replies not yet attempted; one copy of
                # them is enough.
                return
            self._queued.add(msg_id or "")
        if tracked and self.settings.mode == "webhook":
            # Any worker may get any update (or Telegram's redelivery of it): whoever claims
            # the replies in the inbound log sends them, nobody else.
            self._enqueue(
                chat,
                lambda: self._send_claimed(address, list(replies), msg_id or "", claimed),
            )
            self._enqueue(chat, lambda: self._unqueue(msg_id or ""))
            return
        for reply in replies:
            # Each reply's attempt is noted right before its request is written (``reply_to``):
            # after a crash, the ones never attempted are sent, the one in flight is not.
            self._enqueue(
                chat,
                lambda reply=reply: self._deliver(  # type: ignore[misc]
                    address, reply, REPLY, msg_id if tracked else None
                ),
            )
        if tracked:
            # Runs after the replies in this chat's queue, whether they went out or failed.
            self._enqueue(chat, lambda: self._note_replied(msg_id or ""))
            self._enqueue(chat, lambda: self._unqueue(msg_id or ""))

    async def _unqueue(self, msg_id: str) -> None:
        """This message's replies are done (each delivered, failed or uncertain, and noted):
        a later delivery of the message gets what the inbound log says is left, nothing."""
        self._queued.discard(msg_id)

    async def _send_claimed(
        self, address: Address, replies: list[Outbound], msg_id: str, claimed: bool
    ) -> None:
        """Webhook mode: claim one message's replies (unless already claimed for us), send them
        in order while renewing the claim, then note them replied.

        If the claim cannot be made (the database is away), nothing is sent here: the batch
        stays unclaimed and a sweep (:meth:`_send_taken_over`) sends it once the database is back.
        """
        assert self.ledger is not None and self._claims is not None
        if not claimed:
            try:
                if not await self.ledger.claim_sending(PLATFORM, msg_id):
                    return  # another worker (or an earlier delivery) sends them
            except Exception as exc:
                log.warning(
                    "telegram: could not claim replies (%s); a sweep sends them later",
                    type(exc).__name__,
                )
                return
        with self._claims.holding(msg_id):
            for reply in replies:
                with contextlib.suppress(CallFailed):  # already reported
                    await self._deliver(address, reply, REPLY, msg_id)
            await self._note_replied(msg_id)

    def _send_taken_over(self, item: PendingReplies) -> None:
        """Webhook mode: a batch whose sender died, taken over by the sweep (see
        :class:`~bot.adapters.reply_claims.ReplyClaims`): every third of ``claim_stale`` seconds
        this worker's claims are renewed, and any batch whose claim was not renewed for
        ``claim_stale`` (its worker died, here or elsewhere) is claimed and sent, by exactly one
        worker."""
        self._queue_replies(item.address, list(item.replies), item.platform_msg_id, claimed=True)

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
        except Exception as exc:
            # The exception may quote message ids (which hold chat ids): its type only here.
            log.error(
                "telegram: could not note %d delivered replies (%s)",
                len(batch),
                type(exc).__name__,
            )
            log.debug("telegram: noting delivered replies failed", exc_info=True)
            self._replied[:0] = batch

    async def _resend_cut_off_replies(self) -> None:
        """Send replies a crash cut off (committed, never attempted), once, after a restart.

        It runs once the replies to what Telegram redelivered went out and were noted (the
        redelivery path sends those, so they are not sent twice), while new updates are taken
        meanwhile: a person who wrote again since has superseded the old replies, which would
        ask a stale question, so they are not sent.
        """
        if self.ledger is None:
            return
        busy = list(self._workers.values())
        if busy:
            await asyncio.wait(busy)
        pending: list[PendingReplies] | None = None
        delay = 0.5
        while pending is None:
            self._recovering = True  # database work: stop() lets it finish, never cancels it
            try:
                await self._flush_replied()
                if self.settings.mode == "webhook" and self._claims is not None:
                    # Other workers may be sending what they handled before this start: only
                    # batches whose claim went stale are taken (the sweep takes the rest later).
                    pending = await self._claims.recover(self._started_at)
                else:
                    pending = await self.ledger.unreplied(PLATFORM, self._started_at)
            except Exception as exc:
                # The database is away (it often is right after a crash): never give up on
                # them, or they would wait for the next restart.
                log.warning(
                    "telegram: could not look for replies a restart cut off (%s); retrying",
                    type(exc).__name__,
                )
                if self.settings.mode == "webhook":
                    return  # the sweep takes them once the database is back
            finally:
                self._recovering = False
            if pending is None:
                if self._stopping.is_set():
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        if pending:
            log.warning("telegram: sending %d reply batch(es) cut off by a restart", len(pending))
        for item in pending:
            # ``unreplied`` claimed them for this process
            self._queue_replies(
                item.address, list(item.replies), item.platform_msg_id, claimed=True
            )

    async def _stop_recovery(self) -> None:
        task, self._recovery = self._recovery, None
        if task is None:
            return
        if not self._recovering:
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

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
        """getUpdates, handle, and only then confirm (the next call's offset moves past them).

        Only while this process holds the polling lease: two pollers would make Telegram end
        each other's requests (409 Conflict). A process that takes the lease over from one that
        died first sends the replies that one's death cut off.
        """
        delay = failing = 0.0
        recovered = False
        while not self._stopping.is_set():
            if self.leader is not None and not self.leader.held:
                if recovered:
                    log.warning("telegram: polling lease lost; waiting to take it again")
                await self.leader.acquire()
                self._started_at = self.clock.now()
                self._offset, recovered, delay, failing = None, False, 0.0, 0.0
                log.info("telegram: this process now receives updates (polling lease held)")
            if delay or failing:
                await asyncio.sleep(max(delay, failing))
            try:
                raw = await self._get_updates(self.poll_timeout if recovered else 0)
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
            if self.leader is not None and not self.leader.held:
                continue  # another process may hold the lease now: leave these to it
            delay = 0.0
            all_failed = False
            if raw:
                self._in_batch = True
                try:
                    all_failed = await self._handle_raw_batch(raw)
                finally:
                    self._in_batch = False
            # Every update failing means the database (not one message) is in trouble: slow down.
            failing = min(30.0, max(0.5, failing * 2)) if all_failed else 0.0
            if not recovered and len(raw) < 100 and not all_failed:
                # What Telegram redelivered after a restart is handled (a short batch means we
                # caught up): now send what a crash cut off, alongside what comes next.
                await self._stop_recovery()
                self._recovery = asyncio.create_task(
                    self._resend_cut_off_replies(), name="telegram-recovery"
                )
                recovered = True

    async def _get_updates(self, timeout: int) -> list[dict[str, Any]]:
        """One getUpdates call, its result as raw JSON (each update is read on its own).

        ``Bot.get_updates`` reads the whole batch at once: one unreadable update would fail the
        call every time (and PTB would log it, content and all). ``Bot._post`` is the request
        path ``get_updates`` itself uses, without the reading.
        """
        data: dict[str, Any] = {
            "timeout": timeout,
            "limit": 100,
            "allowed_updates": list(ALLOWED_UPDATES),
        }
        if self._offset is not None:
            data["offset"] = self._offset
        result = await self.bot._post(
            "getUpdates", data, read_timeout=self.request_timeout + timeout
        )
        return [u for u in result if isinstance(u, dict)] if isinstance(result, list) else []

    async def _read(self, raw: dict[str, Any]) -> Update | None:
        """The update, or None when it cannot be read (then it is kept in quarantine).

        Raises:
            Exception: when it could not be read and could not be kept either (the database is
                away): the caller must not move past it.
        """
        try:
            update = Update.de_json(raw, self.bot)
            # Reading the chat and sender touches the fields PTB only checks lazily.
            chat_key(update)
            return update
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        update_id = raw.get("update_id")
        if not isinstance(update_id, int):
            log.warning(UNREADABLE, "without an id")
            return None
        if self.quarantine is not None:
            chat_ref, user_ref = _raw_refs(raw)
            await self.quarantine.keep(
                PLATFORM, update_id, raw, error[:2000], chat_ref=chat_ref, user_ref=user_ref
            )
        log.warning(UNREADABLE, update_id)
        return None

    async def _handle_raw_batch(self, raw: list[dict[str, Any]]) -> bool:
        """Read each update on its own and handle the readable ones; True when all failed.

        An unreadable update is kept in quarantine and passed over. If it cannot even be kept
        (the database is away), the offset stops at it: it and what follows come again.
        """
        updates: list[Update] = []
        newest = -1
        stuck: int | None = None
        for item in raw:
            update_id = item.get("update_id")
            try:
                update = await self._read(item)
            except Exception as exc:
                log.error(
                    "telegram: an unreadable update (%s) could not be set aside (%s); it will "
                    "come again",
                    update_id,
                    type(exc).__name__,
                )
                stuck = update_id if isinstance(update_id, int) else None
                break
            if isinstance(update_id, int):
                newest = max(newest, update_id)
            if update is not None:
                updates.append(update)
        all_failed = await self._handle_batch(tuple(updates), newest) if updates else False
        if not updates and newest >= 0:
            self._offset = newest + 1
        if stuck is not None:
            self._offset = stuck if self._offset is None else min(self._offset, stuck)
            return True
        return all_failed

    async def _handle_batch(self, updates: tuple[Update, ...], newest: int = -1) -> bool:
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
        newest = max(newest, *(u.update_id for u in updates))
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
        except Exception as exc:
            # The exception text may quote what the person wrote (e.g. SQL parameters): only
            # its type at ERROR, the traceback at DEBUG.
            log.error(
                "telegram: update %s not handled (%s); it will come again",
                update.update_id,
                type(exc).__name__,
            )
            log.debug("telegram: update %s not handled", update.update_id, exc_info=True)
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
        lang = self._language_of(chat, query.from_user.language_code)
        if press.action == "unknown" or press.action == "noop" or key in self._consumed:
            toast = said(ALREADY_ANSWERED, lang) if press.action != "unknown" else None
            self._answer(query.id, toast)
            return
        # Message ids grow within a chat, so a press on a message older than the latest
        # question is stale. (A press may come in before we read our own send's reply, so a
        # newer message than the one we know about is fine.) After a restart nothing is known
        # and the press is taken.
        if message.message_id < self._live.get(chat, 0):
            self._answer(query.id, said(MOVED_ON, lang))
            self._edit_markup(chat, message.message_id, None)
            return
        if press.action == "toggle":
            labels, selected = self._selections.get(key) or read_multi(markup)
            selected = set(selected) ^ {press.index}
            self._selections[key] = (labels, selected)
            self._answer(query.id)
            done = label_of(markup, "d") or DONE_LABEL  # the Done word keeps its language
            self._edit_markup(chat, message.message_id, multi_keyboard(labels, selected, done))
            return
        if press.action == "done":
            labels, selected = self._selections.get(key) or read_multi(markup)
            if not selected:
                self._answer(query.id, said(PICK_FIRST, lang))
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

    def _remember_language(self, chat: str, lang: str) -> None:
        self._spoken[chat] = lang
        self._spoken.move_to_end(chat)
        while len(self._spoken) > 50_000:
            self._spoken.popitem(last=False)

    def _language_of(self, chat: str, app_language: str | None) -> str | None:
        """The language for a button press's short notice ("Tick at least one option").

        The notice must go at once (the button spins until it does), so there is no time to
        look the person up: it is in the language of the last message this process sent to the
        chat, which is the language they chose (``/language``) or were given. Until this process
        has sent them anything (just after a restart), their Telegram app's language is used.
        """
        if chat in self._spoken:
            return self._spoken[chat]
        return platform_language(app_language, self.languages)

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
                    log.warning("telegram: a keyboard was not updated: %s", exc.message)
                    log.debug("telegram: keyboard of %s/%s not updated", chat, message_id)

        self._enqueue(chat, edit)

    async def _confirm_offset(self) -> None:
        """Tell Telegram what was handled, so a restart does not see it again."""
        if self._offset is None:
            return
        data = {"offset": self._offset, "timeout": 0, "limit": 1}
        with contextlib.suppress(TelegramError, TimeoutError):
            # Not ``get_updates``: the next update may be one it cannot read.
            await asyncio.wait_for(self.bot._post("getUpdates", data), 10)

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
            body = await request.json()
        except Exception:
            body = None
        if not isinstance(body, dict):
            log.warning("telegram: webhook body is not an update; ignored")
            return web.Response(status=200)
        try:
            update = await self._read(body)
        except Exception as exc:
            log.error(
                "telegram: an unreadable update (%s) could not be set aside (%s); asking "
                "Telegram to send it again",
                body.get("update_id"),
                type(exc).__name__,
            )
            return web.Response(status=500, text="not handled, please retry")
        if update is None:
            return web.Response(status=200)  # kept in quarantine: never send it again
        if update.update_id in self._handled:
            return web.Response(status=200)
        if not await self._handle_one(update):
            return web.Response(status=500, text="not handled, please retry")
        self._handled.add(update.update_id)
        if len(self._handled) > 100_000:
            self._handled = set(sorted(self._handled)[-50_000:])
        return web.Response(status=200)


class _AttemptNote:
    """Keeps the ledger's note of one reply's attempt true while Telegram refuses tries."""

    __slots__ = ("adapter", "msg_id", "noted")

    def __init__(self, adapter: TelegramAdapter, msg_id: str) -> None:
        self.adapter = adapter
        self.msg_id = msg_id
        self.noted = False

    async def before(self) -> None:
        if not self.noted:
            self.noted = await self.adapter._attempting(self.msg_id)

    async def refused(self) -> None:
        if self.noted:
            self.noted = not await self.adapter._not_attempted(self.msg_id)


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


def _raw_refs(raw: dict[str, Any]) -> tuple[str | None, str | None]:
    """Best-effort (chat id, sender id) of an update that could not be read, for erasure."""
    chat_ref = user_ref = None
    for value in raw.values():
        if not isinstance(value, dict):
            continue
        message = value.get("message") if isinstance(value.get("message"), dict) else value
        chat = message.get("chat")
        if isinstance(chat, dict) and isinstance(chat.get("id"), int | str):
            chat_ref = str(chat["id"])
        sender = value.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int | str):
            user_ref = str(sender["id"])
        if chat_ref or user_ref:
            break
    if chat_ref is None and user_ref is not None:
        chat_ref = user_ref  # a private chat's id is the person's id
    if user_ref is None and chat_ref is not None and not chat_ref.startswith("-"):
        user_ref = chat_ref
    return chat_ref, user_ref
