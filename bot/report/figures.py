"""Pure report figures: participation, closed-question shares and start-vs-end change per group.

Every function here takes plain rows (``ResponseRow``, ``EnrolmentRef``) and config objects and
returns frozen dataclasses; nothing touches a database or a file, so the numbers are unit-tested
on their own.

Counting rules (also printed in the report's method section):

* Closed questions count **people, not answers**: each participant is counted once per question,
  with their *latest* answer, so a question asked twice does not double anyone.
* A scale has a "positive" share only when the organiser says which points are positive
  (``positive: [4, 5]`` on the step): which end is good is theirs to say, or not at all.
  Yes/no questions report the share of "yes".
* Small groups: a figure whose base is fewer than ``report.min_group_size`` people (default 5)
  is flagged ``small`` and shown as "fewer than 5", never as a share, so one person cannot be
  picked out and four people are not read as a trend.
* Start-vs-end change compares each participant's *first* and *last* answer to the same
  flow/step, for people who answered it at least twice (a paired comparison, so a group's
  figure cannot move just because different people answered at the end). It is computed for
  steps whose flow the campaign schedules more than once (or on a repeating ``cron``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.config import Campaign, Flow, Step
from storage.records import EnrolmentRef, ResponseRow


class ThemeLike(Protocol):
    """What the report reads from a theme (``bot.analysis.Theme`` has these fields)."""

    @property
    def theme_id(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def keywords(self) -> Sequence[str]: ...
    @property
    def size(self) -> int: ...
    @property
    def counts(self) -> Mapping[str, int]: ...
    @property
    def quotes(self) -> Sequence[str]: ...


FREE_TEXT_KINDS = frozenset({"open", "text", "voice"})
CLOSED_TYPES = frozenset({"choice", "multi", "scale", "yesno"})
ALL_GROUPS = "all"


def is_free_text(row: ResponseRow) -> bool:
    """A comment for theme analysis: open/text answers, voice notes with text, imports."""
    return row.kind in FREE_TEXT_KINDS and bool(row.answer.strip())


def free_text(rows: Iterable[ResponseRow]) -> list[ResponseRow]:
    return [row for row in rows if is_free_text(row)]


def share(part: int, whole: int) -> float | None:
    """``part / whole`` as a fraction, or None when there is nothing to divide by."""
    return part / whole if whole else None


def is_small(people: int, min_size: int) -> bool:
    """True when some, but fewer than ``min_size``, people are behind a figure."""
    return 0 < people < min_size


# -- participation ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Participation:
    """One group's participation in a campaign."""

    group: str
    label: str
    enrolled: int  # people who joined as this group (including those who stopped later)
    stopped: int  # of those, people who opted out
    answered: int  # people with at least one stored answer in this group
    answers: int  # every stored answer from the bot (not imports)
    comments: int  # free-text answers from the bot
    imported: int  # offline comments loaded with `import`
    small: bool = False  # fewer people enrolled than the report's minimum group size

    @property
    def response_rate(self) -> float | None:
        return share(self.answered, self.enrolled)


def participation(
    groups: Sequence[tuple[str, str]],
    enrolments: Sequence[EnrolmentRef],
    rows: Sequence[ResponseRow],
    *,
    min_size: int = 1,
) -> list[Participation]:
    """Enrolled/answered counts per group, in config order, then a total row (``all``).

    Args:
        groups: ``(id, label)`` of the campaign's groups, in the order to show them; a group
            found only in the data is appended after them.
        enrolments: the campaign's enrolments.
        rows: the campaign's responses.
        min_size: groups with fewer people enrolled (but some) are marked ``small``.
    """
    order = [gid for gid, _ in groups]
    labels = dict(groups)
    for gid in [e.group_id for e in enrolments] + [r.group for r in rows]:
        if gid not in labels:
            order.append(gid)
            labels[gid] = gid
    enrolled: Counter[str] = Counter()
    stopped: Counter[str] = Counter()
    for enrolment in enrolments:
        enrolled[enrolment.group_id] += 1
        if enrolment.opted_out_at is not None:
            stopped[enrolment.group_id] += 1
    people: dict[str, set[str]] = defaultdict(set)
    answers: Counter[str] = Counter()
    comments: Counter[str] = Counter()
    imported: Counter[str] = Counter()
    for row in rows:
        if row.channel == "import":
            imported[row.group] += 1
            continue
        answers[row.group] += 1
        if is_free_text(row):
            comments[row.group] += 1
        if row.participant:
            people[row.group].add(row.participant)
    result = [
        Participation(
            gid,
            labels[gid],
            enrolled[gid],
            stopped[gid],
            len(people[gid]),
            answers[gid],
            comments[gid],
            imported[gid],
            is_small(max(enrolled[gid], len(people[gid])), min_size),
        )
        for gid in order
    ]
    everyone = len(set().union(*people.values())) if people else 0
    enrolled_total = sum(p.enrolled for p in result)
    total = Participation(
        ALL_GROUPS,
        "All groups",
        enrolled_total,
        sum(p.stopped for p in result),
        everyone,
        sum(p.answers for p in result),
        sum(p.comments for p in result),
        sum(p.imported for p in result),
        is_small(max(enrolled_total, everyone), min_size),
    )
    return [*result, total]


