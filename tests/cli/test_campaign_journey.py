"""An organiser's whole path, as the README tells it, through the real ``listening-bot`` process.

A new campaign (three groups, a flow for one group only, a conditional step, a weekly cron,
reminders, quiet hours) is checked, rehearsed in the terminal, run against the Telegram Bot API
double with five people who join from invite codes (as a link, typed in lower case, typed on its
own), topped up with an Excel "CSV UTF-8" file (UK dates, a ``Comment`` column, group labels),
exported as xlsx (read back with openpyxl) and reported.

Two parts come from the organiser's side of issue 11 and are marked ``# GROUP-LIMITED`` and
``# REHEARSAL-APART``: flows limited to groups (``groups:`` on a flow) and rehearsals kept out of
the live data.
"""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from tests.conftest import ROOT
from tests.doubles.telegram_api import TelegramApiDouble
from tests.processes import BotProcess, bot_env

LONDON = ZoneInfo("Europe/London")
RATE = "How would you rate the children's centre services near you?"
USED = "Have you used a children's centre in the last year?"
WHICH = "Which centre did you use most?"
CASELOAD = "What stops you referring families to voluntary groups?"
WEEKLY = "What happened this week that we should know about?"
THANKS = "Thank you, that helps us a lot."
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def campaign_yaml(db: Path, base_url: str, now: datetime) -> str:
    """The campaign an organiser writes from the README's "Writing a campaign" section.

    The database path is relative, so it is found next to this file whatever folder a command
    runs in. Quiet hours and the weekly day are set away from the moment the test runs, so that
    nothing here depends on the time of day.
    """
    local = now.astimezone(LONDON)
    quiet = f"{(local.hour + 3) % 24:02d}:00-{(local.hour + 5) % 24:02d}:00"
    weekly_day = DAYS[(local.weekday() + 3) % 7]
    return f"""\
database_url: sqlite:///{db.name}
timezone: Europe/London
quiet_hours: "{quiet}"

telegram:
  token: ${{TELEGRAM_BOT_TOKEN}}
  base_url: {base_url}

groups:
  - id: parents
    label: Parents and carers
  - id: health_visitors
    label: Health visitors
    self_select: false
  - id: vcs
    label: Voluntary groups

flows:
  - id: welcome
    kind: structured
    title: Your centre
    closing: {THANKS}
    steps:
      - id: rating
        type: scale
        ask: {RATE}
        min: 1
        max: 5
        labels: {{1: Poor, 5: Excellent}}
      - id: used
        type: yesno
        ask: {USED}
      - id: which
        type: choice
        ask: {WHICH}
        options: [Beeston, Chapeltown, Seacroft]
        when: {{step: used, equals: "yes"}}
  - id: caseload
    kind: structured
    title: For health visitors
    groups: [health_visitors]          # GROUP-LIMITED: only health visitors are asked this
    steps:
      - id: referrals
        type: text
        ask: {CASELOAD}
  - id: weekly
    kind: open
    opening: {WEEKLY}
    idle: 30m

campaigns:
  - id: journey-2027
    title: Children's centres in East Leeds
    groups: [parents, health_visitors, vcs]
    consent: >-
      We are asking parents, health visitors and voluntary groups about children's centres.
      Your answers are kept with your group, never your name. Do you agree to take part?
    opens: 2026-01-01 09:00
    closes: 2030-12-31 17:00
    schedule:
      - flow: welcome
        after: 0m
      - flow: caseload
        after: 0m
      - flow: weekly
        cron: "0 10 * * {weekly_day}"
    reminders:
      after: 2d
      max: 1
"""


async def cli(*args: str, config: Path, token: str, stdin: str = "") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        "--config",
        str(config),
        cwd=ROOT,
        env=bot_env({"TELEGRAM_BOT_TOKEN": token}),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 120)
    return proc.returncode or 0, out.decode(), err.decode()


class Phone:
    """One person on Telegram, typing into the double and waiting for the bot's answer."""

    def __init__(self, tg: TelegramApiDouble, user_id: int) -> None:
        self.tg, self.user_id = tg, user_id

    async def send(self, text: str, expect: str, timeout: float = 30) -> None:
        before = len(self.tg.texts(self.user_id))
        self.tg.text(self.user_id, text)

        def answered() -> bool:
            return any(expect in t for t in self.tg.texts(self.user_id)[before:])

        try:
            await self.tg.wait_for(answered, timeout)
        except AssertionError:
            got = self.tg.texts(self.user_id)[before:]
            raise AssertionError(f"{text!r} got no {expect!r}; got {got}") from None

    def saw(self, words: str) -> bool:
        return any(words in t for t in self.tg.texts(self.user_id))


