"""The ``themes`` and ``report`` commands: theme analysis and the organiser's HTML report.

Registered on :data:`bot.cli.app` when ``bot.cli`` imports this module.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from bot.cli._common import (
    CampaignOption,
    ConfigOption,
    ForceOption,
    IncludeRehearsalOption,
    _campaign_id,
    _require_database,
    _run,
    _settings,
    _view,
    _with_session,
    app,
    atomic_output,
    check_output_path,
    err,
    out,
)
from bot.cli.audit import audited
from bot.config import Settings
from bot.errors import AnalysisError, BotError
from storage.records import EnrolmentRef, ResponseRow

if TYPE_CHECKING:
    from bot.analysis import Comment, ThemeResult

CodebookOption = Annotated[
    Path | None,
    typer.Option(
        "--codebook",
        help="YAML codebook: assign each comment to its best-matching predefined theme.",
        dir_okay=False,
    ),
]
PooledOption = Annotated[
    bool,
    typer.Option("--pooled", help="Find themes in all answers together instead of per question."),
]
ReviewOption = Annotated[
    Path | None,
    typer.Option(
        "--review",
        help="Reviewed themes-review.yaml: apply its edits and match new answers to its themes.",
        dir_okay=False,
    ),
]
CompareOption = Annotated[
    Path | None,
    typer.Option(
        "--compare",
        help="CSV coded by a person (response_id or text, and theme): print the agreement.",
        dir_okay=False,
    ),
]
ThemesOption = Annotated[
    int | None,
    typer.Option(
        "--themes",
        min=2,
        max=100,
        help="Number of themes to discover (default: chosen from the data).",
    ),
]


def _load(
    settings: Settings,
    campaign_id: str,
    *,
    enrolments: bool = False,
    include_rehearsal: bool = False,
) -> tuple[list[ResponseRow], list[EnrolmentRef]]:
    from storage.repositories import EnrolmentRepo, ResponseRepo

    async def work(session: Any) -> tuple[list[ResponseRow], list[EnrolmentRef]]:
        rows = await ResponseRepo(session).rows(campaign_id=campaign_id)
        people = await EnrolmentRepo(session).for_campaign(campaign_id) if enrolments else []
        return rows, people

    return _run(_with_session(settings, work, view=_view(include_rehearsal)))


@contextmanager
def _progress_bars() -> Iterator[Any]:
    """A progress callback for the analysis, drawn as one rich bar per stage on stderr."""
    bars = Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def report(stage: str, fraction: float) -> None:
        if stage not in tasks:
            for earlier in tasks.values():
                bars.update(earlier, completed=100)
            tasks[stage] = bars.add_task(stage, total=100)
        bars.update(tasks[stage], completed=round(100 * fraction, 1))

    with bars:
        yield report


def _analyse(
    settings: Settings,
    comments: list[Comment],
    codebook: Path | None,
    n_themes: int | None,
    *,
    pooled: bool = False,
) -> ThemeResult:
    """Themes with names, phone numbers, emails and postcodes masked in what they show."""
    from bot.report.analyse import analyse

    with _progress_bars() as progress:
        result = analyse(
            comments, codebook=codebook, n_themes=n_themes, progress=progress, pooled=pooled
        )
    return _redacted(settings, comments, result)


def _redacted(settings: Settings, comments: list[Comment], result: ThemeResult) -> ThemeResult:
    """Mask identifying details in quotes, labels and the answer text of assignments.csv."""
    from dataclasses import replace

    from bot.analysis.inputs import as_written
    from bot.redaction import Redactor
    from bot.report.analyse import redact_themes
    from storage.repositories import ParticipantRepo

    # Translated answers are shown as written (and masked as written), never as the translation.
    result, comments = as_written(result, comments)
    names = _run(_with_session(settings, lambda s: ParticipantRepo(s).names()))
    redactor = Redactor(name for pair in names.values() for name in pair)
    result = redact_themes(result, comments, redactor, names)
    author = {c.response_id: c.participant for c in comments}
    assignments = tuple(
        replace(a, text=redactor.mask(a.text, names.get(author.get(a.response_id, ""), ())))
        for a in result.assignments
    )
    return replace(result, assignments=assignments)


def _check_options(
    codebook: Path | None,
    n_themes: int | None,
    review: Path | None = None,
    compare: Path | None = None,
) -> None:
    if codebook is not None and n_themes is not None:
        raise BotError("--themes and --codebook do not go together: a codebook sets the themes.")
    if review is not None and (codebook is not None or n_themes is not None):
        raise BotError("--review sets the themes itself; leave out --codebook and --themes.")
    for path, what in ((codebook, "codebook"), (review, "review"), (compare, "comparison")):
        if path is not None and not path.is_file():
            raise BotError(f"There is no {what} file {path}.")


def _open_flows(settings: Settings) -> set[str]:
    return {f.id for f in settings.flow_by_id.values() if f.kind == "open"}


def _reviewed(
    settings: Settings, campaign_id: str, comments: list[Comment], review: Path
) -> tuple[ThemeResult, list[str]]:
    """Apply a review file; each newly applied edit goes to the audit log and the file."""
    from bot.analysis.review import apply_review, load_review, read_baseline
    from bot.privacy.audit import os_user, record

    loaded = load_review(review)
    result, entries, unmatched = apply_review(
        comments, loaded, read_baseline(review), who=os_user(), now=datetime.now(UTC)
    )
    if entries:

        async def store(session: Any) -> None:
            for entry in entries:
                await record(
                    session,
                    "theme-review",
                    campaign_id=campaign_id,
                    at=entry.when,
                    edit=entry.what,
                    review_file=review.name,
                )

        _run(_with_session(settings, store))
        _append_history(review, [e.line() for e in entries])
    return _redacted(settings, comments, result), unmatched


def _append_history(review: Path, lines: list[str]) -> None:
    """Keep the applied edits in the review file itself (the edits stay; history grows)."""
    import yaml

    text = review.read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    history = list(data.get("history") or []) + lines
    head = text.split("\nhistory:", 1)[0].rstrip("\n")
    body = yaml.safe_dump({"history": history}, allow_unicode=True, sort_keys=False, width=100)
    review.write_text(head + "\n" + body, encoding="utf-8")


def _with_agreement(result: ThemeResult, compare: Path | None) -> ThemeResult:
    if compare is None:
        return result
    from dataclasses import replace

    from bot.analysis.agreement import compare as agreement_of

    agreement = agreement_of(result, compare)
    table = Table("theme", "label", "coded by the person", "precision", "recall")
    for t in agreement.themes:
        table.add_row(t.theme_id, t.label, str(t.support), f"{t.precision:.2f}", f"{t.recall:.2f}")
    out.print(table)
    out.print(agreement.line(), markup=False)
    if agreement.unknown:
        err.print(f"{agreement.unknown} row(s) of {compare} match no analysed answer.")
    return replace(result, notes=(*result.notes, agreement.line()))


def _comments(rows: list[ResponseRow], campaign_id: str, settings: Settings) -> list[Comment]:
    from bot.report.analyse import comments_from_rows

    comments = comments_from_rows(rows, _open_flows(settings))
    if not comments:
        raise BotError(
            f"Campaign {campaign_id} has no free-text responses yet, so there are no themes to "
            "find."
        )
    if len(comments) == 1:
        raise BotError(
            f"Campaign {campaign_id} has only one free-text response; theme analysis needs more "
            "than one."
        )
    return comments


# -- themes -----------------------------------------------------------------------------------
@app.command()
def themes(
    campaign: CampaignOption = None,
    codebook: CodebookOption = None,
    n_themes: ThemesOption = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            file_okay=False,
            help="Directory for themes.csv, assignments.csv and themes-review.yaml.",
        ),
    ] = None,
    pooled: PooledOption = False,
    review: ReviewOption = None,
    compare: CompareOption = None,
    force: ForceOption = False,
    include_rehearsal: IncludeRehearsalOption = False,
    config: ConfigOption = None,
) -> None:
    """Find the themes in the free-text responses, with counts and shares per group."""
    _check_options(codebook, n_themes, review, compare)
    settings = _settings(config)
    campaign_id = _campaign_id(settings, campaign)
    targets = _theme_targets(out_dir, settings, config, force) if out_dir is not None else None
    _require_database(settings)
    rows, _ = _load(settings, campaign_id, include_rehearsal=include_rehearsal)
    from bot.report.analysis_languages import split_for_analysis

    split = split_for_analysis(settings, rows)
    if split.note:
        out.print(split.note, markup=False)
    comments = _comments(split.rows, campaign_id, settings)
    unmatched: list[str] = []
    if review is not None:
        result, unmatched = _reviewed(settings, campaign_id, comments, review)
    else:
        result = _analyse(settings, comments, codebook, n_themes, pooled=pooled)
    out.print(_themes_table(settings, result, comments))
    out.print(f"{result.method}", markup=False)
    for note in result.notes:
        out.print(note, markup=False)
    if unmatched:
        out.print(
            f"{len(unmatched)} new answer(s) fit no reviewed theme (theme other): "
            + ", ".join(unmatched[:20])
            + (" ..." if len(unmatched) > 20 else ""),
            markup=False,
        )
    result = _with_agreement(result, compare)
    if out_dir is not None and targets is not None:
        from bot.analysis import write_theme_files
        from bot.analysis.review import review_text

        # Written in a private folder first and then moved in, so a failure leaves no half file.
        with tempfile.TemporaryDirectory(prefix=".themes.", dir=targets[0].parent) as scratch:
            written = write_theme_files(result, scratch)
            for source, target in zip(written, targets[:2], strict=True):
                os.replace(source, target)
        out.print(f"Wrote {targets[0]} and {targets[1]}.", markup=False)
        audited(
            settings,
            "themes",
            None,
            answers=len(comments),
            themes=len(result.themes),
            codebook=codebook is not None,
        )
        review_target = targets[2]
        if review is None or review.resolve() != review_target.resolve():
            with atomic_output(review_target) as handle:
                if review is not None:
                    handle.write(review.read_text(encoding="utf-8"))
                else:
                    handle.write(review_text(result))
            out.print(
                f"Wrote {review_target}: edit it, then run themes --review {review_target}.",
                markup=False,
            )


def _theme_targets(
    out_dir: Path, settings: Settings, config: Path | None, force: bool
) -> tuple[Path, Path, Path]:
    """The three theme files inside ``out_dir`` (created if missing), checked before analysing.

    An existing review file is replaced only when it is ours (a later run writes the same file).
    """
    from bot.analysis.output import ASSIGNMENTS_FILE, THEMES_FILE
    from bot.analysis.review import REVIEW_FILE, REVIEW_HEADER_START

    if out_dir.exists() and not out_dir.is_dir():
        raise BotError(f"{out_dir} is a file; give --out a folder for the theme files.")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BotError(f"{out_dir} cannot be created: {exc.strerror or exc}.") from None
    headers = {
        THEMES_FILE: b"theme_id,",
        ASSIGNMENTS_FILE: b"response_id,theme_id",
        REVIEW_FILE: REVIEW_HEADER_START,
    }
    checked = [
        check_output_path(
            out_dir / name,
            settings=settings,
            config=config,
            force=force,
            ours=lambda head, start=start: (
                # A review file a person edited may have lost its header comment.
                head.startswith(start)
                or (start == REVIEW_HEADER_START and b"original_label" in head)
            ),
        )
        for name, start in headers.items()
    ]
    return checked[0], checked[1], checked[2]


def _themes_table(settings: Settings, result: ThemeResult, comments: list[Comment]) -> Table:
    """Themes with count and share of each group's comments *to the same question*."""
    from collections import Counter

    from bot.report.analyse import comments_per_group

    per_group = comments_per_group(comments)
    per_question: dict[str, Counter[str]] = {}
    for a in result.assignments:
        per_question.setdefault(a.question, Counter())[a.group] += 1
    several = len({t.question for t in result.themes}) > 1
    order = [g.id for g in settings.groups] + sorted(result.groups)
    groups = [g for g in dict.fromkeys(order) if per_group.get(g)]
    table = Table(
        "theme",
        "label",
        "size",
        *(f"{g} (n={per_group[g]})" for g in groups),
        title=f"{len(result.themes)} lines in {len(comments)} comments (count and share of "
        "each group's comments" + (" to the same question)" if several else ")"),
    )
    for theme in result.themes:
        base = per_question.get(theme.question, per_group) if several else per_group
        cells = []
        for group in groups:
            count = int(theme.counts.get(group, 0))
            whole = base.get(group, 0)
            cells.append(f"{count} ({round(100 * count / whole)}%)" if whole else f"{count}")
        table.add_row(theme.theme_id, theme.label, str(theme.size), *cells)
    return table


