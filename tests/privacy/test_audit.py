"""Organisers' actions are in the audit log with time, OS user and counts, never content."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, example_data, write_config

SECRET_COMMENT = "Mrs Hughes at the Beeston centre listened to us"


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
    )


def test_import_undo_export_report_themes_are_audited_without_content(
    tmp_path: Path, sqlite_url: str
) -> None:
    data = example_data()
    data["database_url"] = sqlite_url
    config = str(write_config(tmp_path, data))
    comments = tmp_path / "workshop.csv"
    rows = [SECRET_COMMENT] + [f"Comment number {n} about waiting lists" for n in range(11)]
    comments.write_text("text,group\n" + "".join(f'"{r}",parents\n' for r in rows))

    imported = _cli("import", str(comments), "--campaign", "leeds-2026", "--config", config)
    assert imported.returncode == 0, imported.stderr
    batch = imported.stdout.split("as batch ")[1].split(";")[0]
    exported = _cli("export", "--out", str(tmp_path / "out.csv"), "--config", config)
    assert exported.returncode == 0, exported.stderr
    reported = _cli(
        "report", "--campaign", "leeds-2026", "--out", str(tmp_path / "r.html"), "--config", config
    )
    assert reported.returncode == 0, reported.stderr
    undone = _cli("import", "--undo", batch, "--yes", "--config", config)
    assert undone.returncode == 0, undone.stderr

    listed = _cli("audit", "--config", config)
    assert listed.returncode == 0, listed.stderr
    for action in ("import", "export", "report", "import-undo"):
        assert f" {action} " in listed.stdout or f"│ {action}" in listed.stdout, listed.stdout
    assert '"rows": 12' in listed.stdout
    assert "Hughes" not in listed.stdout and "waiting" not in listed.stdout