# -- closed questions ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Question:
    """A closed question of a structured flow, as the report needs it."""

    flow_id: str
    flow_title: str
    step_id: str
    type: str
    text: str
    options: tuple[str, ...]  # the answer values in display order (scale points as "1".."5")
    positive: frozenset[str]  # values that count as "positive"/"yes"; empty for choices
    positive_label: str  # e.g. "positive (4-5 of 1-5)" or "yes"; empty for choices
    repeated: bool  # asked more than once in the campaign (start vs end is meaningful)
    option_labels: Mapping[str, str] = field(default_factory=dict)  # scale point -> its words

    @property
    def key(self) -> tuple[str, str]:
        return (self.flow_id, self.step_id)


def positive_points(step: Step) -> tuple[int, ...]:
    """The scale points the organiser calls positive (``positive:``), or none when unsaid."""
    return tuple(sorted(set(step.positive or ())))


def _span(points: Sequence[int]) -> str:
    """``4-5`` for a run of points, ``1, 3`` otherwise."""
    if len(points) > 1 and list(points) == list(range(points[0], points[-1] + 1)):
        return f"{points[0]}-{points[-1]}"
    return ", ".join(str(p) for p in points)


def _question(flow: Flow, step: Step, repeated: bool) -> Question:
    if step.type == "scale":
        points = positive_points(step)
        options = tuple(str(n) for n in range(step.min, step.max + 1))
        return Question(
            flow.id,
            flow.display_title,
            step.id,
            step.type,
            step.ask,
            options,
            frozenset(str(p) for p in points),
            f"positive ({_span(points)} of {step.min}-{step.max})" if points else "",
            repeated,
            {str(point): label for point, label in step.labels.items()},
        )
    if step.type == "yesno":
        return Question(
            flow.id,
            flow.display_title,
            step.id,
            step.type,
            step.ask,
            ("yes", "no"),
            frozenset({"yes"}),
            "yes",
            repeated,
        )
    return Question(
        flow.id,
        flow.display_title,
        step.id,
        step.type,
        step.ask,
        tuple(step.options),
        frozenset(),
        "",
        repeated,
    )


def repeated_flows(campaign: Campaign) -> set[str]:
    """Flows a campaign asks more than once: scheduled twice or more, or on a ``cron``."""
    counts = Counter(entry.flow for entry in campaign.schedule)
    return {flow for flow, n in counts.items() if n > 1} | {
        entry.flow for entry in campaign.schedule if entry.cron
    }


def closed_questions(flows: Mapping[str, Flow], campaign: Campaign) -> list[Question]:
    """Every closed step of the flows the campaign schedules, in schedule then step order."""
    repeated = repeated_flows(campaign)
    seen: list[str] = []
    for entry in campaign.schedule:
        if entry.flow not in seen and entry.flow in flows:
            seen.append(entry.flow)
    return [
        _question(flows[fid], step, fid in repeated)
        for fid in seen
        for step in flows[fid].steps
        if step.type in CLOSED_TYPES
    ]


def _values(question: Question, answer: str) -> list[str]:
    """The option values one stored answer stands for (several for a multi-choice)."""
    if question.type == "multi":
        return [part.strip() for part in answer.split(";") if part.strip()]
    return [answer.strip()]


@dataclass(frozen=True, slots=True)
class OptionCount:
    option: str
    count: int
    share: float | None  # of the people who answered (multi-choice shares may sum over 1)