# -- report -----------------------------------------------------------------------------------
@app.command()
def report(
    campaign: CampaignOption = None,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out", dir_okay=False, help="HTML file to write (default: <campaign>-report.html)."
        ),
    ] = None,
    codebook: CodebookOption = None,
    n_themes: ThemesOption = None,
    pooled: PooledOption = False,
    review: ReviewOption = None,
    compare: CompareOption = None,
    force: ForceOption = False,
    include_rehearsal: IncludeRehearsalOption = False,
    summary_file: Annotated[
        Path | None,
        typer.Option(
            "--summary",
            dir_okay=False,
            help="The organisers' own summary (a Markdown file), shown at the top of the report.",
        ),
    ] = None,
    pdf_file: Annotated[
        Path | None,
        typer.Option(
            "--pdf", dir_okay=False, help="Also print the report to this PDF file (needs Chromium)."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write a self-contained HTML report: participation, closed questions, themes, quotes."""
    from bot.report import ReportInput, render_report
    from bot.report.analyse import comments_from_rows, comments_per_group
    from bot.report.pdf import find_chromium, html_to_pdf
    from bot.report.render import masked_quote
    from bot.report.summary import read_summary
    from storage.repositories import ParticipantRepo

    _check_options(codebook, n_themes, review, compare)
    summary = read_summary(summary_file) if summary_file is not None else None
    if pdf_file is not None and find_chromium() is None:
        from bot.report.pdf import NO_CHROMIUM

        raise BotError(NO_CHROMIUM)
    settings = _settings(config)
    campaign_id = _campaign_id(settings, campaign)
    target = check_output_path(
        out_file or Path(f"{campaign_id}-report.html"),
        settings=settings,
        config=config,
        force=force,
        ours=lambda head: b'<meta name="generator" content="listening-bot">' in head,
    )
    _require_database(settings)
    rows, enrolments = _load(
        settings, campaign_id, enrolments=True, include_rehearsal=include_rehearsal
    )
    if not rows:
        left_out = "" if include_rehearsal else " (console rehearsals are left out)"
        raise BotError(
            f"Campaign {campaign_id} has no responses yet{left_out}, so there is nothing to report."
        )
    from bot.report.analysis_languages import split_for_analysis

    split = split_for_analysis(settings, rows)
    comments = comments_from_rows(split.rows, _open_flows(settings))
    result, note = None, None
    if len(comments) < 2:
        note = (
            "There are no free-text comments yet, so there are no themes."
            if not comments
            else "There is only one free-text comment, too few to find themes."
        )
    else:
        try:
            if review is not None:
                result, _ = _reviewed(settings, campaign_id, comments, review)
            else:
                result = _analyse(settings, comments, codebook, n_themes, pooled=pooled)
        except AnalysisError as exc:
            if codebook is not None or review is not None:
                raise
            note = exc.message
        if result is not None:
            result = _with_agreement(result, compare)
    html = render_report(
        ReportInput(
            settings=settings,
            campaign_id=campaign_id,
            rows=rows,
            enrolments=enrolments,
            themes=result,
            comments_per_group=comments_per_group(comments),
            generated_at=datetime.now(UTC),
            themes_note=note,
            summary=summary,
            languages_note=split.note,
            quote=masked_quote(_run(_with_session(settings, lambda s: ParticipantRepo(s).names()))),
        )
    )
    with atomic_output(target) as handle:
        handle.write(html)
    audited(settings, "report", campaign_id, answers=len(rows), pdf=pdf_file is not None)
    out.print(
        f"Wrote the report for {campaign_id} to {target} ({len(rows)} answers, "
        f"{len(result.themes) if result else 0} themes).",
        markup=False,
    )
    if pdf_file is not None:
        html_to_pdf(html, pdf_file)
        out.print(f"Printed it to {pdf_file}.", markup=False)