EXCEL_CSV = (
    "\ufeffComment,Group,Submitted_at\r\n"
    '"Drop-in sessions at the library, please",Parents and carers,24/01/2027 18:30\r\n'
    "Referral forms take too long,health visitors,25/01/2027 09:05\r\n"
    '"We need stable funding; ""one-year"" grants hurt\r\nevery spring",VCS,26/01/2027\r\n'
)


async def test_a_new_campaign_from_check_to_committee(tmp_path: Path) -> None:
    async with TelegramApiDouble() as tg:
        config = tmp_path / "east-leeds.yaml"
        config.write_text(
            campaign_yaml(tmp_path / "east-leeds.db", tg.base_url, datetime.now(UTC)), "utf-8"
        )

        # 1. check
        code, out, err = await cli("check", config=config, token=tg.token)
        assert code == 0, err
        for shown in ("welcome", "caseload", "weekly", "journey-2027", "reminders"):
            assert shown in out

        # 2. a rehearsal in the terminal, as a parent who has used a centre
        code, out, err = await cli(
            "run", "--console", config=config, token=tg.token, stdin="/start\nyes\n1\n4\nyes\n2\n"
        )
        assert code == 0, err
        assert RATE in out and WHICH in out and THANKS in out

        # 3. invite codes for five people: three parents, a health visitor, a voluntary group
        codes: dict[str, list[str]] = {}
        for group, count in (("parents", 3), ("health_visitors", 1), ("vcs", 1)):
            code, out, err = await cli(
                "invite", "--campaign", "journey-2027", "--group", group, "--count", str(count),
                "--max-uses", "1", config=config, token=tg.token,
            )  # fmt: skip
            assert code == 0, err
            codes[group] = [line.split("\t")[0] for line in out.strip().splitlines()]
        code, out, err = await cli("invites", config=config, token=tg.token)
        assert code == 0 and out.count("1 of 1") == 5, out

        # 4. the campaign runs on Telegram
        bot = BotProcess(config, tmp_path / "bot.log", {"TELEGRAM_BOT_TOKEN": tg.token})
        await bot.start()
        try:
            people = [Phone(tg, 7001 + n) for n in range(5)]
            p1, p2, p3, hv, vcs = people
            (c1, c2, c3), (c_hv,), (c_vcs,) = codes.values()
            await p1.send(f"/start {c1.replace('-', '')}", "Do you agree")  # the deep link
            await p2.send(f"/start {c2.lower()}", "Do you agree")  # typed, lower case
            await p3.send(c3.lower(), "Do you agree")  # the code on its own, from a poster
            await hv.send(f"/start {c_hv}", "Do you agree")
            await vcs.send(f"/start {c_vcs}", "Do you agree")
            for phone in people:
                await phone.send("yes", RATE)
            # welcome: rating, used (yes/no), which (only after "yes")
            for phone, rating, used, which in (
                (p1, "4", "yes", "2"),
                (p3, "5", "yes", "1"),
                (vcs, "4", "yes", "3"),
            ):
                await phone.send(rating, USED)
                await phone.send(used, WHICH)
                await phone.send(which, THANKS)
            await p2.send("2", USED)
            await p2.send("no", THANKS)
            await hv.send("3", USED)
            await hv.send("no", CASELOAD)
            await hv.send("Waiting lists at the voluntary groups are too long.", "Thank you")
            await asyncio.sleep(1.0)  # room for a (wrong) extra question to arrive
        finally:
            assert await bot.terminate() == 0, (tmp_path / "bot.log").read_text()
        assert not p2.saw(WHICH) and not hv.saw(WHICH)  # the conditional step
        # GROUP-LIMITED: only the health visitor is asked the health visitors' flow.
        assert [p.saw(CASELOAD) for p in people] == [False, False, False, True, False]
        sends = Counter((s.chat_id, s.text) for s in tg.sent)
        assert [key for key, n in sends.items() if n > 1] == []  # nothing sent twice

        # 5. comments from a workshop, saved by Excel as "CSV UTF-8"
        excel = tmp_path / "workshop.csv"
        excel.write_bytes(EXCEL_CSV.encode("utf-8"))
        code, out, err = await cli(
            "import", str(excel), "--campaign", "journey-2027", "--source", "workshop",
            config=config, token=tg.token,
        )  # fmt: skip
        assert code == 0, err
        assert "Imported 3 comment(s)" in out and "as batch B-" in out
        assert (
            "Read comments from 'Comment', groups from 'Group', dates from 'Submitted_at' "
            "(comma-separated); slashed dates day first." in out
        )
        code, out, err = await cli("imports", config=config, token=tg.token)
        assert code == 0 and "workshop.csv" in out
        assert (tmp_path / "east-leeds.db").exists() and not (ROOT / "east-leeds.db").exists()

        # 6. the export, as a spreadsheet
        code, out, err = await cli("export", config=config, token=tg.token)
        assert code == 0, err
        rows = list(csv.DictReader(io.StringIO(out)))
        channels = Counter(r["channel"] for r in rows)
        # REHEARSAL-APART: the terminal rehearsal stays out of the live export.
        assert channels["console"] == 0
        assert channels["telegram"] == 14 and channels["import"] == 3
        xlsx = tmp_path / "east-leeds.xlsx"
        code, out, err = await cli(
            "export", "--campaign", "journey-2027", "--format", "xlsx", "--out", str(xlsx),
            config=config, token=tg.token,
        )  # fmt: skip
        assert code == 0, err
        check_workbook(xlsx)

        # 7. the report
        report = tmp_path / "report.html"
        code, out, err = await cli(
            "report", "--campaign", "journey-2027", "--out", str(report),
            config=config, token=tg.token,
        )  # fmt: skip
        assert code == 0, err
        html = report.read_text("utf-8")
        assert "East Leeds" in html  # the campaign's title (its apostrophe may be escaped)
        assert "Health visitors" in html
        assert "Parent70" not in html and "7001" not in html  # no names, no platform ids


