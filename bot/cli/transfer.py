"""``listening-bot import`` and ``export``: comments in from files, responses out to files."""

from __future__ import annotations

import enum
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli._common import (
    CampaignOption,
    ConfigOption,
    ForceOption,
    IncludeRehearsalOption,
    _prepare_database,
    _require_database,
    _run,
    _settings,
    _view,
    _with_session,
    app,
    atomic_output,
    check_output_path,
    err,
    out,
)
from bot.errors import BotError


@app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(help="CSV with a text column; optional group, submitted_at.")
    ],
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign id.")],
    group: Annotated[
        str | None, typer.Option("--group", help="Group for rows without one.")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Label, e.g. 'workshop-2026-03'.")
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", help="Skip bad rows (named) instead of refusing the file."),
    ] = False,
    flow: Annotated[
        str | None,
        typer.Option("--flow", help="Flow the comments answer (themes analyse them with it)."),
    ] = None,
    step: Annotated[
        str | None, typer.Option("--step", help="Free-text step of --flow they answer.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Load offline comments from CSV: the whole file or nothing."""
    from bot.exchange.importing import plan_import
    from storage.repositories import ResponseRepo

    settings = _settings(config)
    chosen = settings.campaign(campaign)
    if group and group not in settings.group_by_id:
        raise BotError(f"There is no group {group!r} in the config.")
    question = _import_question(settings, flow, step)
    _prepare_database(settings)
    plan = plan_import(
        file,
        campaign_id=chosen.id,
        known_groups=set(chosen.groups),
        default_group=group,
        source=source or file.stem,
        tz=settings.campaign_tz(chosen),
        now=datetime.now(UTC),
        skip_invalid=skip_invalid,
        question=question,
    )

    async def store(session: Any) -> int:
        from sqlalchemy import select

        from storage.models import Response

        first = plan.responses[0].source_msg_id
        if await session.scalar(select(Response.id).where(Response.source_msg_id == first)):
            raise BotError(f"{file} was already imported; nothing was added.")
        return await ResponseRepo(session).add_many(plan.responses)

    added = _run(_with_session(settings, store))
    out.print(f"Imported {added} comment(s) from {file} ({plan.encoding}) into {chosen.id}.")
    for note in plan.skipped:
        err.print(f"Skipped: {note}.")


def _import_question(settings: Any, flow: str | None, step: str | None) -> tuple[str, str] | None:
    """(flow, step) that imported comments answer, checked against the config; None for none."""
    if flow is None:
        if step is not None:
            raise typer.BadParameter("--step needs --flow.", param_hint="--step")
        return None
    known = settings.flow_by_id.get(flow)
    if known is None:
        raise BotError(f"There is no flow {flow!r} in the config.")
    if known.kind == "open":
        if step is not None:
            raise BotError(f"Flow {flow!r} is an open conversation; leave out --step.")
        return (flow, "import")
    texts = [s.id for s in known.steps if s.type == "text"]
    if step not in texts:
        choices = ", ".join(texts) or "none"
        raise BotError(f"--step must be a free-text step of {flow!r} (one of: {choices}).")
    return (flow, step)


class ExportFormat(enum.StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    xlsx = "xlsx"


@app.command()
def export(
    campaign: CampaignOption = None,
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="Output format.")
    ] = ExportFormat.csv,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: standard output).")
    ] = None,
    redact: Annotated[
        bool,
        typer.Option(
            "--redact",
            help="Mask names, phone numbers, emails, postcodes and profile links in answers.",
        ),
    ] = False,
    force: ForceOption = False,
    include_rehearsal: IncludeRehearsalOption = False,
    config: ConfigOption = None,
) -> None:
    """Export all responses, one row each, with pseudonyms instead of identities.

    ``--redact`` masks identifying details in the ``answer`` column of every format (the
    database keeps the answers as sent).

    ``--out`` never replaces the database or config file, replaces another existing file only
    with ``--force``, and is written through a temporary file, so a failed export leaves no half
    file behind.
    """
    from bot.exchange import exporting
    from storage.repositories import ResponseRepo

    settings = _settings(config)
    if campaign:
        settings.campaign(campaign)
    target = None
    if out_file is not None:
        suffix_ok = fmt is not ExportFormat.xlsx or out_file.suffix.lower() == ".xlsx"
        target = check_output_path(
            out_file,
            settings=settings,
            config=config,
            force=force,
            ours=lambda head: suffix_ok and exporting.looks_like_export(head, fmt.value),
        )
    _require_database(settings)
    view = _view(include_rehearsal)
    rows = _run(
        _with_session(settings, lambda s: ResponseRepo(s).rows(campaign_id=campaign), view=view)
    )
    if redact:
        from bot.redaction import Redactor
        from storage.repositories import ParticipantRepo

        names = _run(_with_session(settings, lambda s: ParticipantRepo(s).names(), view=view))
        redactor = Redactor(name for pair in names.values() for name in pair)
        rows = exporting.redacted(rows, redactor, names)
    from bot.exchange.language_columns import language_columns

    extra = language_columns(settings, rows)
    if fmt is ExportFormat.xlsx:
        data, _ = exporting.xlsx_bytes(rows, extra)
        if target is not None:
            with atomic_output(target, binary=True) as handle:
                handle.write(data)
        elif sys.stdout.isatty():
            raise BotError("xlsx is binary; pass --out FILE to write it.")
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        return
    writer = exporting.write_csv if fmt is ExportFormat.csv else exporting.write_jsonl
    if target is not None:
        with atomic_output(target) as handle:
            writer(rows, handle, extra)
    else:
        writer(rows, sys.stdout, extra)
        sys.stdout.flush()
