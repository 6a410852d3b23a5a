"""The Slack adapter against a local Web API double, with signed requests to its real endpoint."""

from __future__ import annotations

import asyncio
import copy
import csv
import io
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.adapters.slack import SlackAdapter
from bot.clock import ManualClock
from bot.dispatcher import Dispatcher
from bot.scheduling.channel_prompts import ChannelPrompts
from storage.models import InboundLog, PlatformAddress, Response
from tests.adapters.slack_harness import (
    CAMPAIGN,
    LA_USER,
    ORGANISER,
    SECRET,
    VCS_CHANNEL,
    Harness,
    count,
    ledger_worker,
    running,
    slack_settings,
    stored_name,
)
from tests.conftest import example_data, write_config
from tests.doubles.slack_api import (
    BOT_ID,
    Plan,
    SlackApiDouble,
    block_actions,
    event_callback,
    message_event,
    signed_headers,
    slash_command,
)
from tests.helpers import AwayAtFirst, stored


@pytest.fixture
async def harness(
    slack: SlackApiDouble, sessionmaker: Any, clock: ManualClock
) -> AsyncIterator[Harness]:
    async with running(slack, slack_settings(slack.api_url), sessionmaker, clock) as h:
        yield h


# -- channel prompts ------------------------------------------------------------------------------
async def test_thread_replies_are_stored_with_the_channel_group(harness: Harness) -> None:
    slack = harness.slack
    prompt_ts = await harness.post_prompt()
    [post] = slack.posts(VCS_CHANNEL)
    assert "Tell it as it is" in post["text"] and "never your name" in post["text"]
    assert "/listening stop" in post["text"]
    assert post["metadata"]["event_type"] == "listening_bot_delivery"

    for user, ts, text in (
        ("UVCS00001", "1.000001", "More trust"),
        ("UVCS00002", "1.000002", "Money"),
    ):
        event = message_event(user, VCS_CHANNEL, text, ts, thread_ts=prompt_ts)
        assert await harness.event(event) == 200

    rows = await stored(harness.dispatcher, CAMPAIGN)
    assert [(r.group, r.channel, r.flow, r.step, r.answer) for r in rows] == [
        ("vcs", "slack", "challenge-1", "opening", "More trust"),
        ("vcs", "slack", "challenge-1", "opening", "Money"),
    ]
    assert len({r.participant for r in rows}) == 2
    assert all(r.participant.startswith("P-") for r in rows)
    # Nothing is said in the busy channel.
    assert len(slack.posts(VCS_CHANNEL)) == 1


async def test_top_level_chatter_and_unknown_threads_are_not_stored(harness: Harness) -> None:
    await harness.post_prompt()
    assert await harness.event(message_event("UVCS1", VCS_CHANNEL, "lunch?", "5.1")) == 200
    other_thread = message_event("UVCS1", VCS_CHANNEL, "hi", "5.2", thread_ts="4.0")
    assert await harness.event(other_thread) == 200
    assert await count(harness.dispatcher, Response) == 0


async def test_same_event_retried_is_stored_once(harness: Harness) -> None:
    prompt_ts = await harness.post_prompt()
    body = json.dumps(
        event_callback(message_event("UVCS1", VCS_CHANNEL, "Once", "2.000001", thread_ts=prompt_ts))
    )
    assert await harness.event({}, body=body) == 200
    assert await harness.event({}, body=body, retry_num=1) == 200
    assert [r.answer for r in await stored(harness.dispatcher)] == ["Once"]

    dm = json.dumps(
        event_callback(message_event("UDM1", "D0DM1", "hello", "3.1", channel_type="im"))
    )
    assert await harness.event({}, body=dm) == 200
    posts_after_first = len(harness.slack.posts("D0DM1"))
    logged = await count(harness.dispatcher, InboundLog)
    assert await harness.event({}, body=dm, retry_num=1) == 200
    assert len(harness.slack.posts("D0DM1")) == posts_after_first > 0
    assert await count(harness.dispatcher, InboundLog) == logged


