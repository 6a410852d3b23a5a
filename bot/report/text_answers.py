"""Answers to free-text questions, listed under the question they answer.

A committee reads what people wrote next to what they were asked. Each ``text`` step of the
campaign's flows, and each open conversation (its opening and probes together, under the
opening question), gets its answers in time order, with the group of the person who wrote it
unless fewer of that group's people answered the question than the report's minimum group size
(then the group is not named, so a lone answer cannot be traced to the one person in it).
When a theme analysis ran, the answers are also grouped under their theme.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.config import Campaign, Flow
from storage.records import ResponseRow

NOT_GROUPED = "Not in any theme"
OPEN_STEP = "opening"
"""The step id an open conversation is listed under: every answer in it (opening and probes)."""


@dataclass(frozen=True, slots=True)
class TextAnswer:
    """One answer as the report quotes it: the words, and the group when it may be named."""

    response_id: str
    text: str
    group_label: str | None
    language: str | None = None  # the language it was given in (None: not recorded)


@dataclass(frozen=True, slots=True)
class ThemeBucket:
    """The answers to one question that the analysis put in one theme."""

    label: str
    answers: tuple[TextAnswer, ...]


@dataclass(frozen=True, slots=True)
class TextQuestion:
    """A ``text`` step and everything written in answer to it."""

    flow_id: str
    flow_title: str
    step_id: str
    text: str
    answers: tuple[TextAnswer, ...]
    by_theme: tuple[ThemeBucket, ...]  # empty when no theme analysis is available


def text_steps(flows: Mapping[str, Flow], campaign: Campaign) -> list[tuple[Flow, str, str]]:
    """``(flow, step id, question)``: each scheduled text step and open conversation, in order."""
    seen: list[str] = []
    for entry in campaign.schedule:
        if entry.flow not in seen and entry.flow in flows:
            seen.append(entry.flow)
    found: list[tuple[Flow, str, str]] = []
    for fid in seen:
        flow = flows[fid]
        if flow.kind == "open" and flow.opening:
            found.append((flow, OPEN_STEP, " ".join(str(flow.opening).split())))
        texts = [step for step in flow.steps if step.type == "text"]
        found += [(flow, step.id, " ".join(step.ask.split())) for step in texts]
    return found


def _answers_to(flow: Flow, step_id: str, row: ResponseRow) -> bool:
    """Whether ``row`` answers this question (any turn of an open conversation counts)."""
    if row.flow != flow.id or not row.answer.strip():
        return False
    if flow.kind == "open" and step_id == OPEN_STEP:
        return row.step != "unprompted"
    return row.step == step_id


def text_questions(
    flows: Mapping[str, Flow],
    campaign: Campaign,
    rows: Sequence[ResponseRow],
    group_labels: Mapping[str, str],
    *,
    min_size: int,
    readable: Callable[[ResponseRow], str] = lambda row: row.answer,
    themes: ThemeIndex | None = None,
) -> list[TextQuestion]:
    """Every text question with its answers (blank answers left out).

    Args:
        flows: the config's flows by id.
        campaign: the campaign reported on.
        rows: the campaign's responses.
        group_labels: group id -> label.
        min_size: a group with fewer answers than this to a question is not named.
        readable: how an answer is shown (Slack mentions hidden, as in exports).
        themes: which theme each response went to, when a theme analysis ran.
    """
    result = []
    for flow, step_id, text in text_steps(flows, campaign):
        mine = sorted(
            (r for r in rows if _answers_to(flow, step_id, r)),
            key=lambda r: r.answered_at,
        )
        # People, not answers: someone asked twice still counts once towards naming a group.
        per_group = Counter(
            group for group, _ in {(r.group, r.participant or r.response_id) for r in mine}
        )
        answers = tuple(
            TextAnswer(
                row.response_id,
                readable(row),
                group_labels.get(row.group, row.group)
                if per_group[row.group] >= min_size
                else None,
                row.language,
            )
            for row in mine
        )
        buckets = themes.buckets(answers) if themes is not None else ()
        result.append(TextQuestion(flow.id, flow.display_title, step_id, text, answers, buckets))
    return result


@dataclass(frozen=True, slots=True)
class ThemeIndex:
    """Theme labels in display order and the theme of each analysed response."""

    order: tuple[str, ...]
    theme_of: Mapping[str, str]  # response id -> theme label

    def buckets(self, answers: Sequence[TextAnswer]) -> tuple[ThemeBucket, ...]:
        """The answers grouped by theme (in the analysis's order), unthemed ones last."""
        grouped: dict[str, list[TextAnswer]] = {}
        for answer in answers:
            grouped.setdefault(self.theme_of.get(answer.response_id, NOT_GROUPED), []).append(
                answer
            )
        order = [label for label in self.order if label in grouped]
        if NOT_GROUPED in grouped:
            order.append(NOT_GROUPED)
        return tuple(ThemeBucket(label, tuple(grouped[label])) for label in order)
