"""Platform-neutral messages: what adapters hand to the dispatcher and what they must send."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

InboundKind = Literal["text", "button", "voice", "media", "edit", "delete"]


@dataclass(frozen=True, slots=True)
class Address:
    """Where to reach someone: a platform, a chat and, on Slack, an optional thread."""

    platform: str
    chat_ref: str
    thread_ref: str | None = None

    def __repr__(self) -> str:
        # Platform ids are personal data: they must not reach logs through a repr.
        thread = ", thread_ref=…" if self.thread_ref is not None else ""
        return f"Address(platform={self.platform!r}, chat_ref=…{thread})"


@dataclass(frozen=True, slots=True)
class Inbound:
    """One thing a person did: typed text, pressed a button, sent a voice note, edited a message.

    ``platform_msg_id`` is unique per platform and makes redelivery harmless; ``raw`` keeps the
    platform payload for debugging but nothing relies on it. ``first_name``/``last_name`` are the
    platform's display names (stored at join time only to mask them in reports).
    """

    platform: str
    user_ref: str
    address: Address
    received_at: datetime
    kind: InboundKind = "text"
    text: str | None = None
    platform_msg_id: str | None = None
    file_id: str | None = None
    edit_of: str | None = None
    group_hint: str | None = None
    timezone: str | None = None
    # The language the platform says the person uses (Telegram ``language_code``, Slack locale),
    # as the platform wrote it; the engine takes it only when it is one of the config's languages.
    language: str | None = None
    first_name: str | None = field(default=None, repr=False)
    last_name: str | None = field(default=None, repr=False)
    raw: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Choice:
    """A button: what the person sees and what comes back when they press it."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message to send. ``choices`` become buttons; ``multi`` means several may be picked."""

    text: str
    choices: tuple[Choice, ...] = ()
    multi: bool = False
    prompt_ref: str | None = None
    lang: str | None = None
    """The language the text is in, for words an adapter adds (None: the default, English)."""


# "uncertain": the platform may have accepted it (the call timed out after sending) and it was
# deliberately not sent again, so nobody gets the same prompt twice (the Slack adapter).
DeliveryStatus = Literal["sent", "failed", "uncertain"]


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What became of one outbound message: sent (with the platform's id) or failed (with why).

    Adapters report one per :class:`Outbound` through their ``on_delivery`` callback; the app or
    the scheduler decides where to keep it.
    """

    address: Address
    prompt_ref: str | None
    status: DeliveryStatus
    attempts: int
    platform_msg_id: str | None
    error: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class PendingReplies:
    """Replies that were committed but, as far as we know, never sent (a crash in between)."""

    address: Address
    platform_msg_id: str
    replies: tuple[Outbound, ...]