async def test_forged_and_stale_requests_are_rejected(harness: Harness) -> None:
    prompt_ts = await harness.post_prompt()
    raw = json.dumps(
        event_callback(message_event("UVCS1", VCS_CHANNEL, "x", "2.1", thread_ts=prompt_ts))
    )
    forged = signed_headers("not-the-secret", raw)
    stale = signed_headers(SECRET, raw, timestamp=int(time.time()) - 301)
    unsigned = {"Content-Type": "application/json"}
    for headers in (forged, stale, unsigned):
        async with harness.http.post(harness.url, data=raw, headers=headers) as response:
            assert response.status == 401
    await harness.adapter.drain()
    assert await count(harness.dispatcher, Response) == 0
    assert await count(harness.dispatcher, InboundLog) == 2  # only the prompt's own records
    assert len(harness.slack.received("chat.postMessage")) == 1


async def test_bot_messages_are_ignored(harness: Harness) -> None:
    prompt_ts = await harness.post_prompt()
    in_thread = message_event(
        "UOTHERBOT", VCS_CHANNEL, "beep", "2.1", thread_ts=prompt_ts, bot_id="B0OTHER"
    )
    in_dm = message_event("UOTHERBOT", "D0DM9", "beep", "2.2", channel_type="im", bot_id="B0X")
    own = message_event("UBOT0001", "D0DM9", "ours", "2.3", channel_type="im", bot_id=BOT_ID)
    for event in (in_thread, in_dm, own):
        assert await harness.event(event) == 200
    assert await count(harness.dispatcher, Response) == 0
    assert len(harness.slack.received("chat.postMessage")) == 1


async def test_edited_reply_is_updated_and_deleted_reply_removed(harness: Harness) -> None:
    prompt_ts = await harness.post_prompt()
    await harness.event(message_event("UVCS1", VCS_CHANNEL, "Frist", "2.1", thread_ts=prompt_ts))
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel": VCS_CHANNEL,
        "channel_type": "channel",
        "ts": "2.2",
        "event_ts": "2.2",
        "hidden": True,
        "message": {
            "type": "message",
            "user": "UVCS1",
            "text": "First",
            "ts": "2.1",
            "thread_ts": prompt_ts,
            "edited": {"user": "UVCS1", "ts": "2.2"},
        },
        "previous_message": {"type": "message", "user": "UVCS1", "text": "Frist", "ts": "2.1"},
    }
    assert await harness.event(edit) == 200
    [row] = await stored(harness.dispatcher)
    assert (row.answer, row.original_answer) == ("First", "Frist")

    delete = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": VCS_CHANNEL,
        "ts": "2.3",
        "deleted_ts": "2.1",
        "hidden": True,
        "previous_message": {"type": "message", "user": "UVCS1", "text": "First", "ts": "2.1"},
    }
    assert await harness.event(delete) == 200
    assert await stored(harness.dispatcher) == []


async def test_file_upload_in_thread_gets_a_short_private_reply(harness: Harness) -> None:
    prompt_ts = await harness.post_prompt()
    event = message_event(
        "UVCS1",
        VCS_CHANNEL,
        "",
        "2.1",
        thread_ts=prompt_ts,
        subtype="file_share",
        files=[{"id": "F1", "name": "notes.pdf"}],
    )
    assert await harness.event(event) == 200
    [ephemeral] = harness.slack.received("chat.postEphemeral")
    assert ephemeral["user"] == "UVCS1" and "only read text" in ephemeral["text"]
    assert await count(harness.dispatcher, Response) == 0


# -- direct messages -------------------------------------------------------------------------------
async def test_dm_scale_answered_by_button_with_the_mapped_group(harness: Harness) -> None:
    slack, dm = harness.slack, "D0LA00001"
    slack.timezones[LA_USER] = "America/New_York"
    assert await harness.event(message_event(LA_USER, dm, "hello", "1.1", channel_type="im")) == 200
    consent = slack.posts(dm)[-1]
    assert consent["blocks"][-1]["type"] == "actions"
    status, _ = await harness.form(block_actions(LA_USER, dm, consent, 0))  # "Yes"
    assert status == 200
    texts = [m["text"] for m in slack.posts(dm)]
    assert not any("best describes you" in t for t in texts)  # group fixed by slack.users
    assert any("Local authority professionals" in t for t in texts)
    scale = copy.deepcopy(slack.posts(dm)[-1])  # as a stale client still shows it
    assert [b["value"] for b in scale["blocks"][-1]["elements"]] == ["1", "2", "3", "4", "5"]

    status, _ = await harness.form(block_actions(LA_USER, dm, scale, 3))  # "4"
    assert status == 200
    [row] = await stored(harness.dispatcher)
    assert (row.flow, row.step, row.answer, row.group, row.channel) == (
        "pulse",
        "positive",
        "4",
        "la",
        "slack",
    )
    update = slack.received("chat.update")[-1]
    assert update["ts"] == scale["ts"]
    assert all(b["type"] != "actions" for b in update["blocks"])
    assert "You chose: *4" in json.dumps(update["blocks"])

    posts = len(slack.posts(dm))
    status, _ = await harness.form(block_actions(LA_USER, dm, scale, 1))  # pressed again
    assert status == 200
    assert len(await stored(harness.dispatcher)) == 1
    assert len(slack.posts(dm)) == posts
    # Their own timezone was read once (users.info) and kept for quiet hours.
    assert [c["user"] for c in slack.received("users.info")] == [LA_USER]
    async with harness.dispatcher.sessionmaker() as session:
        zone = await session.scalar(
            select(PlatformAddress.timezone).where(PlatformAddress.user_ref == LA_USER)
        )
    assert zone == "America/New_York"


