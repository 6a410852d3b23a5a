"""Load offline comments (workshop notes, paper forms) from CSV: the whole file or nothing."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.errors import ImportRefused
from bot.timeparse import parse_local_datetime
from storage.records import NewResponse

MAX_FIELD = 1_000_000


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What a file will add, checked in full before anything is written."""

    responses: list[NewResponse]
    encoding: str
    skipped: list[str]
    fingerprint: str


def decode(data: bytes, path: Path) -> tuple[str, str]:
    """Decode UTF-8 (with or without BOM) or UTF-16 with BOM; Windows-1252 as a last resort.

    Windows-1252 (a superset of Latin-1 for printable text) is what Excel writes as "CSV" on
    many machines; bytes that make no sense there are refused rather than stored as mojibake.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise ImportRefused(
            f"{path} is not UTF-8 or Windows-1252 text; save it as CSV UTF-8 and try again."
        ) from None
    return text, "windows-1252"


def plan_import(
    path: Path,
    *,
    campaign_id: str,
    known_groups: set[str],
    default_group: str | None,
    source: str,
    tz: ZoneInfo,
    now: datetime,
    skip_invalid: bool = False,
    question: tuple[str, str] | None = None,
) -> ImportPlan:
    """Read and check every row; raise :class:`ImportRefused` naming the first bad rows.

    Args:
        skip_invalid: skip rows with an unknown group or bad date (each named) instead of
            refusing the file.
        question: ``(flow id, step id)`` the comments answer, so theme analysis puts them under
            that question; None stores them as ``import``/source.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportRefused(f"{path} cannot be read: {exc.strerror or exc}.") from None
    text, encoding = decode(data, path)
    fingerprint = hashlib.sha256(data).hexdigest()[:16]
    csv.field_size_limit(MAX_FIELD)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise ImportRefused(f"{path} is not a readable CSV file: {exc}.") from None
    if "text" not in header:
        raise ImportRefused(f"{path} has no 'text' column; the first row must name the columns.")
    reader.fieldnames = header
    responses: list[NewResponse] = []
    problems: list[str] = []
    blank = 0
    try:
        for number, row in enumerate(reader, start=2):
            body = row.get("text") or ""
            if not body.strip():
                blank += 1
                continue
            group = (row.get("group") or "").strip() or default_group
            if not group:
                problems.append(f"row {number} has no group (add a group column or --group)")
                continue
            if group not in known_groups:
                problems.append(f"row {number} has an unknown group {group!r}")
                continue
            answered_at = now
            stamp = (row.get("submitted_at") or "").strip()
            if stamp:
                try:
                    answered_at = parse_local_datetime(stamp, tz)
                except ValueError:
                    problems.append(f"row {number} has a submitted_at that is not a date-time")
                    continue
            responses.append(
                NewResponse(
                    campaign_id=campaign_id,
                    flow_id=question[0] if question else "import",
                    step_id=question[1] if question else source,
                    group_id=group,
                    channel="import",
                    kind="open",
                    answer=body,
                    answered_at=answered_at,
                    source=source,
                    source_msg_id=f"import:{fingerprint}:{number}",
                )
            )
    except csv.Error as exc:
        raise ImportRefused(f"{path} is not a readable CSV file: {exc}.") from None
    if problems and not skip_invalid:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ImportRefused(
            f"Nothing was imported: {'; '.join(problems[:3])}{more}. "
            "Fix the file, or pass --skip-invalid to import the other rows."
        )
    skipped = problems + ([f"{blank} blank row(s)"] if blank else [])
    if not responses:
        raise ImportRefused(f"{path} has no comments to import.")
    return ImportPlan(responses, encoding, skipped, fingerprint)
