"""End to end through the real entry point: import labelled comments, then themes and report.

Uses the shared development set (3,108 short answers with a ``group`` column; its ``label``
column is extra and ignored by ``import``). Skipped when ``<repo>/../shared`` is absent.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.conftest import example_data, write_config
from tests.report.html_tables import read_page

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
DATA = SHARED / "data" / "nhs_fft_phase2_dev" / "responses.csv"
REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def config(sqlite_url: str, tmp_path: Path) -> Path:
    data = example_data()
    data["database_url"] = sqlite_url
    for section in ("telegram", "slack"):
        data.pop(section, None)
    return write_config(tmp_path, data)


@pytest.fixture
def groups_in_file() -> Counter[str]:
    if not DATA.exists():
        pytest.skip(f"the shared development data is not at {DATA}")
    with DATA.open(encoding="utf-8", newline="") as handle:
        return Counter(row["group"] for row in csv.DictReader(handle))


def test_import_then_themes_and_report(
    config: Path, tmp_path: Path, groups_in_file: Counter[str]
) -> None:
    total = sum(groups_in_file.values())
    assert total > 2000

    done = _cli("import", str(DATA), "--campaign", "leeds-2026", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert f"Imported {total} comment(s)" in done.stdout

    out_dir = tmp_path / "themes"
    # A fixed number of themes keeps the suite fast; choosing it is the analysis tests' job.
    done = _cli("themes", "--themes", "6", "--out", str(out_dir), "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "themes.csv" in done.stdout and "Traceback" not in done.stderr

    with (out_dir / "themes.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        themes = [dict(zip(header, row, strict=True)) for row in reader]
    assert header[:4] == ["theme_id", "label", "keywords", "size"]
    assert sorted(header[4:]) == sorted(groups_in_file)
    assert 2 <= len(themes) <= 8 and all(t["label"] for t in themes)
    assert sum(int(t["size"]) for t in themes) == total
    for group, count in groups_in_file.items():
        assert sum(int(t[group]) for t in themes) == count
    for theme in themes:
        assert sum(int(theme[g]) for g in groups_in_file) == int(theme["size"])

    with (out_dir / "assignments.csv").open(encoding="utf-8", newline="") as handle:
        assignments = list(csv.DictReader(handle))
    assert list(assignments[0])[:3] == ["response_id", "theme_id", "score"]
    assert {"second_theme_id", "question", "group", "text"} <= set(assignments[0])
    assert len(assignments) == total == len({a["response_id"] for a in assignments})
    assert {a["theme_id"] for a in assignments} <= {t["theme_id"] for t in themes}

    exported = _cli("export", "--config", str(config))
    assert exported.returncode == 0, exported.stderr
    export_ids = {row["response_id"] for row in csv.DictReader(exported.stdout.splitlines())}
    assert export_ids == {a["response_id"] for a in assignments}

    report = tmp_path / "report.html"
    done = _cli("report", "--themes", "6", "--out", str(report), "--config", str(config))
    assert done.returncode == 0, done.stderr
    page = read_page(report.read_text(encoding="utf-8"))

    participation = page.table(id="participation-table").by_group()
    for group, count in groups_in_file.items():
        assert participation[group].col("imported") == str(count)
        assert participation[group].col("enrolled") == "0"
    assert participation["all"].col("imported") == str(total)

    theme_rows = [r for r in page.table(id="themes-table").rows if "data-theme" in r.attrs]
    assert [r.attrs["data-theme"] for r in theme_rows] == [t["theme_id"] for t in themes]
    for row, theme in zip(theme_rows, themes, strict=True):
        for group in groups_in_file:
            count = int(row.col("group", group=group).split()[0])
            assert count == int(theme[group])
    bars = [b for b in page.bars if b["data-kind"] == "theme"]
    assert len(bars) == len(themes) * len(groups_in_file)

    # Codebook mode: every answer goes to one of the codebook's themes or to "other".
    book_dir = tmp_path / "codebook"
    codebook = DATA.parent / "codebook.yaml"
    done = _cli(
        "themes", "--codebook", str(codebook), "--out", str(book_dir), "--config", str(config)
    )
    assert done.returncode == 0, done.stderr
    with (book_dir / "themes.csv").open(encoding="utf-8", newline="") as handle:
        coded = list(csv.DictReader(handle))
    names = yaml.safe_load(codebook.read_text(encoding="utf-8"))["themes"]
    assert len(coded) <= len(names) + 1 and sum(int(t["size"]) for t in coded) == total


def test_empty_campaign_exits_1_with_one_sentence(config: Path, tmp_path: Path) -> None:
    for command in (["themes"], ["report", "--out", str(tmp_path / "r.html")]):
        done = _cli(*command, "--config", str(config))
        assert done.returncode == 1, done.stdout
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
        assert "Traceback" not in done.stderr


def test_wrong_usage_exits_2(config: Path) -> None:
    done = _cli("themes", "--themes", "zero", "--config", str(config))
    assert done.returncode == 2


def test_progress_bars_follow_the_analysis_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    import bot.cli.analysis as cli_analysis

    screen = io.StringIO()
    monkeypatch.setattr(cli_analysis, "err", Console(file=screen, force_terminal=True, width=100))
    with cli_analysis._progress_bars() as progress:
        for stage in ("reading responses", "grouping responses"):
            for fraction in (0.0, 0.5, 1.0):
                progress(stage, fraction)
    shown = screen.getvalue()
    assert "reading responses" in shown and "grouping responses" in shown


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "group"])
        writer.writeheader()
        writer.writerows({"text": r["text"], "group": r["group"]} for r in rows)
    return path


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _dev_rows() -> list[dict[str, str]]:
    if not DATA.exists():
        pytest.skip(f"the shared development data is not at {DATA}")
    return _read_csv(DATA)


def test_review_round_trip_keeps_every_edit(config: Path, tmp_path: Path) -> None:
    """Rename, merge, move an answer, mark one not substantive; import 20 more; rerun."""
    import sqlite3

    rows = _dev_rows()
    first = _write_csv(tmp_path / "first.csv", rows[:240])
    done = _cli("import", str(first), "--campaign", "leeds-2026", "--config", str(config))
    assert done.returncode == 0, done.stderr
    out_dir = tmp_path / "themes"
    done = _cli("themes", "--themes", "5", "--out", str(out_dir), "--config", str(config))
    assert done.returncode == 0, done.stderr
    review = out_dir / "themes-review.yaml"
    data = yaml.safe_load(review.read_text(encoding="utf-8"))
    themes = data["themes"]
    assert len(themes) >= 4 and all(t["examples"] and t["label"] for t in themes)
    renamed, kept, merged, donor = themes[0]["id"], themes[1]["id"], themes[2]["id"], themes[3]
    themes[0]["label"] = "Waiting for the ambulance"
    themes[2]["merge_into"] = kept
    before = {a["response_id"]: a["theme_id"] for a in _read_csv(out_dir / "assignments.csv")}
    moved = next(rid for rid, t in before.items() if t == donor["id"])
    silent = next(rid for rid, t in before.items() if t == renamed)
    data["answers"] = {"move": {moved: renamed}, "not_substantive": [silent]}
    review.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    def check(expected_answers: int) -> dict[str, str]:
        by_id = {t["theme_id"]: t for t in _read_csv(out_dir / "themes.csv")}
        assert by_id[renamed]["label"] == "Waiting for the ambulance"
        assert merged not in by_id
        got = {a["response_id"]: a["theme_id"] for a in _read_csv(out_dir / "assignments.csv")}
        assert len(got) == expected_answers
        assert got[moved] == renamed
        assert got[silent] == "no_comment"
        for rid, theme in before.items():
            if theme == merged and rid not in (moved, silent):
                assert got[rid] == kept
        return got

    args = ("themes", "--review", str(review), "--out", str(out_dir), "--config", str(config))
    done = _cli(*args)
    assert done.returncode == 0, done.stderr
    check(240)
    second = _write_csv(tmp_path / "second.csv", rows[240:260])
    done = _cli("import", str(second), "--campaign", "leeds-2026", "--config", str(config))
    assert done.returncode == 0, done.stderr
    done = _cli(*args)
    assert done.returncode == 0, done.stderr
    got = check(260)
    reviewed = {t["id"] for t in themes if t["id"] != merged}
    new = [rid for rid in got if rid not in before]
    assert len(new) == 20
    assert all(got[rid] in reviewed | {"other"} for rid in new)
    if any(got[rid] == "other" for rid in new):
        assert "fit no reviewed theme" in done.stdout

    history = yaml.safe_load(review.read_text(encoding="utf-8"))["history"]
    assert len(history) == 4  # applied once each, not again on the second run
    assert any("renamed" in h for h in history) and any("merged" in h for h in history)
    assert any(f"moved answer {moved}" in h for h in history)
    assert any(f"answer {silent} not substantive" in h for h in history)
    database = str(config.parent / "test.db")
    with sqlite3.connect(database) as db:
        logged = db.execute(
            "SELECT json_extract(details, '$.edit'), actor, at FROM audit_log "
            "WHERE action = 'theme-review'"
        ).fetchall()
    assert sorted(e for e, _, _ in logged) == sorted(h.split(": ", 1)[1] for h in history)
    assert all(user and when for _, user, when in logged)

    report = tmp_path / "report.html"
    done = _cli("report", "--review", str(review), "--out", str(report), "--config", str(config))
    assert done.returncode == 0, done.stderr
    page = report.read_text(encoding="utf-8")
    assert "Waiting for the ambulance" in page and "renamed" in page


def test_imports_are_analysed_under_their_question(config: Path, tmp_path: Path) -> None:
    rows = _dev_rows()
    helps = _write_csv(tmp_path / "helps.csv", rows[:60])
    chat = _write_csv(tmp_path / "chat.csv", rows[60:120])
    loose = _write_csv(tmp_path / "loose.csv", rows[120:150])
    base = ("--campaign", "leeds-2026", "--config", str(config))
    for args in (
        (str(helps), "--flow", "force-field", "--step", "helps"),
        (str(chat), "--flow", "challenge-1"),
        (str(loose),),
    ):
        done = _cli("import", *args, *base)
        assert done.returncode == 0, done.stderr
    bad = _cli("import", str(loose), "--flow", "force-field", "--step", "nope", *base)
    assert bad.returncode == 1 and "free-text step" in bad.stderr
    bad = _cli("import", str(loose), "--flow", "challenge-1", "--step", "x", *base)
    assert bad.returncode == 1 and "open conversation" in bad.stderr
    bad = _cli("import", str(loose), "--flow", "nope", *base)
    assert bad.returncode == 1 and "no flow 'nope'" in bad.stderr
    usage = _cli("import", str(loose), "--step", "helps", *base)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    out_dir = tmp_path / "themes"
    done = _cli("themes", "--out", str(out_dir), "--config", str(config))
    assert done.returncode == 0, done.stderr
    assignments = _read_csv(out_dir / "assignments.csv")
    by_question = Counter(a["question"] for a in assignments)
    assert by_question == {"force-field/helps": 60, "challenge-1": 60, "import": 30}
    prefixes = {a["question"]: {a["theme_id"].split(".")[0]} for a in assignments}
    assert len({p for ps in prefixes.values() for p in ps}) == 3
    texts = {r["text"] for r in rows[:150]}
    # The answer text is there to read (masked where it names someone: "[name]", "[phone]"...).
    assert all((a["text"] in texts or "[" in a["text"]) and a["group"] for a in assignments)
    assert sum(a["text"] in texts for a in assignments) >= 0.9 * len(assignments)
    themes = _read_csv(out_dir / "themes.csv")
    assert len({t["theme_id"] for t in themes}) == len(themes)
    pooled = _cli("themes", "--pooled", "--out", str(tmp_path / "pooled"), "--config", str(config))
    assert pooled.returncode == 0, pooled.stderr
    assert not any("." in a["theme_id"] for a in _read_csv(tmp_path / "pooled" / "assignments.csv"))


WORKSHOP = REPO / "tests" / "analysis" / "data" / "workshop_comments.csv"
TWO_THEME_BOOK = """\
themes:
  - name: Toilet training
    description: Potty training, nappies and continence.
    keywords: [potty, nappies, continence]
  - name: Speech and language
    description: Speech, language and communication delay, therapy and referrals.
    keywords: [talking, speech therapy]
