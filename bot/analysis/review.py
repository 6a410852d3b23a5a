"""A person reviews the themes in a YAML file, and the review sticks across later runs.

``themes --out DIR`` writes ``DIR/themes-review.yaml`` beside ``themes.csv`` and
``assignments.csv``. The organiser edits it:

* **rename**: change a theme's ``label`` (``original_label`` shows what the machine called it);
* **merge**: set ``merge_into: <other theme id>``;
* **split by keyword**: ``split: {"New label": [keyword, ...]}`` moves the theme's answers that
  contain one of those words to a new theme;
* **not substantive**: ``not_substantive: true`` on a theme, or a response id under
  ``answers.not_substantive``;
* **move**: ``answers.move: {<response_id>: <theme id>}``.

``themes --review FILE`` applies the edits. Answers already in the ``assignments.csv`` next to the
review file keep their (edited) theme; new answers are matched to the reviewed themes of their
question as a codebook (:func:`bot.analysis.codebook.apply_codebook`), and those that fit none go
to ``other`` and are listed. Every edit applied for the first time is returned as an
:class:`AuditEntry` (what, when, who) and kept in the file's ``history``; the CLI also stores it
in the database.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bot.analysis.codebook import apply_codebook
from bot.analysis.describe import build_themes
from bot.analysis.inputs import groups_of, usable
from bot.analysis.model import (
    NO_COMMENT,
    OTHER,
    SPECIAL_THEMES,
    Assignment,
    Codebook,
    CodebookTheme,
    Comment,
    ThemeResult,
)
from bot.analysis.output import ASSIGNMENTS_FILE
from bot.analysis.questions import base_id
from bot.analysis.text import Tokeniser
from bot.errors import AnalysisError

REVIEW_FILE = "themes-review.yaml"
REVIEW_HEADER_START = b"# Theme review."
N_EXAMPLES = 5
_HEADER = """\
# Theme review. Edit, then run: listening-bot themes --review THIS_FILE --out SAME_FOLDER
#   rename:          change a theme's label (original_label is what the machine called it)
#   merge:           merge_into: <id of another theme>
#   split:           split: {"New label": [keyword, another]}
#   not substantive: not_substantive: true (a theme), or answers.not_substantive: [response_id]
#   move an answer:  answers.move: {response_id: theme id}
# Keep the assignments.csv written with this file in the same folder: it is what the edits
# apply to. New answers are matched to these themes; those that fit none are listed as other.
"""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One review edit applied: what, when, by whom (the OS user)."""

    what: str
    when: datetime
    who: str

    def line(self) -> str:
        return f"{self.when:%Y-%m-%d %H:%M} UTC, {self.who}: {self.what}"


@dataclass(frozen=True, slots=True)
class ReviewTheme:
    theme_id: str
    question: str
    label: str
    original_label: str
    description: str
    keywords: tuple[str, ...]
    examples: tuple[str, ...]
    not_substantive: bool = False
    merge_into: str | None = None
    split: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Review:
    themes: tuple[ReviewTheme, ...]
    moves: Mapping[str, str]
    silent_answers: frozenset[str]
    history: tuple[str, ...]
    path: Path


# -- writing ----------------------------------------------------------------------------------
def review_document(result: ThemeResult, history: Sequence[str] = ()) -> dict[str, Any]:
    """The review file's content for a result (special lines are not themes to review)."""
    themes = []
    for theme in result.themes:
        if base_id(theme.theme_id) in SPECIAL_THEMES:
            continue
        themes.append(
            {
                "id": theme.theme_id,
                "question": theme.question,
                "label": theme.label,
                "original_label": theme.label,
                "description": theme.description,
                "keywords": list(theme.keywords),
                "examples": list(theme.quotes[:N_EXAMPLES]),
                "not_substantive": False,
                "merge_into": None,
                "split": {},
            }
        )
    return {
        "themes": themes,
        "answers": {"move": {}, "not_substantive": []},
        "history": list(history),
    }


def review_text(result: ThemeResult, history: Sequence[str] = ()) -> str:
    """The editable review file for ``result``, as text (header comments, then YAML)."""
    body = yaml.safe_dump(
        review_document(result, history), allow_unicode=True, sort_keys=False, width=100
    )
    return _HEADER + body


def write_review(result: ThemeResult, path: Path, history: Sequence[str] = ()) -> Path:
    """Write the editable review file for ``result``."""
    path.write_text(review_text(result, history), encoding="utf-8")
    return path


