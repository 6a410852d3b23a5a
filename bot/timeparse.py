"""Parse the date-times and durations that organisers write in campaign files."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_SHORT_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_ISO_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LOCAL_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def parse_duration(text: str) -> timedelta:
    """Read ``45s``, ``90m``, ``12h``, ``2d``, ``1w`` or ISO 8601 (``P2D``, ``PT1H30M``).

    Raises:
        ValueError: with a sentence that shows the accepted forms.
    """
    value = str(text).strip()
    short = _SHORT_DURATION.match(value)
    if short:
        return timedelta(seconds=float(short.group(1)) * _UNIT_SECONDS[short.group(2).lower()])
    iso = _ISO_DURATION.match(value)
    if iso and value.upper() not in ("P", "PT") and any(iso.groupdict().values()):
        parts = {k: float(v) if v else 0.0 for k, v in iso.groupdict().items()}
        return timedelta(
            weeks=parts["w"],
            days=parts["d"],
            hours=parts["h"],
            minutes=parts["m"],
            seconds=parts["s"],
        )
    raise ValueError(
        f"{value!r} is not a duration; write e.g. 45s, 90m, 12h, 2d, 1w or ISO 8601 like P2D"
    )


def parse_local_datetime(text: str, tz: ZoneInfo) -> datetime:
    """Read a date-time local to ``tz``; an explicit UTC offset in ISO 8601 wins.

    Returns:
        An aware datetime.
    """
    value = str(text).strip()
    for fmt in _LOCAL_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date-time; write e.g. 2026-03-02 09:30 or 2026-03-02T09:30:00"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def format_duration(delta: timedelta) -> str:
    """Write a duration back in the short form people read easily (``2d``, ``90m``)."""
    seconds = int(delta.total_seconds())
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
