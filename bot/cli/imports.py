"""``listening-bot imports``: the import batches stored, so one can be checked or undone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from rich import box
from rich.table import Table

from bot.cli._common import (
    CampaignOption,
    ConfigOption,
    _require_database,
    _run,
    _settings,
    _with_session,
    app,
    out,
)


@app.command()
def imports(campaign: CampaignOption = None, config: ConfigOption = None) -> None:
    """List imports (batch, file, source, when, comments, by whom); `import --undo` removes one."""
    from storage.repositories import ImportBatchRepo

    settings = _settings(config)
    if campaign:
        settings.campaign(campaign)
    _require_database(settings)
    batches = _run(_with_session(settings, lambda s: ImportBatchRepo(s).listing(campaign)))
    if not batches:
        where = f" into {campaign}" if campaign else ""
        out.print(f"Nothing has been imported{where} yet.")
        return
    several = len({batch.campaign_id for batch, _ in batches}) > 1
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("batch", no_wrap=True)
    if several:
        table.add_column("campaign", overflow="fold")
    table.add_column("file", overflow="fold")
    table.add_column("source", overflow="fold")
    table.add_column("imported", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("by", overflow="fold")
    for batch, stored in batches:
        known = settings.campaign_by_id.get(batch.campaign_id)
        tz = settings.campaign_tz(known) if known else ZoneInfo(settings.timezone)
        when = batch.imported_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        rows = str(stored) if stored == batch.rows else f"{stored} of {batch.rows}"
        cells = [batch.id, batch.campaign_id] if several else [batch.id]
        table.add_row(*cells, batch.file_name, batch.source, when, rows, batch.imported_by)
    out.print(table)
    out.print("Times are local to each campaign; `listening-bot import --undo BATCH` removes one.")
