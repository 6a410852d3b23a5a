"""How a CSV file someone saved is laid out: its encoding, its delimiter and its named columns.

Spreadsheets save "CSV" in several dialects: Excel's "CSV UTF-8" starts with a byte-order mark
and ends lines with CRLF; a machine in France or Germany separates cells with semicolons; some
tools write tabs. Headers are written by people (``Comment``, `` Response ``). This module reads
all of these the same way and names what it found when something is missing.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ImportRefused

DELIMITERS = (",", ";", "\t")
TEXT_COLUMNS = ("text", "comment", "comments", "response", "answer")
"""Header names read as the comment itself, in any case, trimmed; ``--text-column`` adds one."""
GROUP_COLUMNS = ("group",)
DATE_COLUMNS = ("submitted_at", "submitted", "date", "timestamp")
# A file with a single column has no delimiter in its header: reading it with one that never
# occurs in text keeps a comma inside a comment a comma.
_SINGLE_COLUMN = "\x1e"
_SAMPLE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns of one file: where the comment, group and date are, by position."""

    body: str  # the text from the header on (without Excel's ``sep=`` line)
    delimiter: str
    header: list[str]
    text: int
    group: int | None
    date: int | None

    @property
    def delimiter_name(self) -> str:
        return {",": "comma", ";": "semicolon", "\t": "tab"}.get(self.delimiter, "one column")

    def describe(self) -> str:
        """What was read from where, for the organiser to check (``comments from 'Comment'``)."""
        parts = [f"comments from {self.header[self.text].strip()!r}"]
        if self.group is not None:
            parts.append(f"groups from {self.header[self.group].strip()!r}")
        if self.date is not None:
            parts.append(f"dates from {self.header[self.date].strip()!r}")
        cells = (
            "one column" if self.delimiter == _SINGLE_COLUMN else f"{self.delimiter_name}-separated"
        )
        return f"{', '.join(parts)} ({cells})"


def decode(data: bytes, path: Path) -> tuple[str, str]:
    """Decode UTF-8 (with or without BOM) or UTF-16 with BOM; Windows-1252 as a last resort.

    Windows-1252 (a superset of Latin-1 for printable text) is what Excel writes as "CSV" on
    many machines; bytes that make no sense there are refused rather than stored as mojibake.
    """
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ImportRefused(
            f"{path} is an Excel workbook, not CSV; in Excel use File > Save As > "
            "CSV UTF-8 (Comma delimited) and import that file."
        )
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


def normalise_name(name: str) -> str:
    """``" Submitted At "`` → ``submitted_at``: how a header cell is compared."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def strip_separator_hint(text: str) -> tuple[str, str | None]:
    """Excel's ``sep=;`` first line names the delimiter; it is not a row of the table."""
    first = _first_line(text)
    if len(first) == 5 and first.lower().startswith("sep=") and first[4] in DELIMITERS:
        rest = text[len(first) :]
        return rest[2:] if rest.startswith("\r\n") else rest[1:], first[4]
    return text, None


def _first_line(text: str) -> str:
    """The header line, whatever ends it: CRLF (Windows), LF, or CR (old Mac "CSV")."""
    return re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]


def delimiter_candidates(text: str) -> list[str]:
    """Delimiters to try, most likely first: the header's own, then ``csv.Sniffer``'s guess.

    The header decides when only one candidate occurs in it (a comment's commas never confuse a
    semicolon file that way); otherwise the sniffer looks at a sample, and the header's most
    frequent candidate is the fallback when the sniffer cannot tell.
    """
    header = _first_line(text)
    present = [d for d in DELIMITERS if d in header]
    if not present:
        return [_SINGLE_COLUMN]
    if len(present) == 1:
        return present
    ordered: list[str] = []
    try:
        ordered.append(csv.Sniffer().sniff(text[:_SAMPLE], delimiters="".join(present)).delimiter)
    except csv.Error:
        pass
    ordered += sorted(present, key=lambda d: -header.count(d))
    return list(dict.fromkeys(ordered))


def read_header(text: str, delimiter: str, path: Path) -> list[str]:
    try:
        return next(csv.reader([_first_line(text)], delimiter=delimiter), [])
    except csv.Error as exc:
        raise ImportRefused(f"{path} is not a readable CSV file: {exc}.") from None


def find_layout(text: str, path: Path, text_column: str | None = None) -> Layout:
    """Find the delimiter and the comment, group and date columns.

    Raises:
        ImportRefused: no comment column (the sentence lists the file's columns and the names
            accepted), or more than one that could be it.
    """
    wanted = (normalise_name(text_column),) if text_column else TEXT_COLUMNS
    text, hinted = strip_separator_hint(text)
    candidates = [hinted] if hinted else delimiter_candidates(text)
    first_header: list[str] | None = None
    for delimiter in candidates:
        header = read_header(text, delimiter, path)
        first_header = first_header if first_header is not None else header
        names = [normalise_name(h) for h in header]
        matches = [i for i, name in enumerate(names) if name in wanted]
        if not matches:
            continue
        if len(matches) > 1:
            found = ", ".join(repr(header[i].strip()) for i in matches)
            raise ImportRefused(
                f"{path} has more than one column that could hold the comments ({found}); "
                "choose one with --text-column NAME."
            )
        return Layout(
            body=text,
            delimiter=delimiter,
            header=header,
            text=matches[0],
            group=_position(names, GROUP_COLUMNS),
            date=_position(names, DATE_COLUMNS),
        )
    columns = ", ".join(repr(h.strip()) for h in first_header or [] if h.strip()) or "none"
    if text_column:
        raise ImportRefused(
            f"{path} has no column named {text_column!r}; its columns are {columns}."
        )
    accepted = ", ".join(TEXT_COLUMNS[:-1]) + " or " + TEXT_COLUMNS[-1]
    raise ImportRefused(
        f"{path} has no 'text' column: its columns are {columns}; call the comments column "
        f"{accepted} (any case), or pass --text-column NAME."
    )


def _position(names: list[str], accepted: tuple[str, ...]) -> int | None:
    for wanted in accepted:
        if wanted in names:
            return names.index(wanted)
    return None
