"""The organiser's report: pure figures, theme-analysis glue and a self-contained HTML page."""

from __future__ import annotations

from bot.report.render import ReportInput, render_report

__all__ = ["ReportInput", "render_report"]
