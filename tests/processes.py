"""The bot as a person runs it: ``listening-bot`` commands and ``run`` in child processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.conftest import ROOT


def bot_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without platform tokens or bot settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "SLACK_", "LISTENING_"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


async def run_cli(*args: str, timeout: float = 30, env: Mapping[str, str] | None = None) -> str:
    """Run one ``listening-bot`` command to its end; its standard output (it must succeed)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        env=bot_env(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def launch_bot(
    config: Path, log: Path, env: Mapping[str, str] | None = None
) -> asyncio.subprocess.Process:
    """Start ``listening-bot run --verbose`` on ``config``, its output appended to ``log``."""
    with log.open("ab") as handle:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(config),
            "--verbose",
            cwd=ROOT,
            env=bot_env(env),
            stdout=handle,
            stderr=handle,
        )


class BotProcess:
    """``listening-bot run`` in a child process (``env``: extra variables, e.g. scheduler ones)."""

    def __init__(self, config: Path, log: Path, env: Mapping[str, str] | None = None) -> None:
        self.config, self.log = config, log
        self.env = dict(env or {})
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await launch_bot(self.config, self.log, self.env)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def terminate(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode or 0
