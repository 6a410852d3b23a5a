"""Precision and recall of :mod:`bot.redaction` on a hand-written set of realistic comments.

Run: ``.venv/bin/python bench/redaction_eval.py [--show]``. Prints span-level figures for our
masking (own names + participants' names + patterns + the packaged name list) and, as the bare
peer from the same run, the same masking without the name list and without the participants'
known names (patterns, cues and the author's own name only), and their ratio.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.redaction import Redactor, Span  # noqa: E402

EVAL_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "redaction_eval.txt"
_GOLD = re.compile(r"\[\[(?P<text>.+?)\|(?P<label>\w+)\]\]")


@dataclass(frozen=True, slots=True)
class Case:
    text: str
    gold: tuple[Span, ...]
    own: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Score:
    precision: float
    recall: float
    true_positive: int
    false_positive: int
    false_negative: int


def load_cases(path: Path = EVAL_FILE) -> list[Case]:
    """Parse the marked-up comments into text, gold spans and the author's own names."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        own: tuple[str, ...] = ()
        if line.startswith("own="):
            names, line = line[4:].split(" | ", 1)
            own = tuple(names.split())
        text, gold, at = "", [], 0
        for match in _GOLD.finditer(line):
            text += line[at : match.start()]
            start = len(text)
            text += match.group("text")
            gold.append(Span(start, len(text), f"[{match.group('label')}]"))
            at = match.end()
        text += line[at:]
        cases.append(Case(text, tuple(gold), own))
    return cases


def score(redactor: Redactor, cases: list[Case], known: tuple[str, ...] = ()) -> Score:
    """Span level: a gold span is found when predicted spans cover all of it; a predicted span
    is right when it overlaps a gold span."""
    tp = fp = fn = 0
    for case in cases:
        predicted = redactor.spans(case.text, case.own)
        for gold in case.gold:
            covered = set()
            for p in predicted:
                covered.update(range(max(p.start, gold.start), min(p.end, gold.end)))
            text = case.text
            needed = {i for i in range(gold.start, gold.end) if not text[i].isspace()}
            if needed <= covered:
                tp += 1
            else:
                fn += 1
        for p in predicted:
            if not any(p.start < g.end and g.start < p.end for g in case.gold):
                fp += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return Score(precision, recall, tp, fp, fn)


def known_names() -> tuple[str, ...]:
    """The participants' platform names the bot would know in this set (the own= lines)."""
    return ("Kirsty", "Smith", "Dan", "Morris")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--show", action="store_true", help="print every comment as masked")
    args = parser.parse_args()
    cases = load_cases()
    ours = Redactor(known_names())
    bare = Redactor((), use_library=False)
    if args.show:
        for case in cases:
            print(ours.mask(case.text, case.own))
    mine, peer = score(ours, cases), score(bare, cases)
    entities = sum(len(c.gold) for c in cases)
    print(f"{len(cases)} comments, {entities} identifying details")
    for name, s in (("ours", mine), ("no name list", peer)):
        print(
            f"{name:>14}: precision {s.precision:.3f}  recall {s.recall:.3f}  "
            f"(tp {s.true_positive}, fp {s.false_positive}, fn {s.false_negative})"
        )
    ratio = mine.recall / peer.recall if peer.recall else float("inf")
    print(f"recall ratio ours / no name list: {ratio:.2f}")


if __name__ == "__main__":
    main()
