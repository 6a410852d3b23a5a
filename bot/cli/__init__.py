"""The ``listening-bot`` command line: each command exits 0, 1 (one clear sentence) or 2 (usage).

Every command lives in its own module and registers itself on :data:`app`; the imports below are
the one place that lists them.
"""

from __future__ import annotations

import sys
from importlib import import_module

from bot.cli._common import app, err
from bot.errors import BotError, ConfigError

COMMAND_MODULES = (
    # in the order `listening-bot --help` lists their commands
    "run",
    "check",
    "translations",
    "invites",
    "transfer",
    "imports",
    "privacy",
    "subject_access",
    "analysis",
    "status",
    "reset",
    "audit",
    "retention",
    "backup",
    "db",
)
for _module in COMMAND_MODULES:
    import_module(f"bot.cli.{_module}")  # each registers its commands on `app`

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map errors to the contract's exit codes.

    Typer (standalone) already exits 2 on wrong usage; our own errors become one sentence and
    exit 1, never a traceback.
    """
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
