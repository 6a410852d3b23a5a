"""The Telegram adapter (python-telegram-bot v22): updates in, paced and retried sends out."""

from bot.adapters.telegram._adapter import COMMANDS, OnDelivery, TelegramAdapter
from bot.adapters.telegram._delivery import CallFailed, RetryPolicy
from bot.adapters.telegram._limiter import BULK, REPLY, RateLimiter
from bot.adapters.telegram._text import MAX_MESSAGE, split_text, utf16_len

__all__ = [
    "BULK",
    "COMMANDS",
    "MAX_MESSAGE",
    "REPLY",
    "CallFailed",
    "OnDelivery",
    "RateLimiter",
    "RetryPolicy",
    "TelegramAdapter",
    "split_text",
    "utf16_len",
]
