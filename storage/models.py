"""The database schema: SQLAlchemy 2 declarative models. ORM objects never leave ``storage``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware datetime")
        from datetime import UTC

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        from datetime import UTC

        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Participant(Base):
    """A person, known only by a random pseudonym.

    ``rehearsal`` marks the organiser's own console rehearsal: what such a participant stores is
    kept out of live figures and exports (see :mod:`storage.rehearsal`).
    """

    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rehearsal: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), index=True
    )
    # The language the person reads (one of the config's ``languages``); None: the default.
    language: Mapped[str | None] = mapped_column(String(16))


class PlatformAddress(Base):
    """How to reach a participant on one platform: kept apart so erasure and exports can drop it."""

    __tablename__ = "platform_addresses"
    __table_args__ = (UniqueConstraint("platform", "user_ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(16))
    user_ref: Mapped[str] = mapped_column(String(128))
    chat_ref: Mapped[str] = mapped_column(String(128))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # The platform's display names at join time (migration hd): contact details, used only to
    # mask the person's own name in reports and redacted exports.
    first_name: Mapped[str | None] = mapped_column(String(128))
    last_name: Mapped[str | None] = mapped_column(String(128))


class Enrolment(Base):
    """A participant's place in one campaign, with the group they take part as."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("participant_id", "campaign_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[str] = mapped_column(String(64), index=True)
    group_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    invite_code: Mapped[str | None] = mapped_column(String(64))
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConversationRow(Base):
    """The engine's state for one participant, as JSON."""

    __tablename__ = "conversation_states"

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FlowProgress(Base):
    """Whether a participant was prompted for, and finished, one schedule entry of a campaign."""

    __tablename__ = "flow_progress"
    __table_args__ = (UniqueConstraint("participant_id", "campaign_id", "entry_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[str] = mapped_column(String(64))
    flow_id: Mapped[str] = mapped_column(String(64))
    entry_key: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Response(Base):
    """One answer, exactly as sent, tagged with the group its author had when answering."""

    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("channel", "source_msg_id"),
        Index("ix_responses_campaign_flow", "campaign_id", "flow_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_uid: Mapped[str] = mapped_column(String(32), unique=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[str] = mapped_column(String(64))
    flow_id: Mapped[str] = mapped_column(String(64))
    step_id: Mapped[str] = mapped_column(String(64))
    group_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    answer: Mapped[str] = mapped_column(Text)
    original_answer: Mapped[str | None] = mapped_column(Text)
    file_id: Mapped[str | None] = mapped_column(String(256))
    source: Mapped[str | None] = mapped_column(String(128))
    source_msg_id: Mapped[str | None] = mapped_column(String(160))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The language the question was asked in (None: stored before languages, or imported).
    language: Mapped[str | None] = mapped_column(String(16))
    # An organiser's English translation of a free-text answer (`import --translation-of`),
    # kept beside the answer, never in its place: theme analysis reads it, exports show both.
    translation: Mapped[str | None] = mapped_column(Text)
    translated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The `import` that loaded this answer (migration im_import_batches); None for chat answers.
    import_batch_id: Mapped[str | None] = mapped_column(String(32), index=True)


class InboundLog(Base):
    """Each platform message handled once; the replies are kept so a redelivery repeats them.

    ``replies_attempted`` counts the replies whose request was about to be written (noted, and
    committed, right before each one's first HTTP request; ``sending_at`` is the first such
    moment), and ``replied_at`` is set once all of them were delivered or given up on. After a
    crash, the replies never attempted are sent; the one in flight (it may have reached the
    person) is not repeated and counts in ``replies_uncertain``, as do replies whose request
    timed out after it was written.
    """

    __tablename__ = "inbound_log"
    __table_args__ = (
        UniqueConstraint("platform", "platform_msg_id"),
        Index("ix_inbound_log_platform_replied_at", "platform", "replied_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_msg_id: Mapped[str] = mapped_column(String(160))
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    replies: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sending_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replies_attempted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    replies_uncertain: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class QuarantinedUpdate(Base):
    """A platform update no adapter could read, kept as sent for an operator to inspect.

    Personal data like any message: ``chat_ref``/``user_ref`` (read from the raw JSON where
    possible) let erasure and subject access find it.
    """

    __tablename__ = "quarantined_updates"
    __table_args__ = (
        UniqueConstraint("platform", "update_id"),
        Index("ix_quarantined_updates_platform_user_ref", "platform", "user_ref"),
        Index("ix_quarantined_updates_platform_chat_ref", "platform", "chat_ref"),
        # Erasure and subject access find a person's rows by their addresses
        # (storage.personal_data).
        {"info": {"personal_refs": ("platform", "user_ref", "chat_ref")}},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    update_id: Mapped[int] = mapped_column(BigInteger)
    chat_ref: Mapped[str | None] = mapped_column(String(128))
    user_ref: Mapped[str | None] = mapped_column(String(128))
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Invite(Base):
    """An invite code that enrols into one campaign and group."""

    __tablename__ = "invites"
    __table_args__ = ({"info": {"personal": False}},)

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    group_id: Mapped[str] = mapped_column(String(64))
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ImportBatch(Base):
    """One run of `listening-bot import`: what file, when, by whom, so it can be listed or undone.

    The responses it loaded carry its id in ``responses.import_batch_id``. Not a participant's
    data: imported comments belong to nobody, and ``imported_by`` is the organiser's account.
    """

    __tablename__ = "import_batches"
    __table_args__ = ({"info": {"personal": False}},)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[str] = mapped_column(String(128))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- scheduler: the outbox of planned sends (migration 0002_outbox) -----------------------------
class OutboxRow(Base):
    """One planned send: a scheduled prompt or a reminder for one participant and occurrence.

    ``schedule_key`` is the config entry (``ScheduleEntry.key``); ``entry_key`` is what the engine
    and ``flow_progress`` track (the same, or ``key#occurrence`` for a recurring cron entry).
    ``payload`` holds the rendered messages and address between preparing and sending, so a retry
    re-sends exactly what the engine decided; it is cleared once sent.

    ``attempt_at`` is set (and committed) just before message ``parts_sent`` is handed to the
    platform and cleared when the result is recorded: a row found with it set after its sender
    died may have been delivered, so that part is counted in ``uncertain_parts`` and never sent
    again (see :mod:`bot.scheduling.outbox`).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("participant_id", "campaign_id", "entry_key", "occurrence"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_schedule", "campaign_id", "schedule_key", "nominal_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[str] = mapped_column(String(64))
    schedule_key: Mapped[str] = mapped_column(String(200))
    entry_key: Mapped[str] = mapped_column(String(240))
    flow_id: Mapped[str] = mapped_column(String(64))
    occurrence: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    nominal_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)
    uncertain_parts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    platform_msg_id: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- data protection: consent records and the organisers' audit log (migration dp01) ----------
class ConsentText(Base):
    """One version of a campaign's consent text, exactly as shown; a new text is a new version."""

    __tablename__ = "consent_texts"
    __table_args__ = (
        UniqueConstraint("text_hash", "campaign_id"),
        UniqueConstraint("campaign_id", "version"),
        {"info": {"personal": False}},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    text_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    first_shown_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsentRecord(Base):
    """A person's agreement to (or withdrawal from) one consent text: when, where, language."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[str] = mapped_column(String(64))
    consent_text_id: Mapped[int] = mapped_column(ForeignKey("consent_texts.id"))
    decision: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))


class AuditEntry(Base):
    """An organiser's action (import, export, forget, purge, ...): who, when, counts; no content."""

    __tablename__ = "audit_log"
    __table_args__ = ({"info": {"personal": False}},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
