"""The Slack adapter: slack-bolt (async) in Socket Mode or over HTTP, translating to ``Inbound``.

Delivery guarantee: Slack hears "received" only for what is stored. Every listener stores first
and acknowledges after: the dispatcher (or the channel-prompt service) commits in one
transaction, then Slack gets its 200 or envelope ack, and the replies are posted afterwards from a
background task. If storing has not committed within ``ack_budget`` seconds (Slack gives up at
3), the event is *not* acknowledged: over HTTP Slack gets a 503, in Socket Mode the envelope stays
unacknowledged, and Slack sends the event again. The storing carries on meanwhile; if it commits,
the retry finds the message id in the inbound log and stores nothing twice, and if the process
dies first, the retry stores it. A retried or redelivered event (``X-Slack-Retry-Num``, a Socket
Mode redelivery) stores nothing new; its replies are not posted twice because each carries a
delivery key the outbox remembers.

A request that is signed but cannot be read (not JSON, not UTF-8) gets a 400, and an event
without the ``ts`` that identifies it is acknowledged and skipped: neither is logged with its
content.

Several workers on one database: a message's replies are posted by the one worker that claims
them in the inbound log, and by nobody else. That holds in both modes: over HTTP any worker may
get any event or Slack's retry of it, and in Socket Mode an old and a new process overlap while
one restarts (and Slack spreads events over every open connection). The claim is renewed while
its worker posts (with every attempt, and every third of ``claim_stale`` seconds), so:

- a starting process takes only the batches nobody claimed or whose claim went stale: a reply
  another live worker is posting is never posted again;
- a sweep in every worker (every ``claim_stale / 3`` seconds) takes over the batches of a worker
  that died, each by exactly one worker: they go out ``claim_stale`` to about
  ``4/3 * claim_stale`` seconds after it last renewed (6 to 8 s by default, after a crash and a
  quick restart too); the reply whose post may have been on the wire when it died is not posted
  again (it counts as uncertain), the ones after it are;
- the limit: a live worker that cannot renew for ``claim_stale`` seconds (its database stalled
  that long while another worker's sweep gets through) may have its batch taken over, and then
  the replies after the one it is posting can go out twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.base import InboundSink, ReplyLedger, WriteNote, write_note
from bot.adapters.reply_claims import ReplyClaims
from bot.adapters.slack import _blocks
from bot.adapters.slack._outbox import SlackOutbox
from bot.clock import Clock
from bot.config import SlackSettings
from bot.errors import AdapterError, ConfigError
from bot.events import Address, DeliveryOutcome, Inbound, Outbound, PendingReplies
from bot.flows import messages as say
from bot.flows.catalogs import said
from bot.localized import platform_language
from bot.scheduling.channel_prompts import ChannelPrompts, ChannelReply, StatusReport

log = logging.getLogger(__name__)
PLATFORM = "slack"
COMMAND = "/listening"
COMMANDS_HINT = (
    "Use `/listening stop` to stop, `/listening mydata` to see what we hold and "
    "`/listening delete` to erase it."
)
FILE_REPLY = "Thanks! I can only read text, so please type your answer."
HELP = say.SLACK_HELP
"""``/listening`` help (English); :func:`help_text` says it in the person's language."""


def client_language(languages: Sequence[str], locale: str | None) -> str | None:
    """The campaign's language the person's Slack client is set to, else the default."""
    return platform_language(locale, tuple(languages)) or (languages[0] if languages else None)


def help_text(languages: Sequence[str], locale: str | None) -> str:
    """``/listening`` help in the language of the person's Slack client when the campaign
    speaks it (else the campaign's default), with ``/listening language`` when there is a
    choice."""
    lang = client_language(languages, locale)
    text = said(say.SLACK_HELP, lang)
    if len(languages) > 1:
        text += "\n" + said(say.SLACK_HELP_LANGUAGE, lang)
    return text