async def test_channel_participant_keeps_the_channel_group_in_dm(harness: Harness) -> None:
    prompt_ts = await harness.post_prompt()
    await harness.event(message_event("UVCS1", VCS_CHANNEL, "Idea", "2.1", thread_ts=prompt_ts))
    await harness.event(message_event("UVCS1", "D0VCS1", "/start", "3.1", channel_type="im"))
    consent = harness.slack.posts("D0VCS1")[-1]
    await harness.form(block_actions("UVCS1", "D0VCS1", consent, 0))
    texts = [m["text"] for m in harness.slack.posts("D0VCS1")]
    assert any("Voluntary and community sector providers" in t for t in texts)
    assert not any("best describes you" in t for t in texts)


# -- outbound ----------------------------------------------------------------------------------
async def test_429_is_retried_after_retry_after(harness: Harness) -> None:
    harness.slack.plan("chat.postMessage", Plan(status=429, retry_after=1))
    started = time.monotonic()
    prompt_ts = await harness.post_prompt()
    calls = [c for c in harness.slack.calls if c.method == "chat.postMessage"]
    assert len(calls) == 2 and calls[1].at - calls[0].at >= 0.95
    assert time.monotonic() - started >= 0.95
    assert len(harness.slack.posts(VCS_CHANNEL)) == 1
    [outcome] = [o for o in harness.outcomes if o.platform_msg_id == prompt_ts]
    assert (outcome.status, outcome.attempts) == ("sent", 2)
    # Posting the same schedule entry again does nothing.
    campaign = harness.dispatcher.settings.campaign(CAMPAIGN)
    entry = next(e.key for e in campaign.schedule if e.flow == "challenge-1")
    assert await harness.adapter.post_channel_prompts(CAMPAIGN, entry, "challenge-1") == []
    assert len(harness.slack.received("chat.postMessage")) == 2


async def test_timed_out_post_is_looked_up_not_posted_again(
    slack: SlackApiDouble, sessionmaker: Any, clock: ManualClock
) -> None:
    settings = slack_settings(slack.api_url)
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    adapter = SlackAdapter(settings.slack, clock, host="127.0.0.1", port=0, post_timeout=1)
    await adapter.start(dispatcher.handle)
    try:
        slack.plan("chat.postMessage", Plan(delay=2.0))  # accepted, but the answer comes late
        campaign = settings.campaign(CAMPAIGN)
        entry = next(e.key for e in campaign.schedule if e.flow == "challenge-2")
        [outcome] = await adapter.post_channel_prompts(CAMPAIGN, entry, "challenge-2")
        assert outcome.status == "sent" and outcome.platform_msg_id == slack.posts()[0]["ts"]
        assert len(slack.received("chat.postMessage")) == 1
        assert slack.received("conversations.history")[0]["include_all_metadata"] in (
            True,
            "true",
            "1",
        )
        # Lookup finds nothing (e.g. the post was never stored): "uncertain", still not re-posted.
        slack.plan("chat.postMessage", Plan(delay=2.0, store=False))
        entry2 = next(e.key for e in campaign.schedule if e.flow == "force-field")
        [outcome2] = await adapter.post_channel_prompts(CAMPAIGN, entry2, "force-field")
        assert outcome2.status == "uncertain"
        assert len(slack.received("chat.postMessage")) == 2
        assert await adapter.post_channel_prompts(CAMPAIGN, entry2, "force-field") == []
    finally:
        await adapter.stop()


