"""Render the organiser's report: one self-contained HTML file (inline CSS and SVG, no scripts).

The page is built from the pure figures in :mod:`bot.report.figures` and the Jinja2 template
``templates/report.html``. Nothing in it identifies a participant: figures are counts and
shares per group, and quotes are the text of answers without pseudonyms or response ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.config import Settings
from bot.report import figures
from bot.report.summary import render_summary
from bot.report.text_answers import OPEN_STEP, ThemeIndex, text_questions
from storage.records import EnrolmentRef, ResponseRow

if TYPE_CHECKING:
    from bot.analysis import ThemeResult

# Colour-blind-safe palettes (Okabe-Ito for groups; a diverging scale for answer options).
GROUP_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
SCALE_COLOURS = ("#b2182b", "#ef8a62", "#d9d9d9", "#67a9cf", "#2166ac")
CHOICE_COLOURS = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB")


@dataclass(frozen=True, slots=True)
class ReportInput:
    """Everything one report is made from; the CLI loads it, tests build it by hand."""

    settings: Settings
    campaign_id: str
    rows: Sequence[ResponseRow]
    enrolments: Sequence[EnrolmentRef]
    themes: ThemeResult | None
    comments_per_group: Mapping[str, int]
    generated_at: datetime
    themes_note: str | None = None  # why there are no themes (e.g. too few comments)
    summary: str | None = None  # the organiser's own summary, in Markdown
    # How an answer is quoted: identifying details masked. The CLI passes one that also knows
    # each author's platform names; without it, phones, emails, postcodes and listed first
    # names are masked all the same.
    quote: Callable[[ResponseRow], str] | None = None
    # Which comments theme analysis could not read (written in another language), if any.
    languages_note: str | None = None


def pct(value: float | None) -> str:
    """A share as a whole percentage ("71%"), or an en dash when it is undefined."""
    return "–" if value is None else f"{round(value * 100)}%"


def points(delta: float) -> str:
    """A change in percentage points, signed ("+12 pts", "0 pts", "−5 pts")."""
    value = round(delta * 100)
    if value > 0:
        return f"+{value} pts"
    return f"−{-value} pts" if value < 0 else "0 pts"


def signed(delta: float) -> str:
    value = round(delta, 1)
    return f"+{value:.1f}" if value > 0 else (f"−{-value:.1f}" if value < 0 else "0.0")


def _segments(
    options: Sequence[figures.OptionCount], colours: Sequence[str]
) -> list[dict[str, object]]:
    """Stacked-bar segments (x, width in 0..100) for one group's answers to a single choice."""
    total = sum(o.count for o in options)
    segments, x = [], 0.0
    for index, option in enumerate(options):
        width = 100 * option.count / total if total else 0.0
        segments.append(
            {"x": round(x, 3), "width": round(width, 3), "colour": colours[index % len(colours)]}
        )
        x += width
    return segments


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("bot.report", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = pct
    env.filters["points"] = points
    env.filters["signed"] = signed
    env.filters["plural"] = lambda n, word: f"{n} {word}" + ("" if n == 1 else "s")
    return env


def context(data: ReportInput) -> dict[str, object]:
    """The template's variables: every figure already computed, nothing left to the template."""
    settings = data.settings
    campaign = settings.campaign(data.campaign_id)
    tz = settings.campaign_tz(campaign)
    min_size = settings.report.min_group_size
    groups = [(gid, settings.group_by_id[gid].label) for gid in campaign.groups]
    participation = figures.participation(groups, data.enrolments, data.rows, min_size=min_size)
    colour_of = {
        p.group: GROUP_COLOURS[i % len(GROUP_COLOURS)]
        for i, p in enumerate(participation)
        if p.group != figures.ALL_GROUPS
    }
    questions = [
        _question_context(figures.question_figures(q, groups, data.rows, min_size=min_size))
        for q in figures.closed_questions(settings.flow_by_id, campaign)
    ]
    themes = _theme_figures(data, groups)
    theme_context = _theme_context(data, groups)
    opens, closes = settings.campaign_window(campaign)
    span = figures.data_span(data.rows, opens, closes)
    written = text_questions(
        settings.flow_by_id,
        campaign,
        data.rows,
        dict(groups),
        min_size=min_size,
        readable=data.quote or masked_quote(),
        themes=_theme_index(data),
    )
    return {
        **_language_context(data, min_size),
        "title": campaign.title,
        "campaign_id": campaign.id,
        "tz": tz.key,
        "generated": _local(data.generated_at, tz),
        "first_answer": _local(span.first, tz) if span.first else None,
        "last_answer": _local(span.last, tz) if span.last else None,
        "span": span,
        "opens": _local(opens, tz) if opens else None,
        "closes": _local(closes, tz) if closes else None,
        "participation": participation,
        "colour_of": colour_of,
        "questions": questions,
        "text_questions": written,
        "themes": themes,
        "themes_method": _method_text(data.themes.method) if data.themes is not None else None,
        "themes_note": data.themes_note,
        **theme_context,
        "analysed": sum(data.comments_per_group.values()),
        "responses": len(data.rows),
        "few": f"fewer than {min_size}",
        "min_size": min_size,
        "summary": render_summary(data.summary) if data.summary else None,
        "has_voice": any(row.kind == "voice" for row in data.rows),
        "has_imports": any(row.channel == "import" for row in data.rows),
        "shows_change": any(q["figures"].change for q in questions),
        "has_positive": any(q["figures"].question.positive for q in questions),
    }


def _theme_context(data: ReportInput, groups: Sequence[tuple[str, str]]) -> dict[str, object]:
    """Variables of the theme sections (``_themes.html``) and the method note's theme part."""
    from bot.report.themes import question_titles, theme_sections

    if data.themes is None:
        return {
            "theme_sections": [],
            "theme_notes": (),
            "theme_count": 0,
            "theme_min_group": data.settings.report.min_group_size,
        }
    titles = question_titles(data.settings.flow_by_id.values())
    min_size = data.settings.report.min_group_size
    author_of = {row.response_id: row.participant for row in data.rows if row.participant}
    sections = theme_sections(
        data.themes,
        groups,
        data.comments_per_group,
        titles,
        min_base=min_size,
        author_of=author_of,
    )
    count = sum(1 for q in sections for b in q.blocks if b.kind == "theme")
    return {
        "theme_sections": sections,
        "theme_notes": tuple(data.themes.notes),
        "theme_count": count,
        "theme_min_group": min_size,
    }


def masked_quote(
    names: Mapping[str, tuple[str, ...]] | None = None,
) -> Callable[[ResponseRow], str]:
    """Quote an answer as the report shows it: Slack mentions hidden, identifying details masked.

    Args:
        names: each participant's platform names by pseudonym, masked in their own answers.
    """
    from bot.exchange.exporting import readable_answer
    from bot.redaction import Redactor

    known = names or {}
    redactor = Redactor(name for pair in known.values() for name in pair)
    return lambda row: redactor.mask(readable_answer(row), known.get(row.participant, ()))


def _question_context(result: figures.QuestionFigures) -> dict[str, object]:
    """One closed question's figures with its colours, legend and bar segments."""
    question = result.question
    palette = SCALE_COLOURS if question.type == "scale" else CHOICE_COLOURS
    if question.type == "scale" and len(question.options) != len(SCALE_COLOURS):
        palette = CHOICE_COLOURS
    if question.type == "yesno":
        palette = (SCALE_COLOURS[-1], SCALE_COLOURS[0])
    colours = {option: palette[i % len(palette)] for i, option in enumerate(question.options)}
    return {
        "figures": result,
        "legend": [
            (_option_name(question, option), colours[option]) for option in question.options
        ],
        "colours": colours,
        "change": _change_rows(result.change),
        "stacked": question.type != "multi",
        "segments": {
            g.group: _segments(g.options, palette)
            for g in result.groups
            if g.people and not g.small
        },
        "shown_groups": [g for g in result.groups if g.people and not g.small],
        "small_groups": [g for g in result.groups if g.small],
    }


# -- languages --------------------------------------------------------------------------------
def _language_context(data: ReportInput, min_size: int) -> dict[str, object]:
    """Participation per language and each question's translations (when there are any)."""
    from bot.report.languages import (
        has_rtl,
        language_participation,
        shows_languages,
        translations,
    )

    settings = data.settings
    if not shows_languages(settings, data.rows):
        rtl = any(has_rtl(row.answer) for row in data.rows)
        return {
            "languages": None,
            "translations_of": {},
            "bidi_text": rtl,
            "languages_note": data.languages_note,
        }
    return {
        "bidi_text": True,
        "languages_note": data.languages_note,
        "languages": language_participation(settings, data.rows, min_size=min_size),
        "translations_of": {
            **{
                f"{flow.id}:{step.id}": translations(step.ask, settings)
                for flow in settings.flows
                for step in flow.steps
            },
            **{
                f"{flow.id}:{OPEN_STEP}": translations(flow.opening, settings)
                for flow in settings.flows
                if flow.kind == "open" and flow.opening
            },
        },
    }


# -- themes (kept apart: the theme sections have their own owner) -------------------------------
def _theme_figures(
    data: ReportInput, groups: Sequence[tuple[str, str]]
) -> list[figures.ThemeFigures] | None:
    if data.themes is None:
        return None
    return figures.theme_figures(data.themes.themes, groups, data.comments_per_group)


def _method_text(method: str) -> str:
    """The analysis's own description without its theme count.

    The page states how many themes it shows; the analysis may count differently (an "other"
    theme for unmatched comments), and a method note must never contradict the page.
    """
    text = re.sub(r"\s*\(\d+ themes?\)", "", method)
    return re.sub(r"\b\d+ themes?\b", "the number of themes", text)


def _theme_index(data: ReportInput) -> ThemeIndex | None:
    """Which theme each analysed response went to, for listing text answers by theme."""
    if data.themes is None or not data.themes.assignments:
        return None
    labels = {theme.theme_id: theme.label for theme in data.themes.themes}
    return ThemeIndex(
        tuple(theme.label for theme in data.themes.themes),
        {
            a.response_id: labels[a.theme_id]
            for a in data.themes.assignments
            if a.theme_id in labels
        },
    )


def _option_name(question: figures.Question, option: str) -> str:
    words = question.option_labels.get(option)
    return f"{option} ({words})" if words else option


def _change_rows(changes: Sequence[figures.Change]) -> dict[str, object]:
    """Changes pivoted to one row per group and one column per measure."""
    measures = list(dict.fromkeys(c.measure for c in changes))
    rows: dict[str, dict[str, object]] = {}
    for change in changes:
        row = rows.setdefault(
            change.group,
            {
                "group": change.group,
                "label": change.label,
                "people": change.people,
                "small": change.small,
                "cells": {},
            },
        )
        row["cells"][change.measure] = change  # type: ignore[index]
    return {"measures": measures, "rows": list(rows.values())}


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%-d %b %Y, %H:%M")


def render_report(data: ReportInput) -> str:
    """The report as one HTML document (UTF-8 text), ready to write to a file or email."""
    return _environment().get_template("report.html").render(**context(data))
