"""The organiser's own summary, written in Markdown, shown at the top of the report.

Rendered with markdown-it-py in CommonMark mode with raw HTML switched off, so whatever the
file holds becomes text and ordinary formatting: a ``<script>`` in it is shown, never run, and
links with unsafe schemes (``javascript:``, ``data:``) are not made into links.
"""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt
from markupsafe import Markup

from bot.errors import BotError

MAX_SUMMARY_BYTES = 200_000


def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.enable("strikethrough")
    return md


def render_summary(markdown: str) -> Markup:
    """Safe HTML for the report from the organiser's Markdown."""
    # Headings in the summary sit under the report's own h2, so they start at h3.
    html = _renderer().render(markdown)
    for level in (6, 5, 4, 3, 2, 1):
        html = html.replace(f"<h{level}>", f"<h{min(level + 2, 6)}>")
        html = html.replace(f"</h{level}>", f"</h{min(level + 2, 6)}>")
    return Markup(html)  # noqa: S704 - markdown-it escaped every character of the input


def read_summary(path: Path) -> str:
    """The summary file's text.

    Raises:
        BotError: the file is missing, too large, or not UTF-8 text.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BotError(f"The summary file {path} does not exist.") from None
    except OSError as exc:
        raise BotError(f"The summary file {path} cannot be read: {exc.strerror or exc}.") from None
    if len(data) > MAX_SUMMARY_BYTES:
        raise BotError(f"The summary file {path} is larger than 200 kB; shorten it.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BotError(f"The summary file {path} is not UTF-8 text; save it as UTF-8.") from None
