"""A small reader for the report's HTML (standard library only): tables, bars, visible text."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Cell:
    attrs: dict[str, str]
    text: str = ""


@dataclass
class Row:
    attrs: dict[str, str]
    cells: list[Cell] = field(default_factory=list)

    def col(self, name: str, **match: str) -> str:
        """Text of the first cell with ``data-col=name`` (and matching ``data-*`` attributes)."""
        for cell in self.cells:
            if cell.attrs.get("data-col") != name:
                continue
            if all(cell.attrs.get(f"data-{k}") == v for k, v in match.items()):
                return cell.text
        raise KeyError(f"no cell {name} {match} in row {self.attrs}")


@dataclass
class Table:
    attrs: dict[str, str]
    rows: list[Row] = field(default_factory=list)

    def by_group(self) -> dict[str, Row]:
        return {row.attrs["data-group"]: row for row in self.rows if "data-group" in row.attrs}


@dataclass
class Page:
    tables: list[Table] = field(default_factory=list)
    bars: list[dict[str, str]] = field(default_factory=list)  # <svg class="bar"> attributes
    fills: list[float] = field(default_factory=list)  # widths of their filled rects
    text: str = ""
    tags: set[str] = field(default_factory=set)
    external: list[str] = field(default_factory=list)  # src/href values that leave the file

    def table(self, **match: str) -> Table:
        """The first table whose attributes include ``match`` (``class_`` matches a class)."""
        for table in self.tables:
            if _matches(table.attrs, match):
                return table
        raise KeyError(f"no table with {match}")


def _matches(attrs: dict[str, str], match: dict[str, str]) -> bool:
    for key, value in match.items():
        if key == "class_":
            if value not in attrs.get("class", "").split():
                return False
        elif attrs.get(key.replace("_", "-")) != value:
            return False
    return True


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._tables: list[Table] = []
        self._cell: Cell | None = None
        self._skip = 0
        self._text: list[str] = []
        self._in_bar = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.page.tags.add(tag)
        for key in ("src", "href"):
            if key in found and not found[key].startswith(("#", "data:")):
                self.page.external.append(found[key])
        if tag in ("style", "script", "title"):
            self._skip += 1
        elif tag == "table":
            self._tables.append(Table(found))
        elif tag == "tr" and self._tables:
            self._tables[-1].rows.append(Row(found))
        elif tag in ("td", "th") and self._tables and self._tables[-1].rows:
            self._cell = Cell(found)
            self._tables[-1].rows[-1].cells.append(self._cell)
        elif tag == "svg" and "bar" in found.get("class", "").split():
            self.page.bars.append(found)
            self._in_bar = True
        elif tag == "rect" and self._in_bar and "fill" in found.get("class", "").split():
            self.page.fills.append(float(found["width"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self._skip -= 1
        elif tag == "table" and self._tables:
            self.page.tables.append(self._tables.pop())
        elif tag in ("td", "th") and self._cell is not None:
            self._cell.text = " ".join(self._cell.text.split())
            self._cell = None
        elif tag == "svg":
            self._in_bar = False

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self._text.append(data)
        if self._cell is not None:
            self._cell.text += data


def read_page(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    reader.page.text = " ".join(" ".join(reader._text).split())
    return reader.page
