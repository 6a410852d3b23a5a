"""Read the dates people's spreadsheets write: ISO 8601, and day-first or month-first with slashes.

Excel saves a date in the form of the machine's locale, so a UK file says ``24/01/2027 18:30``
and a US one ``01/24/2027 6:30 PM``. ``03/04/2027`` is both 3 April and 4 March: which one is
meant is never guessed from the value, it is decided by ``dayfirst`` (an option, defaulting from
the campaign's timezone), and a value that does not fit the chosen order is refused, never read
the other way round.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

_TIMES = ("", " %H:%M", " %H:%M:%S", " %I:%M %p", " %I:%M:%S %p")
_ISO_DATES = ("%Y-%m-%d", "%Y/%m/%d")
_SLASHED = re.compile(r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}\b")


@dataclass(frozen=True, slots=True)
class DateOrder:
    """Which way round a slashed date is read: day first (UK, most of the world) or month first."""

    dayfirst: bool

    @classmethod
    def for_timezone(cls, tz_name: str) -> DateOrder:
        """Month first for the Americas' zones (``America/*``, ``US/*``), day first elsewhere."""
        return cls(dayfirst=not tz_name.startswith(("America/", "US/", "Canada/")))

    @property
    def example(self) -> str:
        return "24/01/2027 18:30" if self.dayfirst else "01/24/2027 18:30"

    def accepted_forms(self) -> str:
        """The forms named in an error, so the organiser knows what to write."""
        other = "--monthfirst" if self.dayfirst else "--dayfirst"
        order = "day first" if self.dayfirst else "month first"
        return (
            f"2027-01-24 18:30 (ISO 8601, optionally with seconds or an offset), "
            f"{self.example} or {self.example.split()[0]} ({order}; {other} reads them the "
            "other way round)"
        )

    def _slashed_formats(self) -> list[str]:
        first, second = ("%d", "%m") if self.dayfirst else ("%m", "%d")
        formats = []
        for sep in ("/", ".", "-"):
            for year in ("%Y", "%y"):
                formats.extend(f"{first}{sep}{second}{sep}{year}{t}" for t in _TIMES)
        return formats

    def parse(self, text: str, tz: ZoneInfo) -> datetime:
        """An aware datetime; a value without an offset is local to ``tz``.

        Raises:
            ValueError: the value fits none of the accepted forms.
        """
        value = " ".join(text.split())
        formats = self._slashed_formats() if _SLASHED.match(value) else []
        formats += [f"{d}{t}" for d in _ISO_DATES for t in _TIMES]
        for fmt in formats:
            try:
                return datetime.strptime(value, fmt).replace(tzinfo=tz)
            except ValueError:
                continue
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(value) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
