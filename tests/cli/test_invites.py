"""Invite codes for paper and posters: typed in any case, listed, revoked, printed as QR codes."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import timedelta

import segno

from bot.invites import ALPHABET, display, new_code
from storage.repositories import InviteRepo
from tests.cli.test_cli import cli
from tests.conftest import example_data, write_config
from tests.doubles.telegram_api import TelegramApiDouble
from tests.helpers import Person, texts

CODE = re.compile(r"^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$")


def test_the_alphabet_has_no_look_alikes_and_fits_a_telegram_start_parameter():
    assert not set("01OIL") & set(ALPHABET) and len(set(ALPHABET)) == 31
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000  # 31**8 codes: no clash in a poster run
    for code in codes:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", code)  # Telegram: A-Z a-z 0-9 _ -, <= 64
        assert CODE.match(display(code))


def test_invite_prints_readable_codes_then_lists_and_revokes_them(sqlite_url):
    made = cli(
        "invite",
        "--campaign",
        "leeds-2026",
        "--group",
        "la",
        "--count",
        "3",
        "--max-uses",
        "2",
        "--expires",
        "14d",
        db=sqlite_url,
    )
    assert made.returncode == 0, made.stderr
    codes = [line.split("\t")[0] for line in made.stdout.strip().splitlines()]
    assert len(codes) == 3 and all(CODE.match(code) for code in codes)

    listing = cli("invites", "--campaign", "leeds-2026", db=sqlite_url)
    assert listing.returncode == 0, listing.stderr
    for code in codes:
        line = next(line for line in listing.stdout.splitlines() if code in line)
        assert "la" in line and "2 of 2" in line and "active" in line
        assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", line)  # the expiry, local time

    typed = codes[0].lower().replace("-", "")
    revoked = cli("invite", "--revoke", typed, db=sqlite_url)
    assert revoked.returncode == 0, revoked.stderr
    assert f"Revoked {codes[0]} (leeds-2026, la)" in revoked.stdout
    listing = cli("invites", db=sqlite_url).stdout
    assert "revoked" in next(line for line in listing.splitlines() if codes[0] in line)

    missing = cli("invite", "--revoke", "ZZZZ-ZZZZ", db=sqlite_url)
    assert missing.returncode == 1 and "There is no invite code 'ZZZZ-ZZZZ'" in missing.stderr
    usage = cli("invite", db=sqlite_url)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


async def test_invite_qr_writes_a_png_and_an_svg_holding_each_deep_link(sqlite_url, tmp_path):
    async with TelegramApiDouble() as tg:
        data = example_data()
        data["telegram"] = {"token": tg.token, "base_url": tg.base_url}
        data.pop("slack", None)
        config = write_config(tmp_path, data)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SLACK_"))}
        env["LISTENING_DATABASE_URL"] = sqlite_url
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "invite",
            "--campaign",
            "leeds-2026",
            "--group",
            "parents",
            "--count",
            "2",
            "--qr",
            str(tmp_path / "posters"),
            "--config",
            str(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        shown, link = line.split("\t")
        assert link == f"https://t.me/listening_test_bot?start={shown.replace('-', '')}"
        png = tmp_path / "posters" / f"{shown}.png"
        svg = tmp_path / "posters" / f"{shown}.svg"
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        expected = tmp_path / "expected.svg"
        segno.make_qr(link, error="m").save(str(expected), scale=10, border=4)
        assert svg.read_text() == expected.read_text()  # the same matrix: it holds the link
    assert "Wrote 4 QR code file(s)" in stderr.decode()


def test_qr_without_telegram_is_one_sentence(sqlite_url, tmp_path):
    result = cli(
        "invite",
        "--campaign",
        "leeds-2026",
        "--group",
        "parents",
        "--qr",
        str(tmp_path),
        db=sqlite_url,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: --qr needs the Telegram bot (telegram.token) to build the deep links."
    )


async def make(dispatcher, clock, code=None, **options) -> str:
    async with dispatcher.sessionmaker.begin() as session:
        repo = InviteRepo(session)
        return (
            await repo.create("leeds-2026", "la", clock.now(), code=code or new_code(), **options)
        ).code


async def test_a_code_typed_in_lower_case_with_a_dash_enrols(dispatcher, clock):
    code = await make(dispatcher, clock)
    person = Person(dispatcher)
    replies = await person.say(f"/start {display(code).lower()}")
    assert "Do you agree to take part?" in texts(replies)
    await person.say("yes")
    assert "Local authority professionals" in texts(await person.say("/mydata"))
    async with dispatcher.sessionmaker() as session:
        assert (await InviteRepo(session).get(code)).uses == 1


async def test_a_code_typed_on_its_own_enrols_as_the_link_would(dispatcher, clock):
    code = await make(dispatcher, clock, max_uses=1)
    person = Person(dispatcher)
    replies = await person.say(" " + display(code).lower() + " ")
    assert "Do you agree to take part?" in texts(replies)
    await person.say("yes")
    async with dispatcher.sessionmaker() as session:
        assert (await InviteRepo(session).get(code)).uses == 1


async def test_a_revoked_code_gets_one_plain_sentence(dispatcher, clock):
    code = await make(dispatcher, clock)
    async with dispatcher.sessionmaker.begin() as session:
        await InviteRepo(session).revoke(display(code).lower(), clock.now())
    replies = await Person(dispatcher).say(f"/start {code}")
    assert replies[0].text == "Sorry, that invite code has been withdrawn by the organiser."


async def test_a_used_up_code_typed_in_lower_case_is_refused_plainly(dispatcher, clock):
    code = await make(dispatcher, clock, max_uses=1)
    first = Person(dispatcher, user_ref="a")
    await first.say(f"/start {code}")
    await first.say("yes")
    replies = await Person(dispatcher, user_ref="b").say(f"/start {code.lower()}")
    assert replies[0].text == "Sorry, that invite code has already been used up."


async def test_codes_made_before_the_new_alphabet_keep_working(dispatcher, clock):
    old = await make(dispatcher, clock, code="Bx1qRgByDg5I")
    exact = Person(dispatcher, user_ref="a")
    assert "Do you agree" in texts(await exact.say(f"/start {old}"))
    lower = Person(dispatcher, user_ref="b")
    assert "Do you agree" in texts(await lower.say(f"/start {old.lower()}"))
    await lower.say("yes")
    async with dispatcher.sessionmaker() as session:
        assert (await InviteRepo(session).get(old)).uses == 1


async def test_an_expired_code_is_listed_as_expired(dispatcher, clock, settings):
    from bot.invites import status_of

    code = await make(dispatcher, clock, expires_at=clock.now() + timedelta(days=1))
    async with dispatcher.sessionmaker() as session:
        invite = await InviteRepo(session).get(code)
    assert status_of(invite, clock.now()) == "active"
    assert status_of(invite, clock.now() + timedelta(days=2)) == "expired"