REPLIED_IN_DM = say.REPLIED_IN_DM
_IGNORED_SUBTYPES = {
    "bot_message",
    "channel_join",
    "channel_leave",
    "channel_topic",
    "channel_purpose",
    "channel_name",
    "pinned_item",
    "unpinned_item",
    "ekm_access_denied",
    "me_message",
}
OnDelivery = Callable[[DeliveryOutcome], Awaitable[None]]
CLAIM_STALE = 6.0
"""Seconds after which a claim on replies that was not renewed is taken over (a live worker
renews every third of this). Shorter than Telegram's: with no polling lease, every restart of
a Slack worker leaves its cut-off replies to the sweep, and a person should not wait long."""


class NotStoredInTime(Exception):
    """Storing an event did not commit within the ack budget, so Slack must send it again."""


class SlackAdapter:
    """VCS providers and council staff in their Slack workspace.

    Args:
        settings: the ``slack`` section (tokens, mode, api_url, port, path, channel and user
            mappings, organisers).
        clock: where "now" comes from.
        channel_prompts: the service that stores thread replies to channel prompts; when None it
            is built from the dispatcher that ``start`` is given (its settings, sessions, clock).
        on_delivery: awaited with every outgoing message's outcome.
        host: the interface the HTTP endpoint listens on (``slack.mode: http``).
        port: overrides ``slack.port`` (0 picks a free port, for tests and benchmarks).
        ack_budget: seconds a listener may work before it acknowledges regardless.
        interval: seconds between posts to one channel.
        post_timeout: seconds before an unanswered Web API call counts as timed out.
        claim_stale: seconds after which another worker's claim on replies that was not
            renewed is taken over (this one renews its own every third of this while alive).
    """

    notes_writes = True
    """``send`` keeps a :class:`~bot.adapters.base.WriteNote` (after the pacing wait)."""

    name = PLATFORM

    def __init__(
        self,
        settings: SlackSettings,
        clock: Clock,
        *,
        channel_prompts: ChannelPrompts | None = None,
        on_delivery: OnDelivery | None = None,
        ledger: ReplyLedger | None = None,
        host: str = "0.0.0.0",
        port: int | None = None,
        ack_budget: float = 2.5,
        interval: float = 1.02,
        post_timeout: int = 10,
        languages: Sequence[str] = (),
        claim_stale: float = CLAIM_STALE,
    ) -> None:
        _validate(settings)
        self.settings = settings
        self.claim_stale = claim_stale
        self.languages = tuple(languages)  # the campaign's, default first (for the help)
        self.clock = clock
        self.channel_prompts = channel_prompts
        self.ledger = ledger
        self._claims = (
            ReplyClaims(ledger, PLATFORM, clock, claim_stale) if ledger is not None else None
        )
        """The reply batches this worker claimed and is posting, and the sweep."""
        self.host = host
        self._port = settings.port if port is None else port
        self.ack_budget = ack_budget
        self.post_timeout = post_timeout
        api_url = settings.api_url if settings.api_url.endswith("/") else settings.api_url + "/"
        # No SDK retry handlers: a post is retried only where we know it was not taken (429s,
        # refused connections), never blindly after a timeout.
        self.client = AsyncWebClient(
            token=settings.bot_token, base_url=api_url, timeout=post_timeout, retry_handlers=[]
        )
        self.outbox = SlackOutbox(self.client, clock, interval=interval, on_delivery=on_delivery)
        self._profiles: dict[str, _Profile] = {}
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.signing_secret or "",
            process_before_response=True,
            request_verification_enabled=settings.mode == "http",
            url_verification_enabled=True,
            name="listening-bot",
            logger=logging.getLogger("slack_bolt.listening"),
        )
        self.app.event("message")(self._on_message)
        self.app.action(re.compile(rf"^{_blocks.ACTION_PREFIX}\d+$"))(self._on_button)
        self.app.command(COMMAND)(self._on_command)
        self.app.event(re.compile(".*"))(self._on_other_event)
        self.app.error(self._on_error)
        self._verifier = SignatureVerifier(settings.signing_secret or "")
        self._sink: InboundSink | None = None
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port: int | None = None

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self, sink: InboundSink) -> None:
        """Check the token, then listen (HTTP endpoint or Socket Mode); returns once listening.

        Replies that an earlier process committed but never sent (it was killed in between) go out
        once, in the background: at once if nobody claimed them or their claim went stale, else
        by the sweep once it does (see the module docstring).
        """
        self._sink = sink
        self._stopping = False
        self._started_at = self.clock.now()
        if self.channel_prompts is None:
            self.channel_prompts = _prompts_from(sink)
        if self.channel_prompts is not None:
            self.channel_prompts.commands_hint = COMMANDS_HINT
        # slack_sdk applies its timeout only to sessions it makes itself, so ours carries it.
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.post_timeout)
        )
        self.client.session = self._session
        try:
            await self.client.auth_test()
            if self.settings.mode == "http":
                await self._start_http()
            else:
                self._socket = AsyncSocketModeHandler(self.app, self.settings.app_token)
                await self._socket.connect_async()
        except BaseException:
            await self.stop()
            raise
        self._spawn(self._resend_cut_off_replies())
        if self._claims is not None:
            self._claims.start(self._send_taken_over)

    async def _resend_cut_off_replies(self) -> None:
        """Send the replies a crash cut off (committed, never sent), once.

        Only messages handled before this start count, and only batches nobody claimed or whose
        claim went stale: another worker may still be posting what it handled before this start
        (an overlapping restart), and it keeps renewing its claim while it does. Each batch is
        claimed for this worker as it is taken, so no other worker posts it too.
        """
        if self._claims is None:
            return
        delay = 0.5
        while True:
            try:
                pending = await self._claims.recover(self._started_at)
                break
            except Exception as exc:  # noqa: BLE001 - the database is away: try again
                # (it often is right after a crash); giving up would leave them for the next
                # restart
                log.warning(
                    "slack: could not look for replies a restart cut off (%s); retrying",
                    _kind(exc),
                )
                if self._stopping:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        if pending:
            log.warning("slack: sending %d reply batch(es) cut off by a restart", len(pending))
        for item in pending:
            # ``unreplied`` handed these over: the replies never tried (the rest of the batch)
            await self._send_replies(
                item.address, list(item.replies), item.platform_msg_id, claimed=True
            )

    def _send_taken_over(self, item: PendingReplies) -> None:
        """A batch the sweep took over from a worker that stopped renewing its claim (it died):
        already claimed for this worker, posted in the background."""
        self._spawn(
            self._send_replies(item.address, list(item.replies), item.platform_msg_id, claimed=True)
        )

    async def _start_http(self) -> None:
        webapp = web.Application()
        webapp.router.add_post(self.settings.path, self._http_handler)
        self._runner = web.AppRunner(webapp, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        sockets = self._runner.addresses
        self.port = sockets[0][1] if sockets else self._port
        log.info("slack events endpoint on %s:%s%s", self.host, self.port, self.settings.path)

    async def _http_handler(self, request: web.Request) -> web.Response:
        """Check the signature, read the body, then let bolt dispatch it.

        The signature is checked before the body is parsed, so only a request Slack signed can
        reach the parser; one that is signed but unreadable is a 400, never a 500.
        """
        raw = await request.read()
        try:
            signed = self._verifier.is_valid(
                raw,
                request.headers.get("X-Slack-Request-Timestamp"),
                request.headers.get("X-Slack-Signature"),
            )
        except ValueError:  # a timestamp that is not a number
            signed = False
        if not signed:
            return web.Response(status=401, text="invalid request")
        try:
            bolt_request = AsyncBoltRequest(
                body=raw.decode("utf-8"),
                query=request.query_string,
                headers=request.headers,  # type: ignore[arg-type]
            )
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("slack: refused a signed request that could not be read (%s)", _kind(exc))
            return web.Response(status=400, text="unreadable request body")
        bolt_response = await self.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def _on_error(self, error: Exception) -> BoltResponse:
        """Bolt's one error handler: not stored in time is a 503 (Slack retries), else a 500.

        Only the error's type is logged above DEBUG: a database error's text can carry a message.
        """
        if isinstance(error, NotStoredInTime):
            log.warning(
                "slack: an event was not stored within %.1fs; Slack will retry it", self.ack_budget
            )
            return BoltResponse(status=503, body="")
        log.error("slack: handling an event failed (%s); Slack will retry it", _kind(error))
        log.debug("slack: the failure in full", exc_info=error)
        return BoltResponse(status=500, body="")

    async def stop(self) -> None:
        """Stop listening, let in-flight work and replies finish, release connections.

        While the replies finish, this worker's claims are still renewed (so nobody takes them
        over mid-batch), but it takes over no other worker's.
        """
        self._stopping = True
        if self._claims is not None:
            self._claims.taking = False
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.drain()
        if self._claims is not None:
            await self._claims.close()
        if self._session is not None:
            await self._session.close()
            self._session = None
            self.client.session = None

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for background work (storing past the ack budget, posting replies)."""
        while self._tasks:
            done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            if pending:
                log.warning("%d slack task(s) still running at shutdown", len(pending))
                for task in pending:
                    task.cancel()
                return

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.error("slack background work failed (%s)", _kind(error))
            log.debug("slack: the failure in full", exc_info=error)

    async def _within_budget(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run the storing work and return once it committed, within the ack budget.

        Raises:
            NotStoredInTime: the budget ran out first. The work goes on in the background, but
                the event is not acknowledged, so Slack sends it again (the inbound log makes
                that retry harmless if the work commits after all).
            Exception: whatever the work raised within the budget (bolt answers 500, Slack
                retries).
        """
        task = self._spawn(coro)
        try:
            await asyncio.wait_for(asyncio.shield(task), self.ack_budget)
        except TimeoutError:
            raise NotStoredInTime() from None

    # -- sending ----------------------------------------------------------------------------
    async def send(self, to: Address, message: Outbound) -> str | None:
        """Post one message; returns its ts, or None when it could not be (or may not be) sent."""
        outcome = await self._post(to, message, key=None, note=write_note())
        return outcome.platform_msg_id if outcome.status == "sent" else None

    async def _post(
        self, to: Address, message: Outbound, key: str | None, note: WriteNote | None = None
    ) -> DeliveryOutcome:
        text, blocks = _blocks.render(message)
        return await self.outbox.post(
            to, text, blocks=blocks, key=key, prompt_ref=message.prompt_ref, note=note
        )

    async def _send_replies(
        self,
        to: Address,
        replies: list[Outbound],
        key: str | None,
        *,
        claimed: bool = False,
    ) -> None:
        """Post a message's replies, once across retries, workers and restarts.

        With a ledger (the dispatcher), the first delivery of the event to claim the message sends
        its replies; a retry of the same event (``X-Slack-Retry-Num``), whichever worker nginx
        hands it to, claims nothing and posts nothing. The claim is held (renewed) until the
        batch is done. Each reply is noted in the ledger right before its request is written
        (after the pacing wait), so after a crash the replies never tried are sent and the one
        that may have arrived counts as uncertain, never doubled.

        If the claim cannot be made (the database is away), nothing is posted here: the batch
        stays unclaimed and a sweep posts it once the database is back.
        """
        if not replies:
            return
        if self._claims is None or key is None:
            await self._post_replies(to, replies, key, None)
            return
        if not claimed:
            try:
                if not await self._claims.ledger.claim_sending(PLATFORM, key):
                    return  # another worker (or an earlier delivery) posts them
            except Exception as exc:  # noqa: BLE001 - see the docstring
                log.warning(
                    "slack: could not claim replies (%s); a sweep posts them later", _kind(exc)
                )
                return
        with self._claims.holding(key):
            await self._post_replies(to, replies, key, self._claims.ledger)

    async def _post_replies(
        self, to: Address, replies: list[Outbound], key: str | None, ledger: ReplyLedger | None
    ) -> None:
        """Post one batch in order, each reply noted in ``ledger`` (when given) as it goes."""
        for index, reply in enumerate(replies):
            note = _ReplyNote(ledger, key) if ledger is not None and key is not None else None
            text, blocks = _blocks.render(reply)
            outcome = await self.outbox.post(
                to,
                text,
                blocks=blocks,
                key=f"{key}#{index}" if key else None,
                prompt_ref=reply.prompt_ref,
                note=note,
            )
            if note is not None and outcome.status == "failed" and not note.noted:
                # Given up on, not in flight: it stays counted, so after a crash the replies
                # after it (which may have gone out) are not taken for unsent ones.
                await note.before()
            if ledger is not None and key is not None and outcome.status == "uncertain":
                await ledger.uncertain(PLATFORM, [key])
        if ledger is not None and key is not None:
            await ledger.replied(PLATFORM, [key])

    async def _ephemeral(self, channel: str, user: str, text: str, thread: str | None) -> None:
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, thread_ts=thread
            )
        except SlackApiError as exc:
            log.warning("slack: could not send a private notice (%s)", exc.response.get("error"))

    async def post_channel_prompts(
        self, campaign_id: str, entry_key: str, flow_id: str
    ) -> list[DeliveryOutcome]:
        """Post a scheduled flow's prompt in every mapped channel whose group takes part.

        Each (campaign, schedule entry, channel) is posted at most once, across restarts: an
        earlier post, or an uncertain one, is not repeated.

        Raises:
            AdapterError: when a post failed outright (it is tried again on the next call).
        """
        prompts = self._require_prompts()
        due = prompts.prompts_for(campaign_id, entry_key, flow_id, self.settings.channels)

        async def one(prompt: Any) -> DeliveryOutcome | None:
            if await prompts.posted(prompt) is not None:
                return None
            address = Address(PLATFORM, prompt.chat_ref)
            outcome = await self.outbox.post(
                address, prompt.text, key=prompt.key, prompt_ref=prompt.ref
            )
            if outcome.status != "failed":
                await prompts.remember(prompt, outcome.platform_msg_id, outcome.status)
            return outcome

        results = [r for r in await asyncio.gather(*(one(p) for p in due)) if r is not None]
        failed = [r for r in results if r.status == "failed"]
        if failed:
            # Raised so a scheduler tries again later; what was posted is remembered and skipped.
            raise AdapterError(
                f"{len(failed)} channel prompt(s) could not be posted: "
                + "; ".join(sorted({str(r.error) for r in failed}))
            )
        return results

    def _require_prompts(self) -> ChannelPrompts:
        if self.channel_prompts is None:
            raise RuntimeError("SlackAdapter needs channel_prompts (or a Dispatcher sink)")
        return self.channel_prompts

    # -- listeners (bolt injects arguments by parameter name) -------------------------------
    async def _on_message(self, body: dict[str, Any]) -> None:
        await self._within_budget(self._handle_message(body.get("event") or {}))

    async def _on_other_event(self, body: dict[str, Any]) -> None:
        """Events we subscribe to but do not use are acknowledged, so Slack does not retry."""

    async def _on_button(self, body: dict[str, Any], ack: Any) -> None:
        await self._within_budget(self._handle_button(body))
        await ack()

    async def _on_command(self, body: dict[str, Any], ack: Any) -> None:
        text = await self._handle_command(body)
        if text:
            await ack(text=text)
        else:
            await ack()

    # -- messages ---------------------------------------------------------------------------
    async def _handle_message(self, event: dict[str, Any]) -> None:
        sink = self._sink
        assert sink is not None
        subtype = event.get("subtype")
        channel = str(event.get("channel") or "")
        if subtype == "message_changed":
            await self._handle_edit(event, channel)
            return
        if subtype == "message_deleted":
            previous = event.get("previous_message") or {}
            if previous.get("bot_id") or not event.get("deleted_ts"):
                return
            await sink(
                Inbound(
                    platform=PLATFORM,
                    user_ref=str(previous.get("user") or ""),
                    address=Address(PLATFORM, channel),
                    received_at=self.clock.now(),
                    kind="delete",
                    edit_of=f"{channel}:{event['deleted_ts']}",
                    raw=event,
                )
            )
            return
        if _from_a_bot(event) or subtype in _IGNORED_SUBTYPES or not event.get("user"):
            return
        user = str(event["user"])
        ts = str(event.get("ts") or "")
        if not ts or not channel:
            # Without them the message has no identity: storing it would file it under a key
            # ("C0VCS:") that every other such message shares. Slack would resend it unchanged.
            log.warning("slack: skipped a message event without a ts or channel")
            return
        text = _blocks.unescape(str(event.get("text") or ""))
        has_files = bool(event.get("files")) or subtype == "file_share"
        if event.get("channel_type") == "im" or channel.startswith("D"):
            profile = await self._user_profile(user)
            inbound = Inbound(
                platform=PLATFORM,
                user_ref=user,
                address=Address(PLATFORM, channel),
                received_at=self.clock.now(),
                kind="media" if has_files else "text",
                text=text,
                platform_msg_id=f"{channel}:{ts}",
                file_id=(event.get("files") or [{}])[0].get("id") if has_files else None,
                group_hint=self.settings.users.get(user),
                timezone=profile.timezone,
                language=profile.locale,
                first_name=profile.first_name,
                last_name=profile.last_name,
                raw=event,
            )
            replies = await sink(inbound)
            self._spawn(self._send_replies(inbound.address, replies, inbound.platform_msg_id))
            return
        thread = event.get("thread_ts")
        if channel not in self.settings.channels or not thread or thread == ts:
            return  # busy channels: only replies in our prompts' threads are ours
        prompts = self.channel_prompts
        if prompts is None:
            log.warning("a thread reply arrived but no channel prompt service is configured")
            return
        if has_files:
            self._spawn(self._ephemeral(channel, user, FILE_REPLY, str(thread)))
            if not text.strip():
                return
        profile = await self._user_profile(user)
        result = await prompts.record_reply(
            ChannelReply(
                PLATFORM,
                user,
                channel,
                str(thread),
                f"{channel}:{ts}",
                text,
                self.clock.now(),
                first_name=profile.first_name,
                last_name=profile.last_name,
            )
        )
        if result.notice:
            self._spawn(self._ephemeral(channel, user, result.notice, str(thread)))

    async def _handle_edit(self, event: dict[str, Any], channel: str) -> None:
        message = event.get("message") or {}
        previous = event.get("previous_message") or {}
        if _from_a_bot(message) or not message.get("ts") or not channel:
            return
        text = _blocks.unescape(str(message.get("text") or ""))
        if previous and _blocks.unescape(str(previous.get("text") or "")) == text:
            return  # an unfurl or a reaction, not an edit of what was said
        assert self._sink is not None
        user = str(message.get("user") or "")
        replies = await self._sink(
            Inbound(
                platform=PLATFORM,
                user_ref=user,
                address=Address(PLATFORM, channel),
                received_at=self.clock.now(),
                kind="edit",
                text=text,
                edit_of=f"{channel}:{message['ts']}",
                raw=event,
            )
        )
        # An edit that does not fit its question is refused with a hint: in a direct message
        # it is said there, in a channel thread only to the person.
        if replies and (event.get("channel_type") == "im" or channel.startswith("D")):
            self._spawn(self._send_replies(Address(PLATFORM, channel), replies, None))
        elif replies and user:
            thread = message.get("thread_ts")
            for reply in replies:
                self._spawn(self._ephemeral(channel, user, reply.text, thread))

    async def _user_profile(self, user: str) -> _Profile:
        """The person's own timezone and display names from users.info (cached).

        The timezone lets quiet hours follow their clock; the names are stored with their
        address only to mask them in reports. Best effort: a slow or failing look-up gives an
        empty profile (the campaign's timezone applies) and never holds up storing the message.
        """
        if user in self._profiles:
            return self._profiles[user]
        try:
            response = await asyncio.wait_for(
                self.client.users_info(user=user, include_locale=True), timeout=1.0
            )
            found = _Profile.of(response.get("user") or {})
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
            log.info("slack: no profile for a user (%s)", type(exc).__name__)
            found = _Profile()
        self._profiles[user] = found
        return found

    # -- buttons ----------------------------------------------------------------------------
    async def _handle_button(self, body: dict[str, Any]) -> None:
        assert self._sink is not None
        action = (body.get("actions") or [{}])[0]
        user = str((body.get("user") or {}).get("id") or "")
        container = body.get("container") or {}
        channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
        message_ts = str(container.get("message_ts") or (body.get("message") or {}).get("ts") or "")
        if not (user and channel and message_ts):
            log.warning("slack: skipped a button press without a user, channel or message ts")
            return
        inbound = Inbound(
            platform=PLATFORM,
            user_ref=user,
            address=Address(PLATFORM, channel),
            received_at=self.clock.now(),
            kind="button",
            text=str(action.get("value") or ""),
            # One answer per question message: a second press (or a retry) is a redelivery.
            platform_msg_id=f"{channel}:{message_ts}:press",
            group_hint=self.settings.users.get(user),
            raw=body,
        )
        replies = await self._sink(inbound)
        label = str((action.get("text") or {}).get("text") or action.get("value") or "")
        self._spawn(self._after_press(body, channel, message_ts, label, inbound, replies))

    async def _after_press(
        self,
        body: dict[str, Any],
        channel: str,
        message_ts: str,
        label: str,
        inbound: Inbound,
        replies: list[Outbound],
    ) -> None:
        message = body.get("message") or {}
        try:
            await self.client.chat_update(
                channel=channel,
                ts=message_ts,
                text=str(message.get("text") or label),
                blocks=_blocks.answered(message.get("blocks"), label),
            )
        except SlackApiError as exc:
            log.warning(
                "slack: could not freeze a pressed question (%s)", exc.response.get("error")
            )
        await self._send_replies(inbound.address, replies, inbound.platform_msg_id)

    # -- /listening ---------------------------------------------------------------------------
    async def _handle_command(self, body: dict[str, Any]) -> str | None:
        user = str(body.get("user_id") or "")
        channel = str(body.get("channel_id") or "")
        words = str(body.get("text") or "").strip().lower().split()
        sub = words[0] if words else "help"
        if sub == "status":
            report = await self._require_prompts().status(
                user, self.settings.users.get(user), organiser=user in self.settings.organisers
            )
            return format_status(report)
        if sub not in ("stop", "mydata", "delete", "language"):
            return help_text(self.languages, await self._language_for(user))
        assert self._sink is not None
        in_dm = channel.startswith("D")
        address = Address(PLATFORM, channel if in_dm else user)
        inbound = Inbound(
            platform=PLATFORM,
            user_ref=user,
            address=address,
            received_at=self.clock.now(),
            text=" ".join([f"/{sub}", *words[1:2]]) if sub == "language" else f"/{sub}",
            platform_msg_id=f"command:{body.get('trigger_id') or uuid.uuid4().hex}",
            group_hint=self.settings.users.get(user),
            raw=body,
        )
        replies = await self._sink(inbound)
        self._spawn(self._send_replies(address, replies, inbound.platform_msg_id))
        if in_dm:
            return None
        spoken = next((reply.lang for reply in replies if reply.lang), None)
        if spoken is None:
            spoken = client_language(self.languages, (await self._user_profile(user)).locale)
        return said(REPLIED_IN_DM, spoken)

    async def _language_for(self, user: str) -> str | None:
        """The language for the adapter's own words: the one the person chose with
        ``/language`` (or at join) when we have it, else their Slack client's locale."""
        if self.languages and self.channel_prompts is not None:
            chosen = await self.channel_prompts.language_of(user)
            if chosen in self.languages:
                return chosen
        return (await self._user_profile(user)).locale


