"""Crontab lines as organisers mean them, on APScheduler 3 triggers."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_trigger(expr: str, tz: ZoneInfo) -> CronTrigger:
    """A trigger for a five-field crontab line with crontab's weekday numbers (0 or 7 = Sunday).

    APScheduler 3's ``from_crontab`` counts weekdays from Monday = 0 ("a historical mistake" in
    its own docs), so ``0 10 * * 0`` would fire on Mondays. Numeric weekdays are rewritten as
    names, which mean the same thing to both.
    """
    parts = expr.split()
    if len(parts) == 5:
        parts[4] = _dow_names(parts[4])
    return CronTrigger.from_crontab(" ".join(parts), timezone=tz)


def _dow_names(field: str) -> str:
    if not re.search(r"\d", field.split("/")[0]) and "/" not in field:
        return field
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            low_text, high_text = span.split("-", 1)
            low, high = _dow_number(low_text), _dow_number(high_text)
            if high == 0 and low > 0:  # "5-7" or "5-0": up to Sunday
                high = 7
        else:
            low = high = _dow_number(span)
            if step_text:
                high = 6
        days.update(day % 7 for day in range(low, high + 1, step))
    return ",".join(_DOW_NAMES[day] for day in sorted(days))


def _dow_number(text: str) -> int:
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    return _DOW_NAMES.index(text[:3])