@dataclass(frozen=True, slots=True)
class GroupAnswers:
    """One group's answers to one question: each person counted once, latest answer."""

    group: str
    label: str
    people: int
    options: tuple[OptionCount, ...]
    positive: int | None  # people whose answer is positive/yes (None for choices)
    mean: float | None  # mean scale point (None unless a scale)
    small: bool = False  # fewer people than the minimum group size: show no shares

    @property
    def positive_share(self) -> float | None:
        return None if self.positive is None else share(self.positive, self.people)


@dataclass(frozen=True, slots=True)
class QuestionFigures:
    question: Question
    groups: tuple[GroupAnswers, ...]  # campaign groups in order, then ``all``
    change: tuple[Change, ...]  # empty unless the question is repeated and someone answered twice


@dataclass(frozen=True, slots=True)
class Change:
    """Start-vs-end change of one measure in one group, over people who answered twice."""

    group: str
    label: str
    measure: str  # "positive (4-5 of 1-5)", "yes", "mean", or a choice option
    people: int  # participants with both a first and a last answer
    start: float  # fraction (or mean scale point for "mean")
    end: float
    small: bool = False  # fewer people than the minimum group size: show no figures

    @property
    def delta(self) -> float:
        return self.end - self.start

    @property
    def is_mean(self) -> bool:
        return self.measure == "mean"


def _by_person(question: Question, rows: Sequence[ResponseRow]) -> dict[str, list[ResponseRow]]:
    """Each person's answers to ``question`` in time order (anonymous rows stand alone)."""
    answers: dict[str, list[ResponseRow]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.answered_at):
        if (row.flow, row.step) != question.key or row.kind != question.type:
            continue
        answers[row.participant or f"anon:{row.response_id}"].append(row)
    return answers


def _group_answers(
    question: Question,
    group: str,
    label: str,
    answers: Sequence[ResponseRow],
    min_size: int = 1,
) -> GroupAnswers:
    counts: Counter[str] = Counter()
    positive = 0
    points: list[int] = []
    for row in answers:
        values = _values(question, row.answer)
        counts.update(set(values))
        positive += any(v in question.positive for v in values)
        if question.type == "scale" and values and values[0].lstrip("-").isdigit():
            points.append(int(values[0]))
    people = len(answers)
    known = list(question.options) + sorted(set(counts) - set(question.options))
    return GroupAnswers(
        group,
        label,
        people,
        tuple(OptionCount(opt, counts[opt], share(counts[opt], people)) for opt in known),
        positive if question.positive else None,
        sum(points) / len(points) if points else None,
        is_small(people, min_size),
    )


def _measures(question: Question, row: ResponseRow) -> dict[str, float]:
    values = _values(question, row.answer)
    if question.positive:
        result = {question.positive_label: float(any(v in question.positive for v in values))}
        if question.type == "scale" and values and values[0].lstrip("-").isdigit():
            result["mean"] = float(values[0])
        return result
    return {option: float(option in values) for option in question.options}


def _changes(
    question: Question,
    groups: Sequence[tuple[str, str]],
    pairs: Mapping[str, list[tuple[ResponseRow, ResponseRow]]],
    min_size: int = 1,
) -> list[Change]:
    result = []
    for gid, label in groups:
        group_pairs = pairs.get(gid, [])
        if not group_pairs:
            continue
        sums: dict[str, list[float]] = {}
        for first, last in group_pairs:
            start, end = _measures(question, first), _measures(question, last)
            for measure in start.keys() & end.keys():
                acc = sums.setdefault(measure, [0.0, 0.0])
                acc[0] += start[measure]
                acc[1] += end[measure]
        n = len(group_pairs)
        order = [question.positive_label, "mean"] if question.positive else list(question.options)
        for measure in order:
            if measure in sums:
                start, end = sums[measure][0] / n, sums[measure][1] / n
                result.append(Change(gid, label, measure, n, start, end, is_small(n, min_size)))
    return result


