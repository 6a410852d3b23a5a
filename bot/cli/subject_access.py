"""``listening-bot subject-access``: everything held about one person, for their request."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli._common import (
    ConfigOption,
    _prepare_database,
    _run,
    _settings,
    _with_session,
    app,
    out,
)
from bot.errors import BotError


@app.command("subject-access")
def subject_access(
    reference: Annotated[
        str, typer.Argument(help="The person's reference, as /mydata shows it (P-...).")
    ],
    out_file: Annotated[
        Path,
        typer.Option("--out", help="The page to write (.html); a .json copy is written beside it."),
    ],
    config: ConfigOption = None,
) -> None:
    """Write everything held about one person: a readable page and a JSON copy."""
    from sqlalchemy import select

    from bot.privacy import audit
    from bot.privacy.subject_access import as_html, as_json
    from storage.models import ConsentText
    from storage.personal_data import collect, normalise_reference
    from storage.repositories import ParticipantRepo

    settings = _settings(config)
    html_file = (
        out_file if out_file.suffix.lower() in (".html", ".htm") else out_file.with_suffix(".html")
    )
    json_file = html_file.with_suffix(".json")
    for target in (html_file, json_file):
        if target.exists():
            raise BotError(f"{target} already exists; choose another --out.")
        if not target.parent.is_dir():
            raise BotError(f"The folder {target.parent} does not exist.")
    _prepare_database(settings)
    now = datetime.now(UTC)

    async def gather(session: Any) -> tuple[Any, dict[int, str]]:
        found = await ParticipantRepo(session).by_pseudonym(normalise_reference(reference))
        if found is None:
            raise BotError(f"There is no participant {reference!r}.")
        held = await collect(session, found.id)
        texts = dict((await session.execute(select(ConsentText.id, ConsentText.text))).all())
        await audit.record(session, "subject-access", at=now, rows=held.row_count)
        return held, texts

    # A person's rights reach rehearsal data too (the view "all" hides nothing).
    held, consent_texts = _run(_with_session(settings, gather, view="all"))
    json_file.write_text(as_json(held, now), encoding="utf-8")
    html_file.write_text(as_html(held, settings, now, consent_texts), encoding="utf-8")
    out.print(
        f"Wrote {held.row_count} record(s) held about {held.pseudonym} to {html_file} "
        f"and {json_file}."
    )
