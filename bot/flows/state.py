"""A participant's conversation state: plain data that survives restarts as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

Stage = Literal[
    "new", "choose_campaign", "choose_language", "consent", "choose_group", "enrolled", "stopped"
]
Confirming = Literal["stop", "delete", "language"]


@dataclass(slots=True)
class ActiveFlow:
    """The flow a participant is in the middle of."""

    campaign_id: str
    flow_id: str
    entry_key: str
    step_id: str
    started_at: datetime
    last_input_at: datetime
    answers: dict[str, str] = field(default_factory=dict)
    open_answers: int = 0
    probes_asked: int = 0


@dataclass(slots=True)
class PendingFlow:
    """A flow waiting its turn because another one is under way."""

    campaign_id: str
    flow_id: str
    entry_key: str


@dataclass(slots=True)
class ConversationState:
    """Everything the engine needs to know about one participant, and nothing else."""

    stage: Stage = "new"
    campaign_id: str | None = None
    group_id: str | None = None
    invite_code: str | None = None
    confirming: Confirming | None = None
    active: ActiveFlow | None = None
    pending: list[PendingFlow] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    last_flow_id: str | None = None
    # The language the person reads (one of the config's); None until known: the default then.
    language: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (datetimes as ISO strings)."""
        data = asdict(self)
        if self.active is not None:
            data["active"]["started_at"] = self.active.started_at.isoformat()
            data["active"]["last_input_at"] = self.active.last_input_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ConversationState:
        """Rebuild a state saved by :meth:`to_json`; ``None`` gives a fresh state."""
        if not data:
            return cls()
        data = dict(data)
        active = data.pop("active", None)
        pending = [PendingFlow(**item) for item in data.pop("pending", [])]
        state = cls(**data, pending=pending)
        if active:
            active = dict(active)
            active["started_at"] = datetime.fromisoformat(active["started_at"])
            active["last_input_at"] = datetime.fromisoformat(active["last_input_at"])
            state.active = ActiveFlow(**active)
        return state

    def is_finished(self, campaign_id: str, entry_key: str) -> bool:
        return f"{campaign_id}:{entry_key}" in self.finished