"""


def test_two_theme_codebook_report_counts_thanks_and_remarks_as_other(
    config: Path, tmp_path: Path
) -> None:
    """The issue's scenario: a 2-theme codebook must not claim workshop remarks as its own."""
    rows = _read_csv(WORKSHOP)
    data = _write_csv(tmp_path / "workshop.csv", rows)
    done = _cli("import", str(data), "--campaign", "leeds-2026", "--config", str(config))
    assert done.returncode == 0, done.stderr
    book = tmp_path / "two.yaml"
    book.write_text(TWO_THEME_BOOK, encoding="utf-8")
    report = tmp_path / "report.html"
    done = _cli("report", "--codebook", str(book), "--out", str(report), "--config", str(config))
    assert done.returncode == 0, done.stderr
    page = read_page(report.read_text(encoding="utf-8"))
    table = {
        r.attrs["data-theme"]: r
        for r in page.table(id="themes-table").rows
        if "data-theme" in r.attrs
    }
    topics = Counter(r["topic"] for r in rows)
    assert int(table["other"].col("size").split()[0]) == topics["none"]
    for group in ("parents", "vcs", "cc_staff", "la"):
        mine = [r for r in rows if r["group"] == group]
        # Thank-you notes and unrelated remarks: exactly each group's share of them.
        expected = round(100 * sum(r["topic"] == "none" for r in mine) / len(mine))
        assert table["other"].col("group", group=group).endswith(f"({expected}%)"), group
        # Themes: within one answer of the truth ("staff are not trained" can look like
        # "toilet training" to a word-based method; that is the only slip allowed).
        for theme, topic in (("toilet_training", "toilet"), ("speech_and_language", "speech")):
            truth = sum(r["topic"] == topic for r in mine)
            count = int(table[theme].col("group", group=group).split()[0])
            assert abs(count - truth) <= 1, (theme, group, count, truth)
    text = page.text
    assert "fit no theme (other)" in text
    assert "Thanks for asking us." in text or "Cafe mornings worked" in text
    assert "— Parents" in report.read_text(encoding="utf-8") or "— " in text