# -- /listening -----------------------------------------------------------------------------------
async def test_listening_command_status_and_stop(harness: Harness) -> None:
    prompt_ts = await harness.post_prompt()
    await harness.event(message_event("UVCS1", VCS_CHANNEL, "Idea", "2.1", thread_ts=prompt_ts))

    status, body = await harness.form(slash_command("UVCS1", VCS_CHANNEL, "status"))
    assert status == 200 and "challenge-1" in body and "you've replied" in body
    assert "Responses so far" not in body
    status, body = await harness.form(slash_command(ORGANISER, VCS_CHANNEL, "status"))
    assert "vcs · challenge-1: 1 response(s) from 1 people" in body

    status, body = await harness.form(slash_command("UVCS1", VCS_CHANNEL, "stop"))
    assert status == 200 and "direct messages" in body
    stopped = harness.slack.posts("UVCS1")[-1]
    assert "stopped taking part" in stopped["text"] and not stopped.get("blocks")
    await harness.event(message_event("UVCS1", VCS_CHANNEL, "More", "2.2", thread_ts=prompt_ts))
    assert [r.answer for r in await stored(harness.dispatcher)] == ["Idea"]
    assert "stopped taking part" in harness.slack.received("chat.postEphemeral")[-1]["text"]


# -- Socket Mode --------------------------------------------------------------------------------
async def test_socket_mode_handles_events_and_redeliveries(
    slack: SlackApiDouble, sessionmaker: Any, clock: ManualClock
) -> None:
    settings = slack_settings(slack.api_url, mode="socket")
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    adapter = SlackAdapter(settings.slack, clock, interval=0.0)
    await adapter.start(dispatcher.handle)
    try:
        assert slack.received("apps.connections.open")
        campaign = settings.campaign(CAMPAIGN)
        entry = next(e.key for e in campaign.schedule if e.flow == "challenge-1")
        [prompt] = await adapter.post_channel_prompts(CAMPAIGN, entry, "challenge-1")
        payload = event_callback(
            message_event(
                "UVCS1", VCS_CHANNEL, "Via socket", "2.1", thread_ts=prompt.platform_msg_id
            )
        )
        for attempt, envelope_id in enumerate(("env-1", "env-2")):
            await slack.push_envelope(
                {
                    "envelope_id": envelope_id,
                    "type": "events_api",
                    "payload": payload,
                    "accepts_response_payload": False,
                    "retry_attempt": attempt,
                    "retry_reason": "timeout" if attempt else "",
                }
            )
            await slack.wait_for_ack(envelope_id)
        await adapter.drain()
        rows = await stored(dispatcher)
        assert [(r.answer, r.group, r.channel) for r in rows] == [("Via socket", "vcs", "slack")]
    finally:
        await adapter.stop()


# -- Done means: export shows the thread replies -----------------------------------------------
async def test_export_shows_two_people_in_vcs(
    harness: Harness, db_url: str, tmp_path: Path
) -> None:
    prompt_ts = await harness.post_prompt()
    for user, ts in (("UVCS1", "2.1"), ("UVCS2", "2.2")):
        await harness.event(
            message_event(user, VCS_CHANNEL, f"from {user}", ts, thread_ts=prompt_ts)
        )
    data = example_data()
    data["database_url"] = db_url
    config = write_config(tmp_path, data)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LISTENING_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "export",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    rows = list(csv.DictReader(io.StringIO(out.decode())))
    assert [(r["group"], r["channel"], r["flow"]) for r in rows] == [
        ("vcs", "slack", "challenge-1")
    ] * 2
    assert len({r["participant"] for r in rows}) == 2
    assert not any("UVCS" in r["participant"] for r in rows)


def test_missing_keys_are_named() -> None:
    from bot.errors import ConfigError

    settings = slack_settings("http://127.0.0.1:9/api/")
    bare = settings.slack.model_copy(update={"signing_secret": None})
    with pytest.raises(ConfigError, match="slack.signing_secret"):
        SlackAdapter(bare, ManualClock())
    assert isinstance(ChannelPrompts, type)


