"""What every command shares: the Typer app, common options, settings and database helpers."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import typer
from rich.console import Console

from bot.config import DEFAULT_CONFIG_PATH, Settings, load_settings, sqlite_path
from bot.errors import BotError
from storage.rehearsal import DataView

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
IncludeRehearsalOption = Annotated[
    bool,
    typer.Option(
        "--include-rehearsal",
        help="Also count what console rehearsals (run --console) stored; left out by default.",
    ),
]


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


def _require_database(settings: Settings) -> None:
    """For commands that only read: use the database that exists, never create one.

    A missing SQLite file (or an empty database) is one sentence naming where it was looked
    for, so running ``status`` from the wrong folder or with a mistyped ``database_url`` cannot
    silently report zeros from a fresh, empty file. An existing SQLite database made by an older
    version is migrated, as every command does.

    Raises:
        BotError: there is no database, it is empty, it is behind the code, or unreachable.
    """
    from storage.migrate import database_revision, head_revision

    path = sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        raise BotError(
            f"There is no database at {path} (database_url in the config); nothing was created, "
            "so start the bot or import comments first, or point --config at the right file."
        )
    try:
        current = database_revision(settings.database_url)
    except Exception as exc:  # driver errors vary; the message must not leak the URL's password
        raise BotError(f"The database cannot be reached ({type(exc).__name__}).") from None
    if current is None:
        where = f"at {path}" if path is not None else "in database_url"
        raise BotError(f"The database {where} is empty; nothing has been stored there yet.")
    if current != head_revision():
        _prepare_database(settings)


def _view(include_rehearsal: bool) -> DataView:
    """The data a reading command sees: live data, or live and rehearsal data together."""
    return "all" if include_rehearsal else "live"


async def _with_session(
    settings: Settings,
    work: Callable[[Any], Coroutine[Any, Any, T]],
    *,
    view: DataView = "live",
) -> T:
    """Run ``work`` in one transaction; ``view`` picks live, rehearsal or all data."""
    from storage.db import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine, view).begin() as session:
            return await work(session)
    finally:
        await engine.dispose()


def _campaign_id(settings: Settings, campaign: str | None) -> str:
    if campaign:
        return settings.campaign(campaign).id
    if len(settings.campaigns) == 1:
        return settings.campaigns[0].id
    raise BotError("This config has several campaigns; pick one with --campaign.")


# -- files a command writes -----------------------------------------------------------------------
SQLITE_MAGIC = b"SQLite format 3\x00"
ForceOption = Annotated[
    bool,
    typer.Option("--force", help="Overwrite an existing file that is not an earlier output."),
]


def database_files(settings: Settings, config: Path | None) -> set[Path]:
    """Where the configured SQLite database (and its journal files) may live, resolved.

    A relative path is taken both from the working directory and from the config file's folder,
    so the check holds whichever of the two the database was opened from.
    """
    from sqlalchemy.engine import make_url

    try:
        url = make_url(settings.database_url)
    except Exception:  # an unparsable URL opens no file
        return set()
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return set()
    raw = Path(url.database).expanduser()
    config_path = Path(config or os.environ.get("LISTENING_CONFIG") or DEFAULT_CONFIG_PATH)
    bases = [raw] if raw.is_absolute() else [raw, config_path.parent / raw]
    found: set[Path] = set()
    for base in bases:
        for suffix in ("", "-wal", "-shm", "-journal"):
            found.add(Path(str(base) + suffix).resolve())
    return found


def check_output_path(
    path: Path,
    *,
    settings: Settings,
    config: Path | None,
    force: bool,
    ours: Callable[[bytes], bool],
    option: str = "--out",
) -> Path:
    """Decide whether a command may write ``path``; return it resolved.

    What a user expects: writing a new file, or replacing an earlier output of the same kind
    (``ours`` recognises it from its first bytes), just works; an existing file of any other
    kind is replaced only with ``--force``; the configured database, the config file and any
    SQLite database are never replaced, not even with ``--force``.

    Raises:
        BotError: one sentence saying why the path cannot be written.
    """
    target = path.expanduser().resolve()
    if target.is_dir():
        raise BotError(f"{path} is a folder; give {option} a file name inside it.")
    if not target.parent.is_dir():
        raise BotError(
            f"The folder {path.parent} does not exist; create it first or choose another {option}."
        )
    config_file = Path(config or os.environ.get("LISTENING_CONFIG") or DEFAULT_CONFIG_PATH)
    if target in database_files(settings, config) or target == config_file.resolve():
        raise BotError(f"{path} is this bot's database or config file; it is never overwritten.")
    if not target.exists():
        return target
    try:
        with target.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise BotError(f"{path} cannot be read to check it: {exc.strerror or exc}.") from None
    if head.startswith(SQLITE_MAGIC):
        raise BotError(f"{path} is a database; it is never overwritten by an export.")
    if head and not ours(head) and not force:
        raise BotError(
            f"{path} already exists and is not an earlier output; add --force to replace it."
        )
    return target


@contextmanager
def atomic_output(target: Path, *, binary: bool = False) -> Iterator[IO[Any]]:
    """A handle on a temporary file next to ``target`` that replaces ``target`` only on success.

    A failed or interrupted write leaves the old file (or nothing) in place, never half a file.

    Raises:
        BotError: the folder cannot be written.
    """
    try:
        fd, temp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise BotError(f"{target.parent} cannot be written: {exc.strerror or exc}.") from None
    temp = Path(temp_name)
    try:
        mode = "wb" if binary else "w"
        kwargs: dict[str, Any] = {} if binary else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # as an ordinary open() would have made it
        os.replace(temp, target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise BotError(f"{target} cannot be written: {exc.strerror or exc}.") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
