"""``listening-bot report`` on a database seeded through the repositories: the HTML is parsed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from storage.db import make_engine, make_sessionmaker
from tests.conftest import example_data, write_config
from tests.report.html_tables import Page, read_page
from tests.report.seed import seed


async def _seed(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            return await seed(session)
    finally:
        await engine.dispose()


def _config(tmp_path: Path, url: str, *, min_group_size: int | None = 1) -> Path:
    """The example campaign on ``url``; figures of any group size shown unless told otherwise."""
    data = example_data()
    data["database_url"] = url
    if min_group_size is not None:
        data["report"] = {"min_group_size": min_group_size}
    return write_config(tmp_path, data)


def _cli(*argv: str) -> int:
    try:
        main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture
def seeded(db_url: str, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    pseudonyms = asyncio.run(_seed(db_url))
    return _config(tmp_path, db_url), pseudonyms


@pytest.fixture
def page(seeded: tuple[Path, dict[str, str]], tmp_path: Path) -> tuple[Page, str]:
    config, _ = seeded
    target = tmp_path / "report.html"
    assert _cli("report", "--config", str(config), "--out", str(target)) == 0
    html = target.read_text(encoding="utf-8")
    return read_page(html), html


def test_participation_per_group_matches_the_seed(page: tuple[Page, str]) -> None:
    rows = page[0].table(id="participation-table").by_group()
    got = {
        group: (r.col("enrolled"), r.col("stopped"), r.col("answered"), r.col("rate"))
        for group, r in rows.items()
    }
    assert got == {
        "parents": ("6", "1", "5", "83%"),
        "vcs": ("4", "0", "3", "75%"),
        "cc_staff": ("3", "0", "2", "67%"),
        "la": ("2", "0", "0", "0%"),
        "all": ("15", "1", "10", "67%"),
    }
    assert rows["parents"].col("comments") == "12" and rows["cc_staff"].col("comments") == "4"


def test_pulse_figures_and_change_per_group(page: tuple[Page, str]) -> None:
    answers = page[0].table(class_="answers", data_flow="pulse").by_group()
    assert {g: (r.col("people"), r.col("positive")) for g, r in answers.items()} == {
        "parents": ("5", "60%"),
        "vcs": ("3", "67%"),
        "cc_staff": ("2", "100%"),
        "la": ("0", "–"),
        "all": ("10", "70%"),
    }
    change = page[0].table(class_="change", data_flow="pulse").by_group()
    measure = "positive (4-5 of 1-5)"
    got = {g: (r.col("people"), r.col("change", measure=measure)) for g, r in change.items()}
    assert got == {
        "parents": ("3", "33% → 100% (+67 pts)"),
        "vcs": ("3", "67% → 67% (0 pts)"),
        "all": ("6", "50% → 83% (+33 pts)"),
    }
    assert change["vcs"].col("change", measure="mean") == "4.0 → 3.7 (−0.3)"


def test_yes_no_and_choice_shares(page: tuple[Page, str]) -> None:
    worked = page[0].table(class_="answers", data_step="worked-together").by_group()
    assert worked["parents"].col("option", option="yes") == "1 (50%)"
    assert worked["vcs"].col("option", option="yes") == "2 (100%)"
    often = page[0].table(class_="answers", data_step="how-often").by_group()
    assert often["all"].col("option", option="Weekly") == "3 (75%)"
    assert often["vcs"].col("option", option="Monthly") == "1 (50%)"


def test_themes_section_has_bars_quotes_and_method(page: tuple[Page, str]) -> None:
    parsed, html = page
    table = parsed.table(id="themes-table")
    themes = [r for r in table.rows if "data-theme" in r.attrs]
    assert len(themes) >= 2
    total = sum(int(r.col("size").split()[0]) for r in themes)
    assert total == 25  # every seeded comment is in exactly one theme
    for row in themes:  # per-group counts add up to the theme's size
        counts = [int(c.text.split()[0]) for c in row.cells if c.attrs.get("data-col") == "group"]
        assert sum(counts) == int(row.col("size").split()[0])
    bars = [b for b in parsed.bars if b["data-kind"] == "theme"]
    assert len(bars) == 3 * len(themes)  # parents, vcs, cc_staff commented; la did not
    assert any(float(b["data-value"]) > 0 for b in bars)
    assert html.count("<blockquote>") >= len(themes)
    assert "theme discovery" in parsed.text.lower()


def test_no_participant_identifier_in_the_report(
    seeded: tuple[Path, dict[str, str]], page: tuple[Page, str]
) -> None:
    _, pseudonyms = seeded
    html = page[1]
    for name, pseudonym in pseudonyms.items():
        assert pseudonym not in html, name
        assert f"user-{name}" not in html and f"chat-{name}" not in html
    assert "R-" not in html


def test_report_on_an_empty_campaign_is_a_clear_error(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, sqlite_url)
    assert _cli("report", "--config", str(config), "--out", str(tmp_path / "r.html")) == 1
    assert "has no responses yet" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


async def _one_comment(url: str) -> None:
    from datetime import UTC, datetime

    from storage.records import NewResponse
    from storage.repositories import ResponseRepo

    engine = make_engine(url)
    async with make_sessionmaker(engine).begin() as session:
        await ResponseRepo(session).add(
            NewResponse(
                "leeds-2026",
                "import",
                "notes",
                "vcs",
                "import",
                "open",
                "Only one comment so far",
                datetime(2026, 3, 2, tzinfo=UTC),
            )
        )
    await engine.dispose()


def test_one_response_gives_a_report_saying_why_there_are_no_themes(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_one_comment(sqlite_url))
    config = _config(tmp_path, sqlite_url)
    target = tmp_path / "r.html"
    assert _cli("report", "--config", str(config), "--out", str(target)) == 0
    parsed = read_page(target.read_text(encoding="utf-8"))
    assert "There is only one free-text comment, too few to find themes." in parsed.text
    assert parsed.table(id="participation-table").by_group()["vcs"].col("imported") == "1"

    assert _cli("themes", "--config", str(config)) == 1
    err = capsys.readouterr().err
    assert "has only one free-text response" in err and "Traceback" not in err


def test_themes_on_an_empty_campaign_is_a_clear_error(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, sqlite_url)
    assert _cli("themes", "--config", str(config)) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "no free-text responses yet" in err
    assert len(err.strip().splitlines()) == 1


def test_themes_and_codebook_together_is_refused(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, sqlite_url)
    book = tmp_path / "book.yaml"
    book.write_text("themes: []\n", encoding="utf-8")
    code = _cli("themes", "--config", str(config), "--themes", "3", "--codebook", str(book))
    assert code == 1 and "do not go together" in capsys.readouterr().err
    assert _cli("report", "--config", str(config), "--codebook", str(tmp_path / "nope.yaml")) == 1
    assert "no codebook file" in capsys.readouterr().err


async def _few_comments(url: str, count: int) -> None:
    from datetime import UTC, datetime

    from storage.records import NewResponse
    from storage.repositories import ResponseRepo

    engine = make_engine(url)
    async with make_sessionmaker(engine).begin() as session:
        await ResponseRepo(session).add_many(
            NewResponse(
                "leeds-2026",
                "import",
                "notes",
                "parents",
                "import",
                "open",
                f"Comment number {n} about evening sessions",
                datetime(2026, 3, 2, tzinfo=UTC),
            )
            for n in range(count)
        )
    await engine.dispose()


def test_too_few_comments_for_discovery_still_gives_a_report(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_few_comments(sqlite_url, 3))
    config = _config(tmp_path, sqlite_url)
    target = tmp_path / "r.html"
    assert _cli("report", "--config", str(config), "--out", str(target)) == 0
    parsed = read_page(target.read_text(encoding="utf-8"))
    assert "only 3 were given" in parsed.text  # the analysis library's own sentence
    assert _cli("themes", "--config", str(config)) == 1
    assert "only 3 were given" in capsys.readouterr().err