# -- odd input and the ack guarantee (issue 9, items 11 and 14) -----------------------------------
async def test_signed_but_unreadable_bodies_get_400_and_log_no_content(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    for raw in ('{"type": "event_callback", "event": {"text": "Sarah Jones 07700', "\u00ff"):
        status = await harness.event({}, body=raw)
        assert status == 400, raw
    form = "payload=" + "%7Bnot-json%20Sarah"
    status, _ = await harness.form(form)
    assert status == 400
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno > 10)
    assert "Sarah" not in logged and "Traceback" not in caplog.text
    assert await count(harness.dispatcher, Response) == 0


async def test_an_unsigned_unreadable_body_is_401_not_400(harness: Harness) -> None:
    raw = "{broken"
    headers = signed_headers("wrong-secret", raw)
    async with harness.http.post(harness.url, data=raw, headers=headers) as response:
        assert response.status == 401


async def test_a_message_without_ts_is_acknowledged_and_never_stored(harness: Harness) -> None:
    prompt_ts = await harness.post_prompt()
    logged = await count(harness.dispatcher, InboundLog)
    reply = message_event("UVCS1", VCS_CHANNEL, "No ts", "", thread_ts=prompt_ts)
    del reply["ts"]
    dm = message_event("UDM7", "D0DM7", "hello", "", channel_type="im")
    del dm["ts"]
    for event in (reply, dm):
        assert await harness.event(event) == 200
    assert await count(harness.dispatcher, Response) == 0
    assert await count(harness.dispatcher, InboundLog) == logged
    assert harness.slack.posts("D0DM7") == []  # nothing was said to anyone


async def test_a_button_press_without_a_message_ts_is_skipped(harness: Harness) -> None:
    dm = "D0LA00002"
    assert await harness.event(message_event(LA_USER, dm, "hi", "1.1", channel_type="im")) == 200
    consent = copy.deepcopy(harness.slack.posts(dm)[-1])
    consent["ts"] = ""
    before = await count(harness.dispatcher, InboundLog)
    status, _ = await harness.form(block_actions(LA_USER, dm, consent, 0))
    assert status == 200
    assert await count(harness.dispatcher, InboundLog) == before


async def test_an_event_not_stored_within_the_budget_is_not_acknowledged_and_its_retry_is_stored(
    slack: SlackApiDouble, sessionmaker: Any, clock: ManualClock
) -> None:
    """The old adapter answered 200 at the budget; a crash then lost the message for good."""
    settings = slack_settings(slack.api_url)
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    stalled = asyncio.Event()

    async def stuck_sink(inbound: Any) -> Any:
        stalled.set()
        await asyncio.Event().wait()  # the database never answers before the process dies

    dying = SlackAdapter(settings.slack, clock, host="127.0.0.1", port=0, ack_budget=0.3)
    await dying.start(stuck_sink)
    body = json.dumps(
        event_callback(message_event("UDM3", "D0DM3", "hello", "7.1", channel_type="im"))
    )
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{dying.port}/slack/events"
        async with http.post(url, data=body, headers=signed_headers(SECRET, body)) as response:
            first_status = response.status
        assert stalled.is_set()
        for task in list(dying._tasks):  # kill -9: nothing in flight survives
            task.cancel()
        await dying.stop()
        assert first_status == 503  # not 200: Slack still owes us this event
        assert await count(dispatcher, InboundLog) == 0

        # The restarted bot gets Slack's retry of the same event and stores it once.
        alive = SlackAdapter(settings.slack, clock, host="127.0.0.1", port=0, interval=0.0)
        await alive.start(dispatcher.handle)
        try:
            url = f"http://127.0.0.1:{alive.port}/slack/events"
            headers = signed_headers(SECRET, body, retry_num=1)
            async with http.post(url, data=body, headers=headers) as response:
                assert response.status == 200
            await alive.drain()
        finally:
            await alive.stop()
    async with dispatcher.sessionmaker() as session:
        ids = list(await session.scalars(select(InboundLog.platform_msg_id)))
    assert ids == ["D0DM3:7.1"]
    said = [p["text"] for p in slack.posts("D0DM3")]
    assert said and len(said) == len(set(said))  # the welcome went out once, nothing twice
    assert "Thanks for your interest" in said[0]


