"""Invite codes for paper and posters: easy to read aloud, type, print and scan.

A code is eight characters from an alphabet without look-alikes (no 0/O, no 1/I/L), shown in two
groups (``K7QM-3XRT``) and stored upper-case without the dash. A Telegram deep link carries it
without the dash (``https://t.me/<bot>?start=K7QM3XRT``): Telegram start parameters allow only
``A-Z a-z 0-9 _ -``, up to 64 characters. Whoever types the code may use any case, a dash or
spaces; :meth:`storage.repositories.InviteRepo.find` reads it the same way, and still finds the
mixed-case codes made before this alphabet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.errors import BotError
from bot.timeparse import parse_duration
from storage.db import make_engine, make_sessionmaker
from storage.records import InviteRef
from storage.repositories import INVITE_ALPHABET, INVITE_LENGTH, InviteRepo, new_invite_code

ALPHABET = INVITE_ALPHABET
"""31 characters: digits 2-9 and A-Z without I, L, O; 31**8 ≈ 8.5e11 codes."""
CODE_LENGTH = INVITE_LENGTH
new_code = new_invite_code


def display(code: str) -> str:
    """``K7QM3XRT`` → ``K7QM-3XRT`` for print; codes of other shapes are shown as stored."""
    if len(code) == CODE_LENGTH and all(ch in ALPHABET for ch in code):
        return f"{code[:4]}-{code[4:]}"
    return code


def deep_link(username: str, code: str) -> str:
    """The Telegram link that opens the bot with ``/start CODE`` (no dash: A-Z a-z 0-9 _ - only)."""
    return f"https://t.me/{username}?start={code}"


@dataclass(frozen=True, slots=True)
class InviteStatus:
    """One code as `listening-bot invites` shows it."""

    invite: InviteRef
    state: str


def status_of(invite: InviteRef, now: datetime) -> str:
    """``revoked``, ``expired``, ``used up`` or ``active``: why a code does or does not work."""
    if invite.revoked_at is not None:
        return "revoked"
    if invite.expires_at is not None and now >= invite.expires_at:
        return "expired"
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        return "used up"
    return "active"


async def telegram_username(settings: Settings) -> str | None:
    """Ask Telegram (getMe) for the bot's username; None when Telegram is not configured."""
    if not settings.telegram.enabled:
        return None
    from telegram import Bot
    from telegram.error import InvalidToken, TelegramError

    bot = Bot(settings.telegram.token or "", base_url=settings.telegram.base_url)
    try:
        async with bot:
            return bot.username
    except InvalidToken:
        raise BotError("Telegram refused the bot token; check TELEGRAM_BOT_TOKEN.") from None
    except TelegramError as exc:
        raise BotError(f"Telegram could not be reached to read the bot's name ({exc}).") from None


async def create_invites(
    settings: Settings,
    campaign_id: str,
    group_id: str,
    count: int,
    max_uses: int | None,
    expires: str | None,
) -> tuple[list[str], str | None]:
    """Store ``count`` new codes for one campaign and group; return them with the bot username."""
    campaign = settings.campaign(campaign_id)
    if group_id not in campaign.groups:
        raise BotError(
            f"Group {group_id!r} does not take part in {campaign.id} "
            f"(its groups: {', '.join(campaign.groups)})."
        )
    try:
        lifetime = parse_duration(expires) if expires else None
    except ValueError as exc:
        raise BotError(f"--expires: {exc}.") from None
    username = await telegram_username(settings)
    now = datetime.now(UTC)
    engine = make_engine(settings.database_url)
    codes: list[str] = []
    try:
        async with make_sessionmaker(engine).begin() as session:
            repo = InviteRepo(session)
            while len(codes) < count:
                code = new_code()
                if code in codes or await repo.exists(code):
                    continue  # 31**8 codes: a clash is rare, but never reuse one
                await repo.create(
                    campaign.id,
                    group_id,
                    now,
                    max_uses=max_uses,
                    expires_at=now + lifetime if lifetime else None,
                    code=code,
                )
                codes.append(code)
    finally:
        await engine.dispose()
    return codes, username


async def list_invites(settings: Settings, campaign_id: str | None) -> list[InviteStatus]:
    """Every stored code (of one campaign, when given) with whether it still works."""
    now = datetime.now(UTC)
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            found = await InviteRepo(session).listing(campaign_id)
    finally:
        await engine.dispose()
    return [InviteStatus(invite, status_of(invite, now)) for invite in found]


async def revoke_invite(settings: Settings, typed: str) -> InviteRef:
    """Stop a code from enrolling anyone; people already enrolled with it stay.

    Raises:
        BotError: there is no such code.
    """
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            revoked = await InviteRepo(session).revoke(typed, datetime.now(UTC))
    finally:
        await engine.dispose()
    if revoked is None:
        raise BotError(f"There is no invite code {typed!r}; `listening-bot invites` lists them.")
    return revoked


def write_qr_codes(directory: Path, links: list[tuple[str, str]]) -> list[Path]:
    """Write ``CODE.png`` and ``CODE.svg`` for each (code, deep link) into ``directory``.

    The QR code holds the deep link, so scanning it opens the bot with the code filled in.

    Raises:
        BotError: the folder cannot be created or written.
    """
    import segno

    try:
        directory.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for code, link in links:
            qr = segno.make_qr(link, error="m")
            for suffix in ("png", "svg"):
                path = directory / f"{display(code)}.{suffix}"
                qr.save(str(path), scale=10, border=4)
                written.append(path)
    except OSError as exc:
        raise BotError(
            f"QR codes cannot be written to {directory}: {exc.strerror or exc}."
        ) from None
    return written
