"""``listening-bot import`` and ``export``: comments in from files, responses out to files."""

from __future__ import annotations

import enum
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from bot.cli._common import (
    CampaignOption,
    ConfigOption,
    ForceOption,
    IncludeRehearsalOption,
    _campaign_id,
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
from bot.cli.audit import audited
from bot.config import Settings
from bot.errors import BotError


@app.command("import")
def import_(
    file: Annotated[
        Path | None,
        typer.Argument(
            metavar="FILE",
            help="CSV with a comments column (text, comment, comments, response or answer); "
            "optional group, submitted_at.",
        ),
    ] = None,
    campaign: Annotated[
        str | None,
        typer.Option("--campaign", help="Campaign id (needed when the config has several)."),
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="Group (id or label) for rows without one.")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Label, e.g. 'workshop-2026-03'.")
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", help="Skip bad rows (named) instead of refusing the file."),
    ] = False,
    text_column: Annotated[
        str | None,
        typer.Option(
            "--text-column",
            metavar="NAME",
            help="Header of the comments column, if not a usual name.",
        ),
    ] = None,
    dayfirst: Annotated[
        bool | None,
        typer.Option(
            "--dayfirst/--monthfirst",
            help="Read 03/04/2027 as 3 April (day first) or 4 March (month first); "
            "default from the campaign's timezone (America/* month first, others day first).",
        ),
    ] = None,
    flow: Annotated[
        str | None,
        typer.Option("--flow", help="Flow the comments answer (themes analyse them with it)."),
    ] = None,
    step: Annotated[
        str | None, typer.Option("--step", help="Free-text step of --flow they answer.")
    ] = None,
    undo: Annotated[
        str | None,
        typer.Option(
            "--undo", metavar="BATCH", help="Remove every comment one import added (see `imports`)."
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Undo without asking to confirm.")] = False,
    translation_of: Annotated[
        bool,
        typer.Option(
            "--translation-of",
            help="FILE holds English translations of stored answers (columns response_id and "
            "translation), kept beside them so themes cover answers in other languages.",
        ),
    ] = False,
    include_rehearsal: Annotated[
        bool,
        typer.Option(
            "--include-rehearsal",
            help="With --translation-of: console rehearsals' answers may be translated too.",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Load offline comments from CSV (the whole file or nothing), or undo an import; with
    ``--translation-of``, English translations of stored answers, kept beside them."""
    settings = _settings(config)
    if translation_of:
        if file is None or undo is not None or flow or step or group or skip_invalid:
            raise typer.BadParameter(
                "--translation-of takes FILE and optionally --campaign, --text-column and "
                "--include-rehearsal only"
            )
        _import_translations(
            settings,
            file,
            _campaign_id(settings, campaign),
            text_column,
            view=_view(include_rehearsal),
        )
        return
    if include_rehearsal:
        raise typer.BadParameter("--include-rehearsal applies to --translation-of only")
    if undo is not None:
        if file is not None:
            raise typer.BadParameter("give either FILE or --undo BATCH, not both")
        _undo_import(settings, undo, yes=yes)
        return
    if file is None:
        raise typer.BadParameter("give the CSV FILE to import, or --undo BATCH")
    _import_file(
        settings,
        file,
        campaign_id=_campaign_id(settings, campaign),
        question=_import_question(settings, flow, step),
        default_group=group,
        source=source or file.stem,
        skip_invalid=skip_invalid,
        text_column=text_column,
        dayfirst=dayfirst,
    )


def _import_file(
    settings: Settings,
    file: Path,
    *,
    campaign_id: str,
    default_group: str | None,
    source: str,
    skip_invalid: bool,
    text_column: str | None,
    dayfirst: bool | None,
    question: tuple[str, str] | None = None,
) -> None:
    """Check the whole file, then store it as one batch."""
    from bot.exchange.import_dates import DateOrder
    from bot.exchange.importing import group_resolver, os_user, plan_import, store_import

    chosen = settings.campaign(campaign_id)
    groups = [settings.group_by_id[g] for g in chosen.groups if g in settings.group_by_id]
    fallback = None
    if default_group:
        fallback = group_resolver(groups).get(" ".join(default_group.split()).casefold())
        if fallback is None:
            raise BotError(
                f"--group {default_group!r} is not a group of {chosen.id} "
                f"(its groups: {', '.join(chosen.groups)})."
            )
    tz_name = chosen.timezone or settings.timezone
    order = DateOrder(dayfirst) if dayfirst is not None else DateOrder.for_timezone(tz_name)
    _prepare_database(settings)
    now = datetime.now(UTC)
    plan = plan_import(
        file,
        campaign_id=chosen.id,
        groups=groups,
        default_group=fallback,
        source=source,
        tz=settings.campaign_tz(chosen),
        now=now,
        skip_invalid=skip_invalid,
        text_column=text_column,
        dates=order,
        question=question,
    )

    async def store(session: Any) -> Any:
        from bot.privacy import audit

        batch = await store_import(
            session,
            plan,
            campaign_id=chosen.id,
            file_name=file.name,
            source=source,
            imported_by=os_user(),
            now=now,
        )
        await audit.record(session, "import", campaign_id=chosen.id, at=now, rows=batch.rows)
        return batch

    batch = _run(_with_session(settings, store))
    out.print(
        f"Imported {batch.rows} comment(s) from {file} ({plan.encoding}) into {chosen.id} "
        f"as batch {batch.id}; `listening-bot import --undo {batch.id}` removes them."
    )
    dates = "day first" if order.dayfirst else "month first"
    out.print(f"Read {plan.columns}; slashed dates {dates}.")
    for note in plan.skipped:
        err.print(f"Skipped: {note}.")


def _import_translations(
    settings: Settings,
    file: Path,
    campaign_id: str,
    text_column: str | None,
    *,
    view: Any = "live",
) -> None:
    """Store English translations beside a campaign's answers: all of the file or none of it."""
    from bot.exchange.answer_translations import plan_translations, store_translations

    plan = plan_translations(file, text_column=text_column)
    _prepare_database(settings)
    now = datetime.now(UTC)

    async def store(session: Any) -> tuple[int, int]:
        from bot.privacy import audit

        stored = await store_translations(
            session, plan, campaign_id=campaign_id, now=now, rehearsal_included=view == "all"
        )
        await audit.record(
            session, "import-translation", campaign_id=campaign_id, at=now, rows=stored[0]
        )
        return stored

    stored, replaced = _run(_with_session(settings, store, view=view))
    again = f", {replaced} replacing an earlier translation" if replaced else ""
    out.print(
        f"Stored {stored} English translation(s) beside the answers of {campaign_id}{again}; "
        "themes and the report now analyse them, and show the answers as written.",
        markup=False,
    )
    out.print(f"Read {plan.columns}.", markup=False)
    if plan.blank:
        err.print(f"Skipped {plan.blank} row(s) with no translation.")


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


def _confirmed(question: str) -> bool:
    """Ask on the terminal; no answer at all (end of input) means no."""
    try:
        return typer.confirm(question, default=False)
    except typer.Abort:
        return False


def _undo_import(settings: Settings, batch_id: str, *, yes: bool) -> None:
    """Remove one batch and its comments, after the organiser confirms."""
    from storage.repositories import ImportBatchRepo

    _prepare_database(settings)
    wanted = batch_id.strip().upper()
    batch = _run(_with_session(settings, lambda s: ImportBatchRepo(s).get(wanted)))
    if batch is None:
        raise BotError(
            f"There is no import batch {batch_id!r}; `listening-bot imports` lists them."
        )
    question = (
        f"Remove batch {batch.id} ({batch.rows} comment(s) from {batch.file_name}, "
        f"imported into {batch.campaign_id})?"
    )
    if not yes and not _confirmed(question):
        raise BotError("Nothing was removed.")
    removed = _run(_with_session(settings, lambda s: ImportBatchRepo(s).remove(batch.id)))
    audited(settings, "import-undo", batch.campaign_id, rows=removed)
    out.print(f"Removed batch {batch.id}: {removed} comment(s) from {batch.file_name}.")


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
    bom: Annotated[
        bool,
        typer.Option("--bom", help="Start the CSV with a byte-order mark so Excel reads UTF-8."),
    ] = False,
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

    if bom and fmt is not ExportFormat.csv:
        raise typer.BadParameter("--bom applies to --format csv only")

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
    audited(
        settings,
        "export",
        campaign,
        rows=len(rows),
        format=fmt.value,
        redacted=redact,
        rehearsal_included=include_rehearsal,
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
        data, _ = exporting.xlsx_bytes(rows, _xlsx_context(settings, campaign), extra)
        if target is not None:
            with atomic_output(target, binary=True) as handle:
                handle.write(data)
        elif sys.stdout.isatty():
            raise BotError("xlsx is binary; pass --out FILE to write it.")
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        return

    def writer(rows: Any, handle: Any, extra: Any) -> int:
        if fmt is ExportFormat.csv:
            return exporting.write_csv(rows, handle, extra, bom=bom)
        return exporting.write_jsonl(rows, handle, extra)

    if target is not None:
        with atomic_output(target) as handle:
            writer(rows, handle, extra)
    else:
        writer(rows, sys.stdout, extra)
        sys.stdout.flush()


def _xlsx_context(settings: Settings, campaign: str | None) -> Any:
    """The zone for local times: the campaign's, or the one all exported campaigns share, or
    the config's ``timezone`` when they differ (the column header names it either way)."""
    from bot.exchange.xlsx_export import XlsxContext

    chosen = [settings.campaign(campaign)] if campaign else settings.campaigns
    zones = {settings.campaign_tz(c).key for c in chosen}
    zone = settings.campaign_tz(chosen[0]) if len(zones) == 1 else ZoneInfo(settings.timezone)
    return XlsxContext(zone, settings.flow_by_id)
