"""Plain values that repositories return; callers never see ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ParticipantRef:
    id: int
    pseudonym: str


@dataclass(frozen=True, slots=True)
class AddressRef:
    participant_id: int
    platform: str
    user_ref: str
    chat_ref: str


@dataclass(frozen=True, slots=True)
class EnrolmentRef:
    participant_id: int
    campaign_id: str
    group_id: str
    channel: str
    joined_at: datetime
    opted_out_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewResponse:
    """An answer to store; ``source_msg_id`` makes a redelivered message a no-op."""

    campaign_id: str
    flow_id: str
    step_id: str
    group_id: str
    channel: str
    kind: str
    answer: str
    answered_at: datetime
    participant_id: int | None = None
    source_msg_id: str | None = None
    file_id: str | None = None
    source: str | None = None
    language: str | None = None
    import_batch_id: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """One response as exports and analysis see it (pseudonymous)."""

    response_id: str
    campaign: str
    flow: str
    step: str
    group: str
    participant: str
    channel: str
    kind: str
    answer: str
    answered_at: datetime
    original_answer: str | None = None
    language: str | None = None
    translation: str | None = None
    """An organiser's English translation of the answer (``import --translation-of``)."""


@dataclass(frozen=True, slots=True)
class InviteRef:
    code: str
    campaign_id: str
    group_id: str
    max_uses: int | None
    uses: int
    expires_at: datetime | None
    revoked_at: datetime | None = None
    created_at: datetime | None = None

    def uses_left(self) -> int | None:
        """How many more people can join with this code; None when unlimited."""
        return None if self.max_uses is None else max(self.max_uses - self.uses, 0)


@dataclass(frozen=True, slots=True)
class ImportBatchRef:
    """One `import` run, as `listening-bot imports` lists it."""

    id: str
    campaign_id: str
    file_name: str
    source: str
    fingerprint: str
    rows: int
    imported_by: str
    imported_at: datetime