def test_compare_prints_kappa_and_per_theme_recall(config: Path, tmp_path: Path) -> None:
    rows = _read_csv(WORKSHOP)
    data = _write_csv(tmp_path / "workshop.csv", rows)
    assert (
        _cli("import", str(data), "--campaign", "leeds-2026", "--config", str(config)).returncode
        == 0
    )
    book = tmp_path / "two.yaml"
    book.write_text(TWO_THEME_BOOK, encoding="utf-8")
    hand = tmp_path / "hand.csv"
    names = {"toilet": "Toilet training", "speech": "Speech and language", "none": "other"}
    with hand.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "theme"])
        for r in rows:
            writer.writerow([r["text"], names[r["topic"]]])
    out_dir = tmp_path / "out"
    done = _cli(
        "themes",
        "--codebook",
        str(book),
        "--compare",
        str(hand),
        "--out",
        str(out_dir),
        "--config",
        str(config),
    )
    assert done.returncode == 0, done.stderr
    assert "Cohen's kappa" in done.stdout and "precision" in done.stdout
    kappa = float(done.stdout.split("Cohen's kappa ")[1].split(";")[0])
    assert 0.7 <= kappa <= 1.0
    report = tmp_path / "r.html"
    done = _cli(
        "report",
        "--codebook",
        str(book),
        "--compare",
        str(hand),
        "--out",
        str(report),
        "--config",
        str(config),
    )
    assert done.returncode == 0, done.stderr
    assert (
        "Cohen&#39;s kappa" in report.read_text(encoding="utf-8")
        or "Cohen's kappa" in read_page(report.read_text(encoding="utf-8")).text
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("text,theme\nThanks,Nonsense theme\n", encoding="utf-8")
    done = _cli("themes", "--codebook", str(book), "--compare", str(bad), "--config", str(config))
    assert done.returncode == 1 and "not a theme id or label" in done.stderr
    assert "Traceback" not in done.stderr