async def test_socket_mode_leaves_a_late_event_unacknowledged(
    slack: SlackApiDouble, sessionmaker: Any, clock: ManualClock
) -> None:
    settings = slack_settings(slack.api_url, mode="socket")
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    release = asyncio.Event()

    async def slow_sink(inbound: Any) -> Any:
        await release.wait()
        return await dispatcher.handle(inbound)

    adapter = SlackAdapter(settings.slack, clock, interval=0.0, ack_budget=0.3)
    await adapter.start(slow_sink)
    try:
        payload = event_callback(message_event("UDM4", "D0DM4", "hi", "8.1", channel_type="im"))
        envelope = {"envelope_id": "env-late", "type": "events_api", "payload": payload}
        await slack.push_envelope(envelope)
        with pytest.raises(AssertionError):
            await slack.wait_for_ack("env-late", timeout=1.0)
        release.set()
        await adapter.drain()
        # Slack redelivers the unacknowledged envelope; now it is stored already and acked.
        await slack.push_envelope({**envelope, "envelope_id": "env-late-2", "retry_attempt": 1})
        await slack.wait_for_ack("env-late-2")
        await adapter.drain()
    finally:
        await adapter.stop()
    assert await count(dispatcher, InboundLog) == 1


async def test_an_invalid_edit_in_a_dm_is_refused_with_the_hint(harness: Harness) -> None:
    slack, dm = harness.slack, "D0LA00003"
    await harness.event(message_event(LA_USER, dm, "hello", "1.1", channel_type="im"))
    await harness.form(block_actions(LA_USER, dm, slack.posts(dm)[-1], 0))  # consent: yes
    assert await harness.event(message_event(LA_USER, dm, "4", "1.2", channel_type="im")) == 200
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel": dm,
        "channel_type": "im",
        "ts": "1.3",
        "hidden": True,
        "message": {"type": "message", "user": LA_USER, "text": "999", "ts": "1.2"},
        "previous_message": {"type": "message", "user": LA_USER, "text": "4", "ts": "1.2"},
    }
    assert await harness.event(edit) == 200
    [row] = await stored(harness.dispatcher)
    assert (row.answer, row.original_answer) == ("4", None)
    assert "Please pick a number from 1 to 5." in slack.posts(dm)[-1]["text"]


async def test_dm_participant_names_are_kept_with_their_address_for_masking(
    harness: Harness,
) -> None:
    harness.slack.names["UDM8"] = "Kirsty Smith"
    assert (
        await harness.event(message_event("UDM8", "D0DM8", "hi", "9.1", channel_type="im")) == 200
    )
    assert await stored_name(harness.dispatcher, "UDM8") == ("Kirsty", "Smith")


