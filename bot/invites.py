"""Create invite codes and find the Telegram bot's username for deep links."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.config import Settings
from bot.errors import BotError
from bot.timeparse import parse_duration
from storage.db import make_engine, make_sessionmaker
from storage.repositories import InviteRepo


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
    try:
        async with make_sessionmaker(engine).begin() as session:
            repo = InviteRepo(session)
            codes = [
                (
                    await repo.create(
                        campaign.id,
                        group_id,
                        now,
                        max_uses=max_uses,
                        expires_at=now + lifetime if lifetime else None,
                    )
                ).code
                for _ in range(count)
            ]
    finally:
        await engine.dispose()
    return codes, username
