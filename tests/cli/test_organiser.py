"""An organiser's path, as they meet it: rehearse, check, look at status, from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from bot.cli.status import CampaignFigures, render_status
from bot.config import load_settings
from storage.outbox_repository import GroupStatus
from tests.conftest import EXAMPLE_CONFIG, example_data, write_config

REHEARSAL = "/start\nyes\n2\n4\nMore joined-up funding.\n/done\n"


def bot(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The real command, with no database override: the config file decides where it is."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "SLACK_", "LISTENING_"))
    }
    env["COLUMNS"] = "80"
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        encoding="utf-8",
    )


def campaign_folder(tmp_path: Path) -> tuple[Path, Path]:
    """A config in its own folder with a relative database path, and another folder to run in."""
    data = example_data()
    data["database_url"] = "sqlite:///data/listening.db"
    folder = tmp_path / "campaign"
    (folder / "data").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return write_config(folder, data), elsewhere


def one_sentence_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_reading_commands_never_create_a_database(tmp_path):
    config, elsewhere = campaign_folder(tmp_path)
    for args in (
        ["status"],
        ["export"],
        ["themes"],
        ["report", "--out", str(elsewhere / "r.html")],
    ):
        error = one_sentence_error(bot(*args, "--config", str(config), cwd=elsewhere))
        assert "There is no database at" in error and str(config.parent / "data") in error
    assert list(elsewhere.iterdir()) == [] and list((config.parent / "data").iterdir()) == []


def test_one_database_found_the_same_way_from_any_folder_and_rehearsals_kept_apart(tmp_path):
    config, elsewhere = campaign_folder(tmp_path)
    # Rehearse from the config's folder, read from another: the same database, beside the config.
    rehearsal = bot(
        "run", "--console", "--config", "campaign.yaml", cwd=config.parent, stdin=REHEARSAL
    )
    assert rehearsal.returncode == 0, rehearsal.stderr
    assert (config.parent / "data" / "listening.db").exists()
    nothing_live = bot("report", "--config", str(config), cwd=elsewhere)
    assert "no responses yet (console rehearsals are left out)" in one_sentence_error(nothing_live)
    workshop = elsewhere / "workshop.csv"
    workshop.write_text("text,group\nMore evening sessions,parents\n", encoding="utf-8")
    imported = bot(
        "import", str(workshop), "--campaign", "leeds-2026", "--config", str(config), cwd=elsewhere
    )
    assert imported.returncode == 0, imported.stderr
    assert not list(elsewhere.glob("*.db"))

    live = bot("export", "--config", str(config), cwd=elsewhere)
    assert live.returncode == 0, live.stderr
    assert [line.split(",")[6] for line in live.stdout.splitlines()[1:]] == ["import"]
    everything = bot("export", "--include-rehearsal", "--config", str(config), cwd=elsewhere)
    assert sorted(line.split(",")[6] for line in everything.stdout.splitlines()[1:]) == [
        "console",
        "console",
        "import",
    ]

    status = bot("status", "--config", str(config), cwd=elsewhere)
    assert status.returncode == 0, status.stderr
    assert _row(status.stdout, "vcs")[:1] == ["0"]  # the rehearsal enrolled as vcs: not counted
    assert _row(status.stdout, "parents")[5] == "1"  # one imported comment
    assert "Left out: 1 rehearsal participant" in status.stdout
    assert all(len(line) <= 80 for line in status.stdout.splitlines())
    included = bot("status", "--include-rehearsal", "--config", str(config), cwd=elsewhere)
    assert _row(included.stdout, "vcs")[:3] == ["1", "1", "1"]

    out = elsewhere / "report.html"
    report = bot("report", "--out", str(out), "--config", str(config), cwd=elsewhere)
    assert report.returncode == 0, report.stderr
    assert "2 answers" not in report.stdout and "(1 answers" in report.stdout
    themes = bot("themes", "--include-rehearsal", "--config", str(config), cwd=elsewhere)
    assert themes.returncode in (0, 1) and "No such option" not in themes.stderr

    # Clearing rehearsals asks first; scripts say --yes; live data stays.
    assert "needs confirmation" in one_sentence_error(
        bot("reset", "--rehearsal", "--config", str(config), cwd=elsewhere)
    )
    assert bot("reset", "--config", str(config), cwd=elsewhere).returncode == 2
    cleared = bot("reset", "--rehearsal", "--yes", "--config", str(config), cwd=elsewhere)
    assert (
        cleared.returncode == 0
        and "Cleared 1 rehearsal participant(s) and 2 answer(s)" in cleared.stdout
    )
    after = bot("export", "--include-rehearsal", "--config", str(config), cwd=elsewhere)
    assert [line.split(",")[6] for line in after.stdout.splitlines()[1:]] == ["import"]
    again = bot("reset", "--rehearsal", "--yes", "--config", str(config), cwd=elsewhere)
    assert again.returncode == 0 and "no rehearsal data" in again.stdout


def _row(output: str, group: str) -> list[str]:
    """The first table row for ``group`` (the People table)."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0] == group:
            return cells[1:]
    raise AssertionError(f"no row for {group} in:\n{output}")


