"""The ``listening-bot`` command line: each command exits 0, 1 (one clear sentence) or 2 (usage)."""

from __future__ import annotations

import asyncio
import enum
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bot.config import Settings, load_settings
from bot.errors import BotError, ConfigError
from bot.timeparse import format_duration

T = TypeVar("T")
app = typer.Typer(
    name="listening-bot",
    help="Run listening exercises for community consultations on Telegram, Slack or the terminal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Campaign YAML (default: $LISTENING_CONFIG or config/campaign.yaml)."
    ),
]
CampaignOption = Annotated[str | None, typer.Option("--campaign", help="Campaign id.")]


def _settings(config: Path | None) -> Settings:
    return load_settings(config)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _prepare_database(settings: Settings) -> None:
    """SQLite databases are created and migrated on first use; others need `db upgrade`.

    Raises:
        BotError: the database cannot be reached, or a server database is behind the code.
    """
    from storage.migrate import database_revision, head_revision, upgrade

    try:
        if settings.database_url.startswith("sqlite"):
            upgrade(settings.database_url)
            return
        current = database_revision(settings.database_url)
    except BotError:
        raise
    except Exception as exc:  # driver errors vary; the message must not leak the URL's password
        raise BotError(f"The database cannot be reached ({type(exc).__name__}).") from None
    if current != head_revision():
        raise BotError("The database is not up to date; run `listening-bot db upgrade` first.")


async def _with_session(settings: Settings, work: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
    from storage.db import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            return await work(session)
    finally:
        await engine.dispose()


def _campaign_id(settings: Settings, campaign: str | None) -> str:
    if campaign:
        return settings.campaign(campaign).id
    if len(settings.campaigns) == 1:
        return settings.campaigns[0].id
    raise BotError("This config has several campaigns; pick one with --campaign.")


# -- run --------------------------------------------------------------------------------------
@app.command()
def run(
    config: ConfigOption = None,
    console: Annotated[
        bool, typer.Option("--console", help="Chat in the terminal as one participant.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what the bot does.")
    ] = False,
) -> None:
    """Start the bot: every adapter the config enables, or the terminal with --console."""
    from bot.app import BotApp
    from bot.logs import configure

    settings = _settings(config)
    configure(settings, verbose=verbose)
    _prepare_database(settings)

    async def main() -> None:
        async with BotApp(settings, console=console) as bot:
            await bot.run()

    _run(main())


# -- check ------------------------------------------------------------------------------------
@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate the config and print groups, flows, campaigns and the next scheduled sends."""
    from bot.schedule_preview import planned_sends

    settings = _settings(config)
    now = datetime.now(UTC)
    out.print(
        f"[bold]Config OK[/bold]: {len(settings.groups)} groups, {len(settings.flows)} flows, "
        f"{len(settings.campaigns)} campaign(s); "
        f"platforms: {', '.join(settings.enabled_platforms())}"
    )
    groups = Table("group", "label", "joins without invite", title="Groups")
    for group in settings.groups:
        groups.add_row(group.id, group.label, "yes" if group.self_select else "invite only")
    out.print(groups)
    flows = Table("flow", "kind", "questions", title="Flows")
    for flow in settings.flows:
        detail = (
            f"opening + {len(flow.probes)} probe(s), "
            f"closes after {format_duration(flow.idle_timeout)} idle"
            if flow.kind == "open"
            else ", ".join(f"{s.id} ({s.type})" for s in flow.steps)
        )
        flows.add_row(flow.id, flow.kind, detail)
    out.print(flows)
    for campaign in settings.campaigns:
        opens, closes = settings.campaign_window(campaign)
        quiet = campaign.quiet_hours or settings.quiet_hours or "none"
        out.print(
            f"[bold]Campaign {campaign.id}[/bold]: {campaign.title}\n"
            f"  groups: {', '.join(campaign.groups)}; channels: "
            f"{', '.join(settings.campaign_channels(campaign))}\n"
            f"  opens: {opens.isoformat() if opens else 'now'}; closes: "
            f"{closes.isoformat() if closes else 'never'}; quiet hours: {quiet}; timezone: "
            f"{settings.campaign_tz(campaign).key}"
        )
        plan = Table("flow", "goes out", title=f"Next sends for {campaign.id}")
        for send in planned_sends(settings, campaign, now):
            plan.add_row(send.flow_id, send.when)
        if campaign.reminders:
            plan.add_row(
                "(reminders)",
                f"after {campaign.reminders.after}, at most "
                f"{campaign.reminders.max}, to people who have not finished",
            )
        out.print(plan)


# -- invite -----------------------------------------------------------------------------------
@app.command()
def invite(
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign id.")],
    group: Annotated[str, typer.Option("--group", help="Group the invitees join as.")],
    count: Annotated[int, typer.Option("--count", min=1, max=10000, help="How many codes.")] = 1,
    max_uses: Annotated[
        int | None, typer.Option("--max-uses", min=1, help="Uses per code (default: unlimited).")
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime, e.g. 14d or P2W.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print invite codes and their Telegram deep links."""
    from bot.invites import create_invites

    settings = _settings(config)
    _prepare_database(settings)
    codes, username = _run(create_invites(settings, campaign, group, count, max_uses, expires))
    for code in codes:
        link = (
            f"https://t.me/{username}?start={code}" if username else "(no Telegram bot configured)"
        )
        out.print(f"{code}\t{link}")


# -- import / export --------------------------------------------------------------------------
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
    config: ConfigOption = None,
) -> None:
    """Load offline comments from CSV: the whole file or nothing."""
    from bot.importing import plan_import
    from storage.repositories import ResponseRepo

    settings = _settings(config)
    chosen = settings.campaign(campaign)
    if group and group not in settings.group_by_id:
        raise BotError(f"There is no group {group!r} in the config.")
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
    config: ConfigOption = None,
) -> None:
    """Export all responses, one row each, with pseudonyms instead of identities."""
    from bot import exporting
    from storage.repositories import ResponseRepo

    settings = _settings(config)
    if campaign:
        settings.campaign(campaign)
    _prepare_database(settings)
    rows = _run(_with_session(settings, lambda s: ResponseRepo(s).rows(campaign_id=campaign)))
    if fmt is ExportFormat.xlsx:
        data, _ = exporting.xlsx_bytes(rows)
        if out_file:
            out_file.write_bytes(data)
        elif sys.stdout.isatty():
            raise BotError("xlsx is binary; pass --out FILE to write it.")
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        return
    writer = exporting.write_csv if fmt is ExportFormat.csv else exporting.write_jsonl
    if out_file:
        with out_file.open("w", encoding="utf-8", newline="") as handle:
            writer(rows, handle)
    else:
        writer(rows, sys.stdout)
        sys.stdout.flush()


