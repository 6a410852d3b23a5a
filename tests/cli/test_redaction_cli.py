"""What leaves the database for a reader has names and numbers masked; the database keeps all.

Drives the real entry point on a database seeded with participants whose platform names are
known, and reads the report as a person sees it (headless Chromium when available).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from storage.db import make_engine, make_sessionmaker
from storage.records import NewResponse
from storage.repositories import ParticipantRepo, ResponseRepo
from tests.cli.test_cli import cli
from tests.report.chromium import browser, find_chromium

PEOPLE = [
    (
        "Kirsty",
        "Smith",
        "kirsty here again, the stay and play group needs more space and more staff",
    ),
    ("Dan", "Morris", "Dan again: ring me on 07700 900123 about the stay and play group space"),
    ("Aisha", "Khan", "The stay and play group is too small, Aisha from Harehills, LS9 7BX"),
    ("Tom", "Evans", "Email tom.evans@example.com, the stay and play group is always full"),
    ("Grace", "Ward", "My son Leo loves the stay and play group but there is no space left"),
    ("Ben", "Hall", "Funding for small charities is the real problem, ask Mrs Kowalski"),
    ("Zara", "Ali", "Small charities cannot bid for funding, Zara Ali, 0113 496 0123"),
    ("Omar", "Shah", "The funding rules shut small charities out, Omar speaking"),
    ("Lucy", "Green", "Small charities need funding they can actually bid for, Lucy"),
    ("Sam", "Reid", "We love the stay and play group, Sam, call 07911 123456"),
    ("Nadia", "Patel", "Funding goes to big providers, never to small charities, Nadia Patel"),
    ("Josh", "Lee", "The stay and play group is the best thing in the week, says Josh"),
]
SECRETS = [
    "Kirsty",
    "kirsty",
    "Morris",
    "07700",
    "Aisha",
    "LS9 7BX",
    "tom.evans",
    "Leo",
    "Kowalski",
    "Zara",
    "0113 496",
    "Omar",
]


async def _seed(url: str) -> list[str]:
    engine = make_engine(url)
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    try:
        async with make_sessionmaker(engine).begin() as session:
            for index, (first, last, answer) in enumerate(PEOPLE):
                who = await ParticipantRepo(session).create(
                    "telegram",
                    f"60000{index}",
                    f"60000{index}",
                    now,
                    first_name=first,
                    last_name=last,
                )
                await ResponseRepo(session).add(
                    NewResponse(
                        campaign_id="leeds-2026",
                        flow_id="challenge-1",
                        step_id="opening",
                        group_id="parents",
                        channel="telegram",
                        kind="open",
                        answer=answer,
                        answered_at=now,
                        participant_id=who.id,
                        source_msg_id=f"60000{index}:1",
                    )
                )
    finally:
        await engine.dispose()
    return [answer for _, _, answer in PEOPLE]


@pytest.fixture
def seeded(sqlite_url: str) -> list[str]:
    return asyncio.run(_seed(sqlite_url))


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_report_quotes_are_masked_as_a_person_sees_them(sqlite_url, seeded, tmp_path):
    target = tmp_path / "report.html"
    done = cli("report", "--themes", "2", "--out", str(target), db=sqlite_url)
    assert done.returncode == 0, done.stderr
    html = target.read_text(encoding="utf-8")
    assert "<blockquote>" in html and "[name]" in html
    assert _leaks(html) == []
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed; the HTML itself was checked")

    async def seen() -> str:
        async with browser(chromium, tmp_path / "profile") as page:
            await page.open(target.as_uri(), 1000, 800, mobile=False)
            return str(await page.evaluate("document.body.innerText"))

    text = asyncio.run(seen())
    assert "[name]" in text and _leaks(text) == []


def test_theme_files_carry_no_names(sqlite_url, seeded, tmp_path):
    done = cli("themes", "--themes", "2", "--out", str(tmp_path / "t"), db=sqlite_url)
    assert done.returncode == 0, done.stderr
    for name in ("themes.csv", "assignments.csv"):
        written = (tmp_path / "t" / name).read_text(encoding="utf-8")
        assert _leaks(written) == [] and "kirsty" not in written.lower()
    assert _leaks(done.stdout) == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_export_redact_masks_answers_in_every_format_and_the_database_keeps_them(
    sqlite_url, seeded, tmp_path, fmt
):
    target = tmp_path / f"out.{fmt}"
    done = cli("export", "--format", fmt, "--redact", "--out", str(target), db=sqlite_url)
    assert done.returncode == 0, done.stderr
    if fmt == "csv":
        answers = [r["answer"] for r in csv.DictReader(io.StringIO(target.read_text("utf-8")))]
    elif fmt == "jsonl":
        answers = [json.loads(line)["answer"] for line in target.read_text("utf-8").splitlines()]
    else:
        sheet = load_workbook(target, read_only=True).active
        rows = list(sheet.iter_rows(values_only=True))
        column = rows[0].index("answer")
        answers = [str(r[column]) for r in rows[1:]]
    assert len(answers) == len(PEOPLE)
    assert _leaks("\n".join(answers)) == []
    assert "[phone]" in "\n".join(answers) and "[postcode]" in "\n".join(answers)
    plain = cli("export", "--format", "csv", db=sqlite_url)
    originals = [r["answer"] for r in csv.DictReader(io.StringIO(plain.stdout))]
    assert sorted(originals) == sorted(seeded)  # without --redact, and in the database: as sent


def test_erasure_takes_the_names_with_the_address(sqlite_url, seeded):
    async def run() -> dict[str, tuple[str, ...]]:
        engine = make_engine(sqlite_url)
        try:
            async with make_sessionmaker(engine).begin() as session:
                repo = ParticipantRepo(session)
                who = await repo.find_by_address("telegram", "600000")
                assert who is not None and "Kirsty" in (await repo.names())[who.pseudonym]
                await repo.erase(who.id)
                return await repo.names()
        finally:
            await engine.dispose()

    remaining = asyncio.run(run())
    assert all("Kirsty" not in names for names in remaining.values())
    assert len(remaining) == len(PEOPLE) - 1
