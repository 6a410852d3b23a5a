"""What the export's language columns cost: writing N responses as csv with ``language`` and
``detected_language`` (py3langid on every free-text answer) against the plain ten columns.

    .venv/bin/python bench/language_columns_bench.py [N]

Prints our time (with the columns, model load included), the bare peer (the same export
without them) and the ratio, plus the detector's accuracy on the short answers it labels.
"""

from __future__ import annotations

import io
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import load_settings  # noqa: E402
from bot.exchange.exporting import write_csv  # noqa: E402
from bot.exchange.language_columns import language_columns  # noqa: E402
from storage.records import ResponseRow  # noqa: E402

ANSWERS = {
    "en": [
        "The staff are friendly and listen to families.",
        "Opening hours do not fit working parents.",
        "More sessions for toddlers would help a lot.",
    ],
    "pl": [
        "Pracownicy są mili i słuchają rodzin.",
        "Godziny otwarcia nie pasują pracującym rodzicom.",
        "Więcej zajęć dla maluchów bardzo by pomogło.",
    ],
    "ar": [
        "الموظفون ودودون ويستمعون إلى العائلات.",
        "ساعات العمل لا تناسب الآباء العاملين.",
        "المزيد من الجلسات للأطفال الصغار سيساعد كثيرًا.",
    ],
}


def rows(n: int) -> tuple[list[ResponseRow], list[str]]:
    rng = random.Random(7)
    made, truth = [], []
    at = datetime(2026, 3, 2, tzinfo=UTC)
    for i in range(n):
        lang = rng.choice(list(ANSWERS))
        text = rng.choice(ANSWERS[lang])
        kind = "open" if i % 2 else "scale"
        made.append(
            ResponseRow(
                f"r{i}",
                "leeds-2026",
                "challenge-1",
                "opening",
                "parents",
                f"P-{i % 500}",
                "telegram",
                kind,
                text if kind == "open" else "4",
                at,
                None,
                lang,
            )
        )
        truth.append(lang if kind == "open" else "")
    return made, truth


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    settings = load_settings(
        Path(__file__).resolve().parents[1] / "config/campaign.multilingual.yaml", environ={}
    )
    data, truth = rows(n)
    start = time.perf_counter()
    write_csv(data, io.StringIO())
    bare = time.perf_counter() - start
    start = time.perf_counter()
    extra = language_columns(settings, data)
    write_csv(data, io.StringIO(), extra)
    ours = time.perf_counter() - start
    assert extra is not None
    found = [extra.values(row)[1] for row in data]
    labelled = [(f, t) for f, t in zip(found, truth, strict=True) if t]
    right = sum(f == t for f, t in labelled)
    print(f"{n} responses ({len(labelled)} free text)")
    print(f"ours (with language columns): {ours:.3f} s")
    print(f"bare peer (ten columns):      {bare:.3f} s")
    print(f"ratio: {ours / bare:.1f}x")
    print(
        f"detected right: {right}/{len(labelled)}; undetermined: {sum(not f for f, _ in labelled)}"
    )


if __name__ == "__main__":
    main()
