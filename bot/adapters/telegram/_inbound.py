"""Telegram updates as the engine's normalised events (everything but button presses)."""

from __future__ import annotations

from datetime import datetime

from telegram import Chat, Message, Update

from bot.events import Address, Inbound

PLATFORM = "telegram"
VOICE_TEXT = "[voice note]"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
"""The update types the bot asks Telegram for (nothing else is ever handled)."""


def message_ref(chat_id: int, message_id: int) -> str:
    """``platform_msg_id`` of a message: Telegram's message ids are only unique within a chat."""
    return f"{chat_id}:{message_id}"


def chat_allowed(chat: Chat | None, allow_group_chats: bool) -> bool:
    """Private chats always; groups and channels only when the config allows them."""
    if chat is None:
        return False
    return chat.type == Chat.PRIVATE or (allow_group_chats and chat.type != Chat.CHANNEL)


def chat_key(update: Update) -> str | None:
    """The chat an update belongs to (updates of one chat are handled one at a time, in order)."""
    chat = update.effective_chat
    if chat is not None:
        return str(chat.id)
    user = update.effective_user
    return str(user.id) if user is not None else None


def message_inbound(
    update: Update, now: datetime, *, allow_group_chats: bool = False
) -> Inbound | None:
    """Map a new or edited message to an :class:`Inbound`; None when it is not for the bot.

    Text (commands and ``/start CODE`` deep links included) is ``text``; a voice note or audio
    file is ``voice`` with Telegram's file id kept; stickers, photos and other media are
    ``media``; an edited text message is ``edit`` of the original message.
    """
    edited = update.edited_message is not None
    message: Message | None = update.edited_message if edited else update.message
    if message is None or not chat_allowed(message.chat, allow_group_chats):
        return None
    user = message.from_user
    if user is None or user.is_bot:
        return None
    chat_id = message.chat.id
    common = {
        "platform": PLATFORM,
        "user_ref": str(user.id),
        "address": Address(PLATFORM, str(chat_id)),
        "received_at": now,
        "first_name": user.first_name or None,
        "last_name": user.last_name or None,
        # IETF tag of the user's Telegram app language (optional; "pl", "en-GB")
        "language": user.language_code or None,
        "raw": update,
    }
    ref = message_ref(chat_id, message.message_id)
    if edited:
        if message.text is None:
            return None  # an edited caption or media: nothing we stored changes
        stamp = int(message.edit_date.timestamp()) if message.edit_date else update.update_id
        return Inbound(
            **common,  # type: ignore[arg-type]
            kind="edit",
            text=message.text,
            edit_of=ref,
            platform_msg_id=f"{ref}:edit:{stamp}",
        )
    if message.text is not None:
        return Inbound(**common, kind="text", text=message.text, platform_msg_id=ref)  # type: ignore[arg-type]
    audio = message.voice or message.audio
    if audio is not None:
        return Inbound(
            **common,  # type: ignore[arg-type]
            kind="voice",
            text=VOICE_TEXT,
            file_id=audio.file_id,
            platform_msg_id=ref,
        )
    if message.effective_attachment is not None:
        return Inbound(**common, kind="media", text="", platform_msg_id=ref)  # type: ignore[arg-type]
    return None  # service messages (pins, joins): not something a person said
