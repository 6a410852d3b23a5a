"""Retention from the config: the plan ``check`` prints, ``purge``, and the daily job in ``run``."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Campaign, Settings
from bot.privacy import audit
from storage.retention import CampaignRetention, PurgeReport, purge

log = logging.getLogger(__name__)
DAILY = timedelta(days=1)


def policies(settings: Settings) -> list[CampaignRetention]:
    """Each campaign with a ``retention`` section and a close date, as moments in UTC."""
    found = []
    for campaign in settings.campaigns:
        retention = campaign.retention
        _, closes = settings.campaign_window(campaign)
        if retention is None or closes is None:
            continue
        contact, answers = retention.contact_limit(), retention.answers_limit()
        found.append(
            CampaignRetention(
                campaign.id,
                closes + contact if contact is not None else None,
                closes + answers if answers is not None else None,
                retention.anonymise,
                contact,
            )
        )
    return found


def plan_lines(settings: Settings, campaign: Campaign) -> list[str]:
    """What ``check`` says about a campaign's retention, in the campaign's local time."""
    retention = campaign.retention
    if retention is None:
        return ["kept until deleted (no retention set)"]
    _, closes = settings.campaign_window(campaign)
    if closes is None:
        return ["retention counts from the close, but this campaign has no `closes` date"]
    tz = settings.campaign_tz(campaign)
    lines = []
    contact = retention.contact_limit()
    if contact is None:
        lines.append("contact details: kept until deleted")
    else:
        when = (closes + contact).astimezone(tz)
        lines.append(
            f"contact details deleted from {when:%d %b %Y %H:%M} "
            f"({retention.contact_details} after close)"
        )
    answers = retention.answers_limit()
    if answers is None:
        lines.append("answers: kept until deleted")
    else:
        when = (closes + answers).astimezone(tz)
        verb = "anonymised (kept without any pseudonym)" if retention.anonymise else "deleted"
        lines.append(f"answers {verb} from {when:%d %b %Y %H:%M} ({retention.answers} after close)")
    return lines


async def run_purge(
    session: AsyncSession, settings: Settings, now: datetime, *, apply: bool
) -> PurgeReport:
    """Purge (or with ``apply=False`` only list) what retention removes now; audit a real run."""
    report = await purge(session, policies(settings), now, apply=apply)
    if apply and not report.empty:
        await audit.record(session, "purge", at=now, **report.counts())
    return report


async def daily_purge(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: Clock,
    stop: asyncio.Event,
    *,
    every: timedelta = DAILY,
) -> None:
    """The job in ``run``: purge once at start, then every day, until ``stop`` is set."""
    if not policies(settings):
        return
    while not stop.is_set():
        try:
            async with sessionmaker.begin() as session:
                report = await run_purge(session, settings, clock.now(), apply=True)
            if not report.empty:
                log.warning("retention purge: %s", report.counts())
        except Exception:  # the next day tries again; the bot must not stop over it
            log.exception("retention purge failed; it will be tried again")
        try:
            await asyncio.wait_for(stop.wait(), every.total_seconds())
        except TimeoutError:
            pass
