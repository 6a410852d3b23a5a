"""A subject access response: everything held about one person, as JSON and a readable page.

The content comes from :func:`storage.personal_data.collect`, which walks every table of the
schema, so a table added later appears here without anyone remembering to add it. The page puts
the parts a person cares about first (answers with their questions, what they agreed to, how we
reach them) and then every table's rows in full.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.config import Settings
from storage.personal_data import HeldData

TABLE_TITLES = {
    "participants": "You",
    "platform_addresses": "How we reach you",
    "enrolments": "Campaigns you joined",
    "consent_records": "What you agreed to",
    "responses": "Your answers",
    "flow_progress": "Questions you were sent and finished",
    "conversation_states": "Where you are in the conversation",
    "inbound_log": "Messages of yours we handled",
    "outbox": "Messages we scheduled for you",
}


def as_json(held: HeldData, generated_at: datetime) -> str:
    """The machine-readable copy: every table's rows, as stored."""
    return json.dumps(
        {
            "pseudonym": held.pseudonym,
            "generated_at": generated_at.isoformat(),
            "tables": held.tables,
        },
        indent=2,
        ensure_ascii=False,
        default=str,
    )


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("bot.privacy", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _question(settings: Settings, flow_id: str, step_id: str) -> str:
    flow = settings.flow_by_id.get(flow_id)
    if flow is None:
        return f"{flow_id} / {step_id}"
    for step in getattr(flow, "steps", None) or []:
        if step.id == step_id:
            return str(step.ask)
    if step_id == "opening" and getattr(flow, "opening", None):
        return str(flow.opening)
    if step_id == "unprompted":
        return "A message you sent between questions"
    return f"{flow_id} / {step_id}"


def _when(value: Any) -> str:
    """ISO 8601 (as stored) in words: ``2 March 2026, 10:00 UTC``."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{moment.day} {moment:%B %Y, %H:%M} UTC"


def as_html(
    held: HeldData, settings: Settings, generated_at: datetime, consent_texts: dict[int, str]
) -> str:
    """The readable page: answers with their questions, consents with their text, then all."""
    titles = {c.id: c.title for c in settings.campaigns}
    answers = [
        {
            "question": _question(settings, row["flow_id"], row["step_id"]),
            "answer": row["answer"],
            "when": _when(row["answered_at"]),
            "campaign": titles.get(row["campaign_id"], row["campaign_id"]),
        }
        for row in held.tables.get("responses", [])
    ]
    consents = [
        {
            "campaign": titles.get(row["campaign_id"], row["campaign_id"]),
            "decision": row["decision"],
            "when": _when(row["at"]),
            "channel": row["channel"],
            "text": consent_texts.get(row["consent_text_id"], ""),
        }
        for row in held.tables.get("consent_records", [])
    ]
    groups = {g.id: g.label for g in settings.groups}
    enrolments = [
        {
            "campaign": titles.get(row["campaign_id"], row["campaign_id"]),
            "group": groups.get(row["group_id"], row["group_id"]),
            "joined": _when(row["joined_at"]),
            "stopped": _when(row.get("opted_out_at")),
        }
        for row in held.tables.get("enrolments", [])
    ]
    tables = [
        {
            "name": name,
            "title": TABLE_TITLES.get(name, name.replace("_", " ").capitalize()),
            "columns": list(rows[0]) if rows else [],
            "rows": [[_cell(v) for v in row.values()] for row in rows],
        }
        for name, rows in held.tables.items()
    ]
    return (
        _environment()
        .get_template("subject_access.html")
        .render(
            pseudonym=held.pseudonym,
            generated=generated_at.strftime("%d %B %Y, %H:%M UTC"),
            answers=answers,
            consents=consents,
            enrolments=enrolments,
            tables=tables,
            row_count=held.row_count,
        )
    )


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
