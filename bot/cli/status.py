"""``listening-bot status``: participation and the outbox, per campaign and group.

What it prints fits an 80-column terminal: participation and sends are two narrow tables rather
than one wide one, every column folds instead of cutting text off with an ellipsis, and the notes
underneath wrap. Rehearsal data (``run --console``) is left out unless ``--include-rehearsal``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bot.cli._common import (
    CampaignOption,
    ConfigOption,
    IncludeRehearsalOption,
    _require_database,
    _run,
    _settings,
    _view,
    _with_session,
    app,
    out,
)
from bot.config import Campaign
from storage.outbox_repository import CampaignStatusRepo, GroupStatus, OutboxRepo

PARTICIPATION = ("enrolled", "prompted", "answered", "finished", "opted out", "imported")
"""People per group; ``imported`` counts comments loaded with ``import`` (not people)."""
SENDS = ("pending", "sent", "failed", "missed", "uncertain", "queued", "cancelled")
"""Outbox rows per group and status (``pending`` includes sends being attempted; ``uncertain``
may have arrived and is never repeated: see the README's delivery guarantees)."""
_SEND_STATUSES = {"pending": ("pending", "sending")}


@dataclass(frozen=True, slots=True)
class CampaignFigures:
    """Everything ``status`` shows for one campaign, read in one transaction."""

    campaign: Campaign
    groups: list[GroupStatus]
    outbox: dict[tuple[str, str], int]
    imported: dict[str, int]
    rehearsal_participants: int
    include_rehearsal: bool
    notes: list[str] = field(default_factory=list)


@app.command()
def status(
    campaign: CampaignOption = None,
    include_rehearsal: IncludeRehearsalOption = False,
    config: ConfigOption = None,
) -> None:
    """Show participation and sends per campaign and group (rehearsals left out)."""
    from storage.rehearsal import rehearsal_participants
    from storage.stats import imported_counts

    settings = _settings(config)
    chosen = [settings.campaign(campaign)] if campaign else list(settings.campaigns)
    _require_database(settings)

    async def gather(session: Any) -> list[CampaignFigures]:
        rehearsals = await rehearsal_participants(session)
        return [
            CampaignFigures(
                c,
                await CampaignStatusRepo(session).by_group(c.id),
                await OutboxRepo(session).counts(c.id),
                await imported_counts(session, c.id),
                rehearsals,
                include_rehearsal,
                await consent_notes(session, c.id),
            )
            for c in chosen
        ]

    figures = _run(_with_session(settings, gather, view=_view(include_rehearsal)))
    for figure in figures:
        out.print(render_status(figure), soft_wrap=False)
    out.print(Text(_run(_with_session(settings, telegram_faults))))


async def telegram_faults(session: Any) -> str:
    """Telegram's faults (two short lines): unreadable updates kept aside, replies maybe lost."""
    from storage.quarantine import QuarantineRepo
    from storage.repositories import InboundLogRepo

    quarantined = await QuarantineRepo(session).count("telegram")
    uncertain = await InboundLogRepo(session).uncertain_count("telegram")
    return (
        f"Telegram: {quarantined} unreadable update(s) in quarantine;\n"
        f"  {uncertain} repl(ies) may not have arrived (not repeated)"
    )


async def consent_notes(session: Any, campaign_id: str) -> list[str]:
    """How many people agreed to (or withdrew from) each consent text version, as one note."""
    from storage.consent import ConsentRepo

    versions = await ConsentRepo(session).counts(campaign_id)
    if not versions:
        return []
    parts = [
        f"v{v.version} ({v.text_hash[:8]}): {v.agreed} agreed, {v.withdrawn} withdrawn"
        for v in versions
    ]
    return [f"consent in {campaign_id}: " + "; ".join(parts)]


def render_status(figures: CampaignFigures) -> RenderableType:
    """The two tables and the notes for one campaign, each at most 80 columns wide."""
    ids = _group_ids(figures)
    return Group(
        Text(f"{figures.campaign.id}: {figures.campaign.title}", style="bold"),
        participation_table(figures, ids),
        sends_table(figures, ids),
        *(Text(note) for note in _notes(figures)),
    )


def _group_ids(figures: CampaignFigures) -> list[str]:
    """The campaign's groups in config order, then any other group still in the data."""
    known = list(figures.campaign.groups)
    extra = (
        {g.group_id for g in figures.groups}
        | {g for g, _ in figures.outbox}
        | set(figures.imported)
    ) - set(known)
    return known + sorted(extra)


def _table(title: str, columns: tuple[str, ...]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("group", overflow="fold")
    for name in columns:
        table.add_column(name, justify="right", overflow="fold")
    return table


def participation_table(figures: CampaignFigures, ids: list[str]) -> Table:
    """People per group: enrolled (still taking part) to opted out, and imported comments."""
    by_id = {g.group_id: g for g in figures.groups}
    table = _table("People", PARTICIPATION)
    totals = [0] * len(PARTICIPATION)
    for group_id in ids:
        g = by_id.get(group_id, GroupStatus(group_id, 0, 0, 0, 0, 0))
        values = [
            g.enrolled,
            g.prompted,
            g.answered,
            g.finished,
            g.opted_out,
            figures.imported.get(group_id, 0),
        ]
        totals = [a + b for a, b in zip(totals, values, strict=True)]
        table.add_row(group_id, *(str(v) for v in values))
    table.add_row("all", *(str(v) for v in totals), style="bold")
    return table


def sends_table(figures: CampaignFigures, ids: list[str]) -> Table:
    """Scheduled sends per group and outcome."""
    table = _table("Sends", SENDS)
    totals = [0] * len(SENDS)
    for group_id in ids:
        values = [
            sum(figures.outbox.get((group_id, s), 0) for s in _SEND_STATUSES.get(name, (name,)))
            for name in SENDS
        ]
        totals = [a + b for a, b in zip(totals, values, strict=True)]
        table.add_row(group_id, *(str(v) for v in values))
    table.add_row("all", *(str(v) for v in totals), style="bold")
    return table


def _notes(figures: CampaignFigures) -> list[str]:
    notes = [
        "queued: waiting behind another flow; cancelled: finished, stopped or closed before "
        "sending; imported: comments loaded with `import`."
    ]
    n = figures.rehearsal_participants
    people = f"{n} rehearsal participant{'s' if n != 1 else ''}"
    if figures.include_rehearsal and n:
        notes.append(f"Includes {people} from console rehearsals (--include-rehearsal).")
    elif n:
        notes.append(
            f"Left out: {people} from console rehearsals; add --include-rehearsal to count "
            "them, or clear them with `listening-bot reset --rehearsal`."
        )
    return notes + list(figures.notes)
