"""What every command shares: the Typer app, common options, settings and database helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from bot.config import Settings, load_settings
from bot.errors import BotError

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