def question_figures(
    question: Question,
    groups: Sequence[tuple[str, str]],
    rows: Sequence[ResponseRow],
    *,
    min_size: int = 1,
) -> QuestionFigures:
    """Counts and shares per group (people, latest answer) and the paired start-vs-end change.

    Args:
        question: the closed question.
        groups: ``(id, label)`` pairs in display order (the total ``all`` row is added).
        rows: the campaign's responses (other questions' rows are ignored).
        min_size: a group (or change) based on fewer people than this is marked ``small``.
    """
    per_person = _by_person(question, rows)
    latest: dict[str, list[ResponseRow]] = defaultdict(list)
    pairs: dict[str, list[tuple[ResponseRow, ResponseRow]]] = defaultdict(list)
    for answers in per_person.values():
        last = answers[-1]
        latest[last.group].append(last)
        if question.repeated and len(answers) > 1:
            # A person who moved group is counted in the group they answered in at the end.
            pairs[last.group].append((answers[0], last))
    order = list(groups) + [(g, g) for g in sorted(latest) if g not in dict(groups)]
    per_group = [
        _group_answers(question, gid, label, latest.get(gid, []), min_size) for gid, label in order
    ]
    every = [row for answers in latest.values() for row in answers]
    total = _group_answers(question, ALL_GROUPS, "All groups", every, min_size)
    all_pairs = [pair for group_pairs in pairs.values() for pair in group_pairs]
    change_groups = [*order, (ALL_GROUPS, "All groups")]
    changes = _changes(question, change_groups, {**pairs, ALL_GROUPS: all_pairs}, min_size)
    return QuestionFigures(question, (*per_group, total), tuple(changes))


# -- the campaign as a whole -------------------------------------------------------------------
def date_range(rows: Iterable[ResponseRow]) -> tuple[datetime, datetime] | None:
    """First and last answer time, or None when there are no answers."""
    stamps = [row.answered_at for row in rows]
    return (min(stamps), max(stamps)) if stamps else None


@dataclass(frozen=True, slots=True)
class DataSpan:
    """When the answers were given, as the report states it.

    ``first``/``last`` cover the answers dated inside the campaign window; answers dated before
    it opened or after it closed (imported workshop notes, a rehearsal run early) are counted
    apart so the page never claims the campaign ran before it opened.
    """

    first: datetime | None
    last: datetime | None
    before_opening: int
    after_closing: int


def data_span(
    rows: Iterable[ResponseRow], opens: datetime | None, closes: datetime | None
) -> DataSpan:
    """The answers' date range inside the campaign window, and how many fall outside it."""
    inside: list[datetime] = []
    before = after = 0
    for row in rows:
        if opens is not None and row.answered_at < opens:
            before += 1
        elif closes is not None and row.answered_at > closes:
            after += 1
        else:
            inside.append(row.answered_at)
    return DataSpan(min(inside) if inside else None, max(inside) if inside else None, before, after)


# -- themes ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ThemeGroupShare:
    group: str
    label: str
    count: int
    share: float | None  # of that group's analysed comments
    suppressed: bool = False  # the group gave fewer comments than ``report.min_group_size``


@dataclass(frozen=True, slots=True)
class ThemeFigures:
    theme_id: str
    label: str
    keywords: tuple[str, ...]
    size: int
    share: float | None  # of all analysed comments
    groups: tuple[ThemeGroupShare, ...]
    quotes: tuple[str, ...]


def theme_figures(
    themes: Sequence[ThemeLike],
    groups: Sequence[tuple[str, str]],
    comments_per_group: Mapping[str, int],
    *,
    quotes: int = 3,
    min_base: int = 0,
    too_few: Collection[str] = (),
) -> list[ThemeFigures]:
    """Each theme's size and its share of every group's comments, with up to ``quotes`` quotes.

    Args:
        themes: the analysis result's themes (largest first is how they are shown).
        groups: ``(id, label)`` pairs in display order; groups with no comments are left out.
        comments_per_group: how many comments of each group were analysed (the denominators).
        min_base: a group with fewer comments than this gets neither a count nor a share (the
            report says "fewer than N"), as for every other small-group figure.
        too_few: groups withheld likewise because fewer than ``min_base`` people commented.
    """

    def withheld(gid: str) -> bool:
        return comments_per_group.get(gid, 0) < min_base or gid in too_few

    total = sum(comments_per_group.values())
    shown = [(gid, label) for gid, label in groups if comments_per_group.get(gid)]
    shown += [(g, g) for g in sorted(comments_per_group) if g not in dict(groups)]
    return [
        ThemeFigures(
            theme.theme_id,
            theme.label,
            tuple(theme.keywords),
            theme.size,
            share(theme.size, total),
            tuple(
                ThemeGroupShare(
                    gid,
                    label,
                    int(theme.counts.get(gid, 0)),
                    None
                    if withheld(gid)
                    else share(int(theme.counts.get(gid, 0)), comments_per_group.get(gid, 0)),
                    suppressed=withheld(gid),
                )
                for gid, label in shown
                if comments_per_group.get(gid)
            ),
            tuple(theme.quotes[:quotes]),
        )
        for theme in themes
    ]