def check_workbook(path: Path) -> None:
    """Types, local times, questions and the by-person sheet, read back as Excel would."""
    book = load_workbook(path)
    sheet = book["responses"]
    header = [c.value for c in sheet[1]]
    assert header[:10] == [
        "response_id", "campaign", "flow", "step", "group", "participant", "channel", "kind",
        "answer", "answered_at",
    ]  # fmt: skip
    assert header[10:12] == ["answered_local (Europe/London)", "question"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    telegram = [r for r in sheet.iter_rows(min_row=2) if r[6].value == "telegram"]
    ratings = [r for r in telegram if r[3].value == "rating"]
    assert sorted(r[8].value for r in ratings) == [2, 3, 4, 4, 5]
    assert all(r[8].data_type == "n" and r[11].value == RATE for r in ratings)
    now_local = datetime.now(LONDON).replace(tzinfo=None)
    for row in telegram:
        assert row[10].is_date and abs(row[10].value - now_local) < timedelta(minutes=30)
        assert row[9].value.endswith("Z")
    imported = {r[8].value: r for r in sheet.iter_rows(min_row=2) if r[6].value == "import"}
    library = imported["Drop-in sessions at the library, please"]
    assert library[4].value == "parents" and library[10].value == datetime(2027, 1, 24, 18, 30)
    assert imported["Referral forms take too long"][4].value == "health_visitors"
    assert (
        imported['We need stable funding; "one-year" grants hurt\nevery spring'][8].data_type == "s"
    )

    people = book["by person"]
    columns = [c.value for c in people[1]]
    assert columns[:2] == ["participant", "group"]
    assert columns[2:] == [
        f"welcome/rating: {RATE}",
        f"welcome/used: {USED}",
        f"welcome/which: {WHICH}",
        f"caseload/referrals: {CASELOAD}",
    ]
    by_group = Counter(row[1] for row in people.iter_rows(min_row=2, values_only=True))
    assert by_group == {"parents": 3, "health_visitors": 1, "vcs": 1}  # no rehearsal
    hv = next(
        row for row in people.iter_rows(min_row=2, values_only=True) if row[1] == "health_visitors"
    )
    assert hv[2:] == (3, "no", None, "Waiting lists at the voluntary groups are too long.")
