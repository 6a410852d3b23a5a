"""Group-limited flows and schedule entries reach only their groups: people, channels, joining."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.clock import ManualClock
from bot.config import Settings
from bot.scheduling.channel_prompts import ChannelPrompts
from bot.scheduling.preview import planned_sends
from tests.conftest import example_data
from tests.helpers import texts
from tests.scheduler.conftest import campaign_settings

FAMILY_QUESTION = "How old is your youngest child?"  # family-services: a parents-only flow
PULSE_QUESTION = "How positive"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def test_a_group_limited_flow_and_entry_go_only_to_their_groups(harness, clock):
    h = harness(
        campaign_settings(
            [
                {"flow": "family-services", "at": "2026-03-03 10:00"},  # the flow says: parents
                {"flow": "pulse", "at": "2026-03-03 11:00", "groups": ["vcs"]},  # the entry says
            ]
        )
    )
    ann = await h.join("ann", "1")  # parents
    val = await h.join("val", "2")  # vcs
    clock.set(utc(2026, 3, 3, 10, 0))
    await h.tick()
    await ann.say("3")  # answer so the next flow is not queued behind this one
    clock.set(utc(2026, 3, 3, 11, 0))
    await h.tick()
    assert [FAMILY_QUESTION in t for t in h.adapter.texts_for("ann")] == [True]
    assert [PULSE_QUESTION in t for t in h.adapter.texts_for("val")] == [True]
    rows = await h.outbox()
    assert sorted((r.flow_id, r.status) for r in rows) == [
        ("family-services", "sent"),
        ("pulse", "sent"),
    ]
    await val.say("4")


async def test_joining_never_starts_a_flow_meant_for_another_group(harness, clock):
    h = harness(campaign_settings([{"flow": "family-services", "after": "0m"}]))
    parent = h.person("ann")
    await parent.say("/start")
    await parent.say("yes")
    assert FAMILY_QUESTION in texts(await parent.say("1"))
    other = h.person("val")
    await other.say("/start")
    await other.say("yes")
    assert FAMILY_QUESTION not in texts(await other.say("2"))


def _slack_settings() -> Settings:
    data = example_data()
    data["telegram"], data["slack"] = {}, {"bot_token": "xoxb-test", "channels": {}}
    data["campaigns"][0]["channels"] = ["slack"]
    return Settings.model_validate(data)


def test_channel_prompts_of_a_group_limited_flow_go_only_to_that_group_s_channels(sessionmaker):
    settings = _slack_settings()
    prompts = ChannelPrompts(settings, sessionmaker, ManualClock(utc(2026, 3, 2, 10, 0)))
    channels = {"CPARENTS": "parents", "CVCS": "vcs"}
    family = prompts.prompts_for(
        "leeds-2026", "family-services@2027-02-08 10:00", "family-services", channels
    )
    assert [p.chat_ref for p in family] == ["CPARENTS"]
    pulse = prompts.prompts_for("leeds-2026", "pulse@0m", "pulse", channels)
    assert [p.chat_ref for p in pulse] == ["CPARENTS", "CVCS"]


def test_the_plan_shows_local_times_quiet_hour_moves_and_sends_after_closing():
    settings = campaign_settings(
        [
            {"flow": "pulse", "at": "2026-07-01 22:30"},  # in quiet hours (21:00-08:00), BST
            {"flow": "challenge-1", "at": "2026-12-31 16:00", "groups": ["vcs"]},
        ],
        quiet_hours="15:00-18:00",
        closes="2026-12-31 17:00",
    )
    campaign = settings.campaigns[0]
    sends = planned_sends(settings, campaign, utc(2026, 3, 2, 10, 0))
    assert [s.when for s in sends] == [
        "Wed 01 Jul 2026 22:30 BST",
        "Thu 31 Dec 2026 18:00 GMT (moved from 16:00 by quiet hours) "
        "(after the campaign closes: not sent)",
    ]
    assert [s.groups for s in sends] == [("parents", "vcs", "cc_staff", "la"), ("vcs",)]
    assert [s.sent for s in sends] == [True, False]
    night = campaign_settings([{"flow": "pulse", "at": "2026-07-01 22:30"}])
    [moved] = planned_sends(night, night.campaigns[0], utc(2026, 3, 2, 10, 0))
    assert moved.when == "Thu 02 Jul 2026 08:00 BST (moved from Wed 01 Jul 22:30 by quiet hours)"