async def test_log_lines_above_debug_carry_no_slack_ids_names_or_text(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    slack, dm = harness.slack, "D0SECRET1"
    slack.names["USECRET1"] = "Kirsty Smith"
    prompt_ts = await harness.post_prompt()
    slack.plan("chat.postMessage", *[Plan(status=400, error="not_in_channel")] * 3)
    slack.plan("chat.postEphemeral", Plan(status=400, error="channel_not_found"))
    slack.plan("users.info", Plan(status=400, error="user_not_found"))
    text = "Kirsty here, my secret words"
    await harness.event(message_event("USECRET1", dm, text, "4.1", channel_type="im"))
    upload = message_event(
        "USECRET1", VCS_CHANNEL, "", "4.2", thread_ts=prompt_ts, files=[{"id": "F9"}]
    )
    await harness.event(upload)
    await harness.event({}, body='{"broken": "Kirsty')
    above_debug = "\n".join(r.getMessage() for r in caplog.records if r.levelno > 10)
    assert above_debug  # the failures were logged ...
    for secret in ("USECRET1", "D0SECRET1", "Kirsty", "secret words", VCS_CHANNEL):
        assert secret not in above_debug, secret  # ... without who or what


async def test_thread_repliers_names_are_kept_too(harness: Harness) -> None:
    harness.slack.names["UVCS9"] = "Dan Morris"
    prompt_ts = await harness.post_prompt()
    reply = message_event("UVCS9", VCS_CHANNEL, "Dan here", "6.1", thread_ts=prompt_ts)
    assert await harness.event(reply) == 200
    assert await stored_name(harness.dispatcher, "UVCS9") == ("Dan", "Morris")


async def test_a_retry_reaching_another_worker_posts_no_reply_twice(
    slack: SlackApiDouble, sessionmaker: Any, clock: ManualClock
) -> None:
    """Two adapters on one database stand for two workers behind a load balancer: the event
    goes to one, Slack's retry (``X-Slack-Retry-Num``) to the other; the replies go out once."""
    settings = slack_settings(slack.api_url)
    workers = []
    for _ in range(2):
        dispatcher = Dispatcher(settings, sessionmaker, clock)
        adapter = ledger_worker(settings, dispatcher, sessionmaker, clock)
        await adapter.start(dispatcher.handle)
        workers.append(adapter)
    raw = json.dumps(
        event_callback(
            message_event(LA_USER, "D0LA00001", "hello", slack.next_ts(), channel_type="im")
        )
    )
    try:
        async with aiohttp.ClientSession() as http:
            for adapter, retry in zip(workers, (None, 1), strict=True):
                url = f"http://127.0.0.1:{adapter.port}/slack/events"
                headers = signed_headers(SECRET, raw, retry_num=retry)
                async with http.post(url, data=raw, headers=headers) as response:
                    assert response.status == 200
                await adapter.drain()
    finally:
        for adapter in workers:
            await adapter.stop()
    posts = [p.get("text") for p in slack.received("chat.postMessage")]
    assert len(posts) == len(set(posts)) >= 1
    assert any("agree" in (text or "") for text in posts)


async def test_replies_a_crash_cut_off_are_sent_once_when_the_bot_starts_again(
    slack: SlackApiDouble, sessionmaker: Any, clock: ManualClock
) -> None:
    """The answer was committed but the process died before posting its replies: the next
    start posts them, once; a start after that posts nothing more."""
    settings = slack_settings(slack.api_url)
    dispatcher = Dispatcher(settings, sessionmaker, clock)
    from bot.events import Address, Inbound

    committed = await dispatcher.handle(  # stored, as if the process died right after
        Inbound(
            platform="slack",
            user_ref=LA_USER,
            address=Address("slack", "D0LA00001"),
            received_at=clock.now(),
            kind="text",
            text="hello",
            platform_msg_id="D0LA00001:1700000000.000100",
            group_hint="la",
        )
    )
    assert committed and slack.received("chat.postMessage") == []
    clock.advance(timedelta(seconds=5))
    for _ in range(2):
        adapter = ledger_worker(settings, dispatcher, sessionmaker, clock)
        await adapter.start(dispatcher.handle)
        await adapter.drain()
        await adapter.stop()
    posts = [p.get("text") for p in slack.received("chat.postMessage")]
    assert posts == [r.text for r in committed]


async def test_invisible_thread_replies_are_not_stored(harness: Harness) -> None:
    """A reply that shows nothing (zero-width characters, a lone selector) is never an answer."""
    prompt_ts = await harness.post_prompt()
    for ts, text in (("3.1", "\u200b\u200b"), ("3.2", "\ufe0f"), ("3.3", "Real words")):
        event = message_event("UVCS1", VCS_CHANNEL, text, ts, thread_ts=prompt_ts)
        assert await harness.event(event) == 200
    assert [r.answer for r in await stored(harness.dispatcher)] == ["Real words"]


async def test_stop_in_a_prompt_thread_stops_at_once_and_is_not_an_answer(
    harness: Harness,
) -> None:
    prompt_ts = await harness.post_prompt()
    user = "UVCS00009"
    for ts, text in (("2.000001", "Local groups know families"), ("2.000002", "Stop")):
        event = message_event(user, VCS_CHANNEL, text, ts, thread_ts=prompt_ts)
        assert await harness.event(event) == 200
    event = message_event(user, VCS_CHANNEL, "one more thing", "2.000003", thread_ts=prompt_ts)
    assert await harness.event(event) == 200
    rows = await stored(harness.dispatcher, CAMPAIGN)
    assert [r.answer for r in rows] == ["Local groups know families"]
    notices = [p.get("text") or "" for p in harness.slack.received("chat.postEphemeral")]
    assert any("stopped taking part" in n for n in notices)


async def test_a_reply_killed_while_it_waits_out_a_429_is_sent_once_after_restart(
    slack: SlackApiDouble, sessionmaker: Any, clock: ManualClock
) -> None:
    """The first reply's post gets a 429 (Retry-After 30 s) and the process dies while it waits.
    Slack refused that post and nothing else was written, so the reply must not count as
    possibly delivered: after the restart every reply goes out exactly once, and none counts
    as uncertain. (The attempt used to be noted on the first try and never taken back, so the
    reply counted as in flight when the process died and was never sent.)"""
    from storage.repositories import InboundLogRepo

    settings = slack_settings(slack.api_url)
    dispatcher = Dispatcher(settings, sessionmaker, clock)

    slack.plan("chat.postMessage", Plan(status=429, retry_after=30))
    dying = ledger_worker(settings, dispatcher, sessionmaker, clock)
    await dying.start(dispatcher.handle)
    body = json.dumps(
        event_callback(message_event(LA_USER, "D0LA00429", "hello", "7.2", channel_type="im"))
    )
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{dying.port}/slack/events"
        async with http.post(url, data=body, headers=signed_headers(SECRET, body)) as response:
            assert response.status == 200
    await slack.wait_for("chat.postMessage", 1)
    await asyncio.sleep(0.3)  # well inside the 30 s wait
    running = list(dying._tasks)
    for task in running:  # kill -9: nothing in flight survives
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    await dying.stop()
    assert slack.posts("D0LA00429") == []

    # The dead worker's claim is no longer renewed: once stale, the next start takes its batch.
    clock.advance(timedelta(seconds=dying.claim_stale + 1))
    alive = ledger_worker(settings, dispatcher, sessionmaker, clock)
    await alive.start(dispatcher.handle)
    await alive.drain()
    await alive.stop()
    async with dispatcher.sessionmaker() as session:
        replies = (await session.scalars(select(InboundLog.replies))).one()
        uncertain = await InboundLogRepo(session).uncertain_count("slack")
    said = [p["text"] for p in slack.posts("D0LA00429")]
    assert said == [r["text"] for r in replies]  # every reply, once, in order
    assert uncertain == 0


async def test_cut_off_replies_are_sent_even_if_the_database_is_away_when_the_bot_starts(
    slack: SlackApiDouble, sessionmaker: Any, clock: ManualClock
) -> None:
    """The process died after committing a message's replies; when the next one starts, the
    database does not answer at first (it often is away right after a crash). The look-up for
    cut-off replies is tried again until it works, and they go out once (it used to be tried
    once: they then waited for the next restart)."""

    from bot.events import Address, Inbound

    settings = slack_settings(slack.api_url)

    dispatcher = AwayAtFirst(settings, sessionmaker, clock)
    committed = await dispatcher.handle(
        Inbound(
            platform="slack",
            user_ref=LA_USER,
            address=Address("slack", "D0LA00003"),
            received_at=clock.now(),
            kind="text",
            text="hello",
            platform_msg_id="D0LA00003:1700000000.000300",
            group_hint="la",
        )
    )
    clock.advance(timedelta(seconds=5))
    adapter = ledger_worker(settings, dispatcher, sessionmaker, clock)
    await adapter.start(dispatcher.handle)
    try:
        await slack.wait_for("chat.postMessage", len(committed), timeout=10)
        await adapter.drain()
    finally:
        await adapter.stop()
    assert dispatcher.refusals == 0
    assert [p.get("text") for p in slack.received("chat.postMessage")] == [
        r.text for r in committed
    ]


async def test_a_scheduled_post_is_noted_only_right_before_each_request(
    slack: SlackApiDouble, clock: ManualClock
) -> None:
    """The outbox's "about to send" note (a write note) is taken after every wait, right before
    a request, and taken back after Slack refused one (429): a process killed while the post
    waits out ``Retry-After`` has nothing standing that says it may have been delivered."""
    from bot.adapters.base import noting_writes
    from bot.events import Address, Outbound

    steps: list[tuple[str, float]] = []

    class Note:
        async def before(self) -> None:
            steps.append(("before", time.monotonic()))

        async def refused(self) -> None:
            steps.append(("refused", time.monotonic()))

    settings = slack_settings(slack.api_url)
    adapter = SlackAdapter(settings.slack, clock, host="127.0.0.1", port=0, interval=0.0)
    assert adapter.notes_writes
    await adapter.start(lambda inbound: asyncio.sleep(0, []))
    slack.plan("chat.postMessage", Plan(status=429, retry_after=1))
    try:
        with noting_writes(Note()):
            ts = await adapter.send(Address("slack", "D0LA00004"), Outbound("A prompt"))
    finally:
        await adapter.stop()
    assert ts is not None
    assert [kind for kind, _ in steps] == ["before", "refused", "before"]
    assert steps[2][1] - steps[1][1] >= 0.9  # noted again only after Retry-After
    assert [p.get("text") for p in slack.posts("D0LA00004")] == ["A prompt"]