def format_status(report: StatusReport) -> str:
    """``/listening status`` as Slack mrkdwn."""
    lines = []
    if report.open_prompts:
        lines.append("*Open prompts for you:*")
        for ref, answered in report.open_prompts:
            mark = " (you've replied)" if answered else ""
            lines.append(f"• {ref.flow_id} in <#{ref.chat_ref}>{mark}")
    else:
        lines.append("There are no prompts open for you in channels right now.")
    if report.counts is not None:
        lines.append("*Responses so far (per group and flow):*")
        if not report.counts:
            lines.append("• none yet")
        for count in report.counts:
            lines.append(
                f"• {count.campaign_id} · {count.group_id} · {count.flow_id}: "
                f"{count.responses} response(s) from {count.participants} people"
            )
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class _Profile:
    """What users.info tells about a person that the bot keeps (see ``_user_profile``)."""

    timezone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None  # "pl-PL": the language of the person's Slack client

    @classmethod
    def of(cls, user: dict[str, Any]) -> _Profile:
        profile = user.get("profile") or {}
        zone = user.get("tz")
        first = str(profile.get("first_name") or "").strip()
        last = str(profile.get("last_name") or "").strip()
        if not first and not last:
            real = str(profile.get("real_name") or user.get("real_name") or "").split()
            first, last = (real[0], " ".join(real[1:])) if real else ("", "")
        locale = user.get("locale")
        return cls(
            zone if isinstance(zone, str) and zone else None,
            first or None,
            last or None,
            locale if isinstance(locale, str) and locale else None,
        )


