"""The multilingual example campaign, and console rehearsals in its languages (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

MULTILINGUAL = ROOT / "config" / "campaign.multilingual.yaml"

POLISH_RUN = (
    "/start\ntak\n1\n4\n"
    "Lokalne grupy dobrze znają rodziny i wiedzą, czego potrzebują dzieci.\n/done\n"
)
ARABIC_RUN = (
    "/start\n"
    "المجموعات المحلية تعرف العائلات جيدًا وتعرف ما يحتاجه الأطفال في الحي\n/done\n"
    "الاجتماعات المنتظمة بين الموظفين والمتطوعين تساعد كثيرًا (مثلًا كل أسبوعين)\n"
)


def multilingual_data() -> dict[str, Any]:
    from bot.config import _blank_to_none, expand_env

    data: dict[str, Any] = _blank_to_none(
        expand_env(yaml.safe_load(MULTILINGUAL.read_text(encoding="utf-8")), {})
    )
    return data


def cli(
    *args: str, db: str, stdin: str = "", config: Path = MULTILINGUAL
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))}
    env["LISTENING_DATABASE_URL"] = db
    return subprocess.run(
        [sys.executable, "-m", "bot", *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        encoding="utf-8",
    )


def rehearse_in_polish_then_arabic(db: str) -> None:
    """One console rehearsal in Polish, then the same person carries on in Arabic."""
    for lang, stdin in (("pl", POLISH_RUN), ("ar", ARABIC_RUN)):
        result = cli("run", "--console", "--lang", lang, db=db, stdin=stdin)
        assert result.returncode == 0, result.stderr
