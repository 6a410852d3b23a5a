"""Agreement between a person's coding of a sample and the machine's themes.

``themes --compare HAND.csv``: the file has ``theme`` and either ``response_id`` or ``text``; the
theme may be written as a theme id or as its label. Cohen's kappa and per-theme precision and
recall come from scikit-learn (the person is the reference).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

from bot.analysis.model import ThemeResult
from bot.errors import AnalysisError


@dataclass(frozen=True, slots=True)
class ThemeAgreement:
    theme_id: str
    label: str
    precision: float
    recall: float
    support: int  # answers the person put on this theme


@dataclass(frozen=True, slots=True)
class Agreement:
    kappa: float
    compared: int
    agreed: int
    unknown: int  # rows of the file that matched no analysed answer
    themes: tuple[ThemeAgreement, ...]

    def line(self) -> str:
        return (
            f"Agreement with a person's coding of {self.compared} answers: Cohen's kappa "
            f"{self.kappa:.2f}; the machine gave the same theme for {self.agreed} "
            f"({round(100 * self.agreed / max(1, self.compared))}%)."
        )


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def compare(result: ThemeResult, path: Path) -> Agreement:
    """Compare ``result`` with the person's coding in ``path``.

    Raises:
        AnalysisError: unreadable file, missing columns, unknown themes or no answer matched.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
            header = [h.strip().lower() for h in (rows[0].keys() if rows else [])]
    except FileNotFoundError:
        raise AnalysisError(f"Comparison file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AnalysisError(f"Comparison file {path} cannot be read ({exc}).") from None
    rows = [{k.strip().lower(): (v or "").strip() for k, v in r.items() if k} for r in rows]
    if "theme" not in header or not ({"response_id", "text"} & set(header)):
        raise AnalysisError(
            f"Comparison file {path} needs a theme column and a response_id or text column."
        )
    by_id = {a.response_id: a.theme_id for a in result.assignments}
    by_text = {_key(a.text): a.theme_id for a in result.assignments if a.text}
    name_to_id = {t.theme_id.lower(): t.theme_id for t in result.themes}
    name_to_id.update({t.label.lower(): t.theme_id for t in result.themes})
    labels = {t.theme_id: t.label for t in result.themes}
    person: list[str] = []
    machine: list[str] = []
    unknown = 0
    for number, row in enumerate(rows, start=2):
        theme = row.get("theme", "")
        if not theme:
            continue
        coded = name_to_id.get(theme.lower())
        if coded is None:
            raise AnalysisError(
                f"Comparison file row {number}: {theme!r} is not a theme id or label."
            )
        got = by_id.get(row.get("response_id", "")) or by_text.get(_key(row.get("text", "")))
        if got is None:
            unknown += 1
            continue
        person.append(coded)
        machine.append(got)
    if not person:
        raise AnalysisError(f"No row of {path} matches an analysed answer.")
    kappa = float(cohen_kappa_score(person, machine)) if len(set(person + machine)) > 1 else 1.0
    order = sorted(set(person))
    precision, recall, _, support = precision_recall_fscore_support(
        person, machine, labels=order, zero_division=0
    )
    return Agreement(
        kappa=kappa,
        compared=len(person),
        agreed=sum(p == m for p, m in zip(person, machine, strict=True)),
        unknown=unknown,
        themes=tuple(
            ThemeAgreement(t, labels.get(t, t), float(p), float(r), int(s))
            for t, p, r, s in zip(order, precision, recall, support, strict=True)
        ),
    )
