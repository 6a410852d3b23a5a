"""A campaign a committee would see: a multi-choice with "None of these", a free-text question,
a scale with no "good" end, groups from one person to six, and imported notes dated before the
campaign opened. Built by hand so every figure is known in advance.

==========  ============================================  =====================================
group       services used (multi)                         ease (1-5, no positive configured)
==========  ============================================  =====================================
parents x6  m0 Play+Health, m1 Play, m2 Play+Advice,      2, 3, 4, 5, 5, 1
            m3 Health, m4 None of these, m5 Play+Health
vcs x4      v0 Advice, v1 Advice+Play, v2 None, v3 Health  4, 4, 3, 2
la x1       l0 Play                                        5
==========  ============================================  =====================================
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import Settings, load_settings
from bot.report import ReportInput
from tests.conftest import example_data, write_config
from tests.report.factories import FakeResult, FakeTheme, enrolment, row

SERVICES = ["Stay and play", "Health visits", "Advice", "None of these"]
USED = {
    "m0": "Stay and play; Health visits",
    "m1": "Stay and play",
    "m2": "Stay and play; Advice",
    "m3": "Health visits",
    "m4": "None of these",
    "m5": "Stay and play; Health visits",
    "v0": "Advice",
    "v1": "Stay and play; Advice",
    "v2": "None of these",
    "v3": "Health visits",
    "l0": "Stay and play",
}
EASE = {"m0": 2, "m1": 3, "m2": 4, "m3": 5, "m4": 5, "m5": 1, "v0": 4, "v1": 4, "v2": 3}
EASE.update({"v3": 2, "l0": 5})
WHY = {
    "m0": "The evening sessions fit around work",
    "m1": "Close to home",
    "m2": "Friendly staff who <b>listen</b>",
    "v0": "We refer families there every week",
    "l0": "I only go for the health checks",
}
GROUP_OF = {p: {"m": "parents", "v": "vcs", "l": "la"}[p[0]] for p in USED}
SUMMARY = """# What we heard

Parents value **evening sessions**; providers want *longer contracts*.

<script>alert('not run')</script>

- Next step: a workshop in May
- [The council's page](https://example.org/children) and [a bad link](javascript:alert(1))
"""


def committee_config(tmp_path: Path, **report: Any) -> Path:
    data = example_data()
    data["flows"].append(
        {
            "id": "services",
            "kind": "structured",
            "title": "Services",
            "steps": [
                {"id": "used", "type": "multi", "ask": "Which have you used?", "options": SERVICES},
                {
                    "id": "ease",
                    "type": "scale",
                    "ask": "How easy is it to get help?",
                    "labels": {1: "Very hard", 5: "Very easy"},
                },
                {"id": "why", "type": "text", "ask": "Why do you use them?", "optional": True},
            ],
        }
    )
    data["campaigns"][0]["schedule"] = [{"flow": "services", "after": "0m"}]
    if report:
        data["report"] = report
    return write_config(tmp_path, data, name="committee.yaml")


def committee_settings(tmp_path: Path, **report: Any) -> Settings:
    return load_settings(committee_config(tmp_path, **report), environ={})


def committee_rows() -> list:
    rows = []
    for person, answer in USED.items():
        group = GROUP_OF[person]
        rows.append(row(person, group, "services", "used", "multi", answer, days=1))
        rows.append(row(person, group, "services", "ease", "scale", str(EASE[person]), days=1))
        if person in WHY:
            rows.append(row(person, group, "services", "why", "text", WHY[person], days=2))
    # Workshop notes typed in later but dated from a meeting before the campaign opened.
    before = row(
        "",
        "vcs",
        "import",
        "workshop",
        "open",
        "Tendering is too complex",
        days=-80,
        channel="import",
    )
    return [before, *rows]


def committee_themes(rows: list) -> Any:
    why = {r.answer: r.response_id for r in rows if r.step == "why"}
    from bot.analysis.model import Assignment, ThemeResult

    themes = (
        FakeTheme("T01", "Fits family life", ("evening", "home"), 2, {"parents": 2}, ()),
        FakeTheme("T02", "Trusted staff", ("staff", "refer"), 2, {"parents": 1, "vcs": 1}, ()),
    )
    assignments = (
        Assignment(why["The evening sessions fit around work"], "T01", 0.9),
        Assignment(why["Close to home"], "T01", 0.8),
        Assignment(why["Friendly staff who <b>listen</b>"], "T02", 0.7),
        Assignment(why["We refer families there every week"], "T02", 0.6),
    )
    base = FakeResult("theme discovery: test, 7 themes chosen by silhouette", ("parents",), themes)
    return ThemeResult(base.method, base.groups, base.themes, assignments)


def committee_input(settings: Settings, **changes: Any) -> ReportInput:
    rows = committee_rows()
    people = list(USED)
    data: dict[str, Any] = {
        "settings": settings,
        "campaign_id": "leeds-2026",
        "rows": rows,
        "enrolments": [enrolment(i, GROUP_OF[p]) for i, p in enumerate(people)],
        "themes": committee_themes(rows),
        "comments_per_group": {"parents": 3, "vcs": 2, "la": 1},
        "generated_at": datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
        "summary": SUMMARY,
    }
    data.update(changes)
    return ReportInput(**data)