class _ReplyNote:
    """Keeps the ledger's count of a reply's attempts true: noted right before each request is
    written (after the pacing wait), taken back after a try Slack refused or never got.

    If the database cannot take the note, the reply goes anyway (a person waiting for their
    next question comes first); a crash in that moment could then repeat it.
    """

    __slots__ = ("key", "ledger", "noted")

    def __init__(self, ledger: ReplyLedger, key: str) -> None:
        self.ledger = ledger
        self.key = key
        self.noted = False

    async def before(self) -> None:
        if self.noted:
            return
        try:
            await self.ledger.sending(PLATFORM, [self.key])
            self.noted = True
        except Exception as exc:  # noqa: BLE001 - see the class docstring
            log.warning("slack: could not note a reply attempt (%s); sending anyway", _kind(exc))

    async def refused(self) -> None:
        if not self.noted:
            return
        try:
            await self.ledger.not_sent(PLATFORM, [self.key])
            self.noted = False
        except Exception as exc:  # noqa: BLE001 - the note stays: at worst counted uncertain
            log.warning("slack: could not take back a reply attempt (%s)", _kind(exc))


def _kind(error: BaseException | None) -> str:
    """An error's type, for log lines that must not carry what a person wrote."""
    return type(error).__name__ if error is not None else "unknown"


def _from_a_bot(event: dict[str, Any]) -> bool:
    return bool(event.get("bot_id") or event.get("bot_profile")) or (
        event.get("subtype") == "bot_message"
    )


def _validate(settings: SlackSettings) -> None:
    """Each mode's required keys, named as in the config file."""
    if not settings.bot_token:
        raise ConfigError("Config 'slack.bot_token' is missing, and the Slack adapter needs it.")
    if settings.mode == "http" and not settings.signing_secret:
        raise ConfigError("Config 'slack.signing_secret' is missing, and http mode needs it.")
    if settings.mode == "socket" and not settings.app_token:
        raise ConfigError("Config 'slack.app_token' is missing, and socket mode needs it.")


def _prompts_from(sink: InboundSink) -> ChannelPrompts | None:
    """The channel-prompt service built from a ``Dispatcher.handle`` sink, if that is the sink."""
    owner = getattr(sink, "__self__", None)
    needed = ("settings", "sessionmaker", "clock")
    if owner is None or not all(hasattr(owner, name) for name in needed):
        return None
    return ChannelPrompts(owner.settings, owner.sessionmaker, owner.clock, platform=PLATFORM)