# -- reading ----------------------------------------------------------------------------------
def _texts(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise AnalysisError(f"Review file {where}: must be a list of words or texts.")
    return tuple(str(v).strip() for v in value if str(v).strip())


def load_review(path: Path) -> Review:
    """Read and check a review file, naming the first bad field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnalysisError(f"Review file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AnalysisError(f"Review file {path} cannot be read ({exc}).") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise AnalysisError(f"Review file {path} is not valid YAML{where}.") from None
    if not isinstance(data, dict) or not isinstance(data.get("themes"), list):
        raise AnalysisError(f"Review file {path} themes: missing (expected a list of themes).")
    themes: list[ReviewTheme] = []
    for i, item in enumerate(data["themes"]):
        if not isinstance(item, dict) or not str(item.get("id") or "").strip():
            raise AnalysisError(f"Review file themes[{i}].id: missing.")
        label = str(item.get("label") or "").strip()
        if not label:
            raise AnalysisError(f"Review file themes[{i}].label: missing.")
        split = item.get("split") or {}
        if not isinstance(split, dict):
            raise AnalysisError(f"Review file themes[{i}].split: must map a label to keywords.")
        themes.append(
            ReviewTheme(
                theme_id=str(item["id"]).strip(),
                question=str(item.get("question") or ""),
                label=label,
                original_label=str(item.get("original_label") or label),
                description=str(item.get("description") or ""),
                keywords=_texts(item.get("keywords"), f"themes[{i}].keywords"),
                examples=_texts(item.get("examples"), f"themes[{i}].examples"),
                not_substantive=bool(item.get("not_substantive")),
                merge_into=str(item["merge_into"]).strip() if item.get("merge_into") else None,
                split={
                    str(k).strip(): _texts(v, f"themes[{i}].split[{k!r}]") for k, v in split.items()
                },
            )
        )
    ids = [t.theme_id for t in themes]
    for t in themes:
        if t.merge_into is not None and t.merge_into not in ids:
            raise AnalysisError(
                f"Review file theme {t.theme_id}: merge_into {t.merge_into!r} is not a theme id."
            )
    answers = data.get("answers") or {}
    if not isinstance(answers, dict):
        raise AnalysisError("Review file answers: must be a mapping with move/not_substantive.")
    moves = answers.get("move") or {}
    if not isinstance(moves, dict):
        raise AnalysisError("Review file answers.move: must map response ids to theme ids.")
    split_ids = {f"{t.theme_id}-{n}" for t in themes for n in range(1, len(t.split) + 1)}
    for rid, target in moves.items():
        target = str(target)
        if target not in ids and target not in split_ids and base_id(target) not in SPECIAL_THEMES:
            raise AnalysisError(f"Review file answers.move[{rid}]: {target!r} is not a theme id.")
    history = data.get("history") or []
    return Review(
        themes=tuple(themes),
        moves={str(k): str(v) for k, v in moves.items()},
        silent_answers=frozenset(_texts(answers.get("not_substantive"), "not_substantive")),
        history=tuple(str(h) for h in history) if isinstance(history, list) else (),
        path=path,
    )


def read_baseline(review_path: Path) -> dict[str, str]:
    """response_id -> theme_id from the assignments.csv next to the review file (may be empty)."""
    path = review_path.parent / ASSIGNMENTS_FILE
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["response_id"]: row["theme_id"] for row in csv.DictReader(fh)}


# -- applying ---------------------------------------------------------------------------------
def _edits(review: Review) -> list[str]:
    """Every edit the file asks for, as one readable sentence each (no answer text)."""
    out = []
    for t in review.themes:
        if t.label != t.original_label:
            out.append(f"renamed {t.theme_id} from {t.original_label!r} to {t.label!r}")
        if t.merge_into:
            out.append(f"merged {t.theme_id} ({t.label!r}) into {t.merge_into}")
        for label, words in t.split.items():
            out.append(f"split {label!r} out of {t.theme_id} by keywords {', '.join(words)}")
        if t.not_substantive:
            out.append(f"marked theme {t.theme_id} ({t.label!r}) not substantive")
    for rid, target in sorted(review.moves.items()):
        out.append(f"moved answer {rid} to {target}")
    for rid in sorted(review.silent_answers):
        out.append(f"marked answer {rid} not substantive")
    return out


def _root(theme_id: str, merged: Mapping[str, str]) -> str:
    seen = set()
    while theme_id in merged and theme_id not in seen:
        seen.add(theme_id)
        theme_id = merged[theme_id]
    return theme_id


def _silent_id(theme_id: str) -> str:
    prefix = theme_id.rsplit(".", 1)[0] + "." if re.match(r"^Q\d+\.", theme_id) else ""
    return prefix + NO_COMMENT


def apply_review(
    comments: Sequence[Comment],
    review: Review,
    baseline: Mapping[str, str],
    *,
    who: str,
    now: datetime,
    seed: int = 0,
) -> tuple[ThemeResult, list[AuditEntry], list[str]]:
    """Apply the review to ``comments``; returns the result, new audit entries, unmatched ids.

    Raises:
        AnalysisError: no usable responses or a review file that does not fit them.
    """
    kept = usable(comments)
    by_id = {t.theme_id: t for t in review.themes}
    merged = {t.theme_id: t.merge_into for t in review.themes if t.merge_into}
    tokeniser = Tokeniser()
    # Reviewed themes that survive (not merged away), plus split-off themes.
    live: dict[str, CodebookTheme] = {}
    question_of: dict[str, str] = {}
    silent_themes: set[str] = set()
    splits: dict[str, list[tuple[str, set[str]]]] = {}
    for t in review.themes:
        if t.merge_into:
            continue
        donors = [
            d for d in review.themes if d.merge_into and _root(d.theme_id, merged) == t.theme_id
        ]
        keywords = t.keywords + tuple(k for d in donors for k in d.keywords)
        examples = t.examples + tuple(e for d in donors for e in d.examples)
        live[t.theme_id] = CodebookTheme(t.theme_id, t.label, t.description, keywords, examples)
        question_of[t.theme_id] = t.question
        if t.not_substantive:
            silent_themes.add(t.theme_id)
        for n, (label, words) in enumerate(t.split.items(), start=1):
            new_id = f"{t.theme_id}-{n}"
            live[new_id] = CodebookTheme(new_id, label, "", words, ())
            question_of[new_id] = t.question
            stems = {s for w in words for s in tokeniser.tokens(w)}
            splits.setdefault(t.theme_id, []).append((new_id, stems))

    def placed(theme_id: str, text: str) -> str:
        theme_id = _root(theme_id, merged)
        for new_id, stems in splits.get(theme_id, []):
            if stems & set(tokeniser.tokens(text)):
                theme_id = new_id
                break
        if theme_id in silent_themes:
            return _silent_id(theme_id)
        return theme_id

    final: dict[str, str] = {}
    scores: dict[str, float] = {}
    pending: dict[str, list[Comment]] = {}
    for c in kept:
        rid = c.response_id
        if rid in review.silent_answers:
            final[rid] = _silent_id(baseline.get(rid, ""))
        elif rid in review.moves:
            final[rid] = placed(review.moves[rid], c.text)
        elif rid in baseline and (
            _root(baseline[rid], merged) in live or base_id(baseline[rid]) in SPECIAL_THEMES
        ):
            final[rid] = placed(baseline[rid], c.text)
        else:
            pending.setdefault(c.question, []).append(c)
            continue
        scores[rid] = 1.0
    unmatched: list[str] = []
    for question, members in pending.items():
        ids = [i for i, q in question_of.items() if q in (question, "")] or list(live)
        prefix = ids[0].rsplit(".", 1)[0] + "." if ids and re.match(r"^Q\d+\.", ids[0]) else ""
        if not ids:
            for c in members:
                final[c.response_id], scores[c.response_id] = prefix + OTHER, 0.0
                unmatched.append(c.response_id)
            continue
        matched = apply_codebook(members, Codebook(tuple(live[i] for i in ids)), seed=seed)
        for a in matched.assignments:
            if a.theme_id == OTHER:
                final[a.response_id] = prefix + OTHER
                unmatched.append(a.response_id)
            else:
                final[a.response_id] = placed(a.theme_id, a.text)
            scores[a.response_id] = a.score

    theme_ids = list(dict.fromkeys([*live, *(final[c.response_id] for c in kept)]))
    index = {t: i for i, t in enumerate(theme_ids)}
    labels = np.array([index[final[c.response_id]] for c in kept])
    fixed: list[str | None] = []
    for t in theme_ids:
        if t in live:
            fixed.append(live[t].name)
        elif base_id(t) == NO_COMMENT:
            fixed.append("No substantive comment")
        elif base_id(t) == OTHER:
            fixed.append("Other (fits no reviewed theme)")
        elif t in by_id:
            fixed.append(by_id[t].label)
        else:
            fixed.append(None)
    themes = build_themes(
        kept,
        labels,
        theme_ids,
        groups_of(kept),
        np.array([scores[c.response_id] for c in kept]),
        tokeniser,
        fixed_labels=fixed,
        seed=seed,
        descriptions=[live[t].description if t in live else "" for t in theme_ids],
    )
    themes = tuple(_with_review_fields(th, live, question_of) for th in themes)
    themes = tuple(th for th in themes if th.theme_id not in silent_themes)
    done = set(review.history)
    entries = [
        AuditEntry(what, now, who)
        for what in _edits(review)
        if not any(h.endswith(f": {what}") for h in done)
    ]
    notes = tuple(
        [*review.history, *(e.line() for e in entries)]
        + ([f"{len(unmatched)} new answers fit no reviewed theme"] if unmatched else [])
    )
    assignments = tuple(
        Assignment(
            c.response_id,
            final[c.response_id],
            round(float(scores[c.response_id]), 4),
            "",
            c.question,
            c.group,
            c.text,
        )
        for c in kept
    )
    n_new = sum(map(len, pending.values()))
    method = (
        f"themes reviewed by a person ({review.path.name}): {len(kept) - n_new} "
        f"answers kept their reviewed theme; {n_new} new answers were "
        f"matched to the reviewed themes as a codebook, {len(unmatched)} of them fit none"
    )
    result = ThemeResult(
        method=method, groups=groups_of(kept), themes=themes, assignments=assignments, notes=notes
    )
    return result, entries, unmatched


def _with_review_fields(
    theme: Any, live: Mapping[str, CodebookTheme], question_of: Mapping[str, str]
) -> Any:
    from dataclasses import replace

    if theme.theme_id not in live:
        return theme
    book = live[theme.theme_id]
    return replace(
        theme,
        keywords=book.keywords or theme.keywords,
        question=question_of.get(theme.theme_id, theme.question),
    )