def test_status_fits_80_columns_without_cutting_anything_off():
    settings = load_settings(EXAMPLE_CONFIG, environ={})
    campaign = settings.campaigns[0].model_copy(
        update={"groups": ["parents", "voluntary_and_community_sector_providers_north_leeds"]}
    )
    big = 1_234_567
    figures = CampaignFigures(
        campaign,
        [GroupStatus("parents", big, big, big, big, big)],
        {
            ("parents", status): big
            for status in ("pending", "sent", "failed", "missed", "queued", "cancelled")
        },
        {"parents": big},
        rehearsal_participants=3,
        include_rehearsal=False,
    )
    console = Console(width=80, record=True, color_system=None)
    console.print(render_status(figures))
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80, text
    assert "…" not in text
    assert "1234567" in text.replace("\n", "")
    for header in (
        "enrolled",
        "prompted",
        "answered",
        "finished",
        "opted",
        "imported",
        "pending",
        "sent",
        "failed",
        "missed",
        "queued",
        "cancelled",
    ):
        assert header in text
    assert "Left out: 3 rehearsal participants" in " ".join(lines)


def test_check_shows_the_plan_per_group_in_local_time(tmp_path):
    result = bot("check", "--config", str(EXAMPLE_CONFIG), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "local times, Europe/London" in result.stdout
    assert "What each group gets" in result.stdout
    rows = {line.split("│")[1].strip() for line in result.stdout.splitlines() if "│" in line}
    assert "parents" in rows and "vcs, cc_staff, la" in rows  # family-services is parents-only
    assert "Mon 08 Feb 2027 10:00 GMT" in result.stdout


def test_check_lists_every_mistake_with_places_and_exits_1(tmp_path):
    data = example_data()
    data["flows"][3]["steps"][4]["when"]["equals"] = "yess"
    data["flows"][0]["steps"][0]["max"] = "five"
    data["campaigns"][0]["schedule"][3]["at"] = "2027-06-01 10:00"
    result = bot("check", "--config", str(write_config(tmp_path, data)), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "has 3 problems" in result.stderr
    assert "flows[3].steps[4].when.equals: " in result.stderr
    assert "campaigns[0].schedule[3].at: is after the campaign closes" in result.stderr
    assert "campaign 1 (leeds-2026), schedule entry 4)" in result.stderr
    assert bot("check", "--bogus", cwd=tmp_path).returncode == 2


def test_an_interactive_rehearsal_says_it_is_one_through_a_real_terminal(tmp_path):
    import pty
    import select
    import time

    config, _ = campaign_folder(tmp_path)
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--console", "--config", str(config)],
        stdin=terminal,
        stdout=terminal,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"you> " not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1)
            if ready:
                seen += os.read(controller, 4096)
        os.write(controller, b"\x04")  # Ctrl-D: leave
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    text = seen.decode("utf-8", "replace")
    assert "This is a rehearsal: what you type is kept apart from live results" in text
    assert "reset --rehearsal" in text