# -- forget -----------------------------------------------------------------------------------
@app.command()
def forget(
    participant: Annotated[
        str, typer.Argument(help="The participant's pseudonym, e.g. P-1a2b3c4d5e.")
    ],
    config: ConfigOption = None,
) -> None:
    """Erase one participant's data everywhere (answers, enrolments, platform ids)."""
    from storage.repositories import ParticipantRepo

    settings = _settings(config)
    _prepare_database(settings)

    async def erase(session: Any) -> int:
        repo = ParticipantRepo(session)
        found = await repo.by_pseudonym(participant)
        if found is None:
            raise BotError(f"There is no participant {participant!r}.")
        return await repo.erase(found.id)

    erased = _run(_with_session(settings, erase))
    out.print(f"Erased {participant} and {erased} answer(s).")


# -- db ---------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply database migrations."""
    from storage.migrate import upgrade

    settings = _settings(config)
    try:
        upgrade(settings.database_url)
    except Exception as exc:  # driver errors vary; the message must not leak the URL's password
        raise BotError(f"The database cannot be reached ({type(exc).__name__}).") from None
    out.print("Database is up to date.")


def _register_optional_commands() -> None:
    """Commands whose modules are optional at import time (analysis, report, status)."""
    for module in ("bot.cli_analysis", "bot.cli_status"):
        try:
            __import__(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map errors to the contract's exit codes.

    Typer (standalone) already exits 2 on wrong usage; our own errors become one sentence and
    exit 1, never a traceback.
    """
    _register_optional_commands()
    try:
        app(args=argv, prog_name="listening-bot")
    except ConfigError as exc:
        err.print(f"Error: {exc.message}", markup=False)
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False)
        sys.exit(1)
    except BotError as exc:
        err.print(f"Error: {exc.message}", markup=False)
        sys.exit(1)
