"""The HTML report built from hand-made rows: parsed, not just checked to exist."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.config import Settings
from bot.report import ReportInput, render_report
from tests.report.factories import FakeResult, FakeTheme, comment, enrolment, imported, pulse, row
from tests.report.html_tables import read_page

PSEUDONYMS = {g: [f"P-{g[:2]}{i:08x}" for i in range(4)] for g in ("parents", "vcs")}


def sample_rows() -> list:
    p, v = PSEUDONYMS["parents"], PSEUDONYMS["vcs"]
    return [
        pulse(p[0], "parents", 2),
        pulse(p[1], "parents", 4),
        pulse(p[2], "parents", 3, days=1),
        pulse(v[0], "vcs", 5),
        pulse(p[0], "parents", 5, days=300),
        pulse(p[1], "parents", 4, days=300),
        pulse(v[0], "vcs", 3, days=300),
        row(p[0], "parents", "force-field", "worked-together", "yesno", "yes", days=200),
        row(v[0], "vcs", "force-field", "worked-together", "yesno", "no", days=200),
        comment(p[0], "parents", "We need evening sessions for working parents"),
        comment(p[1], "parents", "The waiting list is too long"),
        comment(v[0], "vcs", "Contracts are too short to plan"),
        imported("vcs", "Workshop: tendering is too complex for small groups"),
    ]


def sample_themes() -> FakeResult:
    return FakeResult(
        method="Test stand-in: two fixed themes.",
        groups=("parents", "vcs"),
        themes=(
            FakeTheme(
                "t1",
                "access & <times>",
                ("evening", "waiting"),
                2,
                {"parents": 2},
                ("We need evening sessions for working parents", "The waiting list is too long"),
            ),
            FakeTheme(
                "t2",
                "commissioning",
                ("contracts", "tendering"),
                2,
                {"vcs": 2},
                ("Contracts are too short to plan",),
            ),
        ),
    )


def sample_input(settings: Settings, **changes: object) -> ReportInput:
    data = {
        "settings": settings,
        "campaign_id": "leeds-2026",
        "rows": sample_rows(),
        "enrolments": [
            enrolment(1, "parents"),
            enrolment(2, "parents"),
            enrolment(3, "parents"),
            enrolment(4, "parents", stopped=True),
            enrolment(5, "vcs"),
            enrolment(6, "cc_staff"),
        ],
        "themes": sample_themes(),
        "comments_per_group": {"parents": 2, "vcs": 2},
        "generated_at": datetime(2027, 4, 1, 9, 0, tzinfo=UTC),
    }
    data.update(changes)
    return ReportInput(**data)  # type: ignore[arg-type]


def test_participation_table_has_every_group(settings: Settings) -> None:
    page = read_page(render_report(sample_input(settings)))
    rows = page.table(id="participation-table").by_group()
    assert list(rows) == ["parents", "vcs", "cc_staff", "la", "all"]
    parents = rows["parents"]
    assert parents.col("enrolled") == "4" and parents.col("stopped") == "1"
    assert parents.col("answered") == "3" and parents.col("rate") == "75%"
    assert parents.col("comments") == "2"
    assert rows["vcs"].col("imported") == "1" and rows["vcs"].col("rate") == "100%"
    assert rows["cc_staff"].col("rate") == "0%" and rows["la"].col("rate") == "–"
    assert rows["all"].col("answered") == "4" and rows["all"].col("enrolled") == "6"


def test_closed_questions_show_shares_and_change_per_group(settings: Settings) -> None:
    page = read_page(render_report(sample_input(settings)))
    answers = page.table(class_="answers", data_flow="pulse").by_group()
    assert answers["parents"].col("people") == "3"
    assert answers["parents"].col("positive") == "67%"
    assert answers["parents"].col("option", option="5") == "1 (33%)"
    assert answers["parents"].col("mean") == "4.0"
    assert answers["vcs"].col("positive") == "0%"  # latest answer: 3
    assert answers["cc_staff"].col("people") == "0"

    change = page.table(class_="change", data_flow="pulse").by_group()
    measure = "positive (4-5 of 1-5)"
    assert change["parents"].col("people") == "2"
    assert change["parents"].col("change", measure=measure) == "50% → 100% (+50 pts)"
    assert change["parents"].col("change", measure="mean") == "3.0 → 4.5 (+1.5)"
    assert change["vcs"].col("change", measure=measure) == "100% → 0% (−100 pts)"
    assert change["all"].col("people") == "3"
    assert "cc_staff" not in change

    yesno = page.table(class_="answers", data_flow="force-field", data_step="worked-together")
    assert yesno.by_group()["parents"].col("option", option="yes") == "1 (100%)"
    step = "worked-together"
    classes = {t.attrs["class"] for t in page.tables if t.attrs.get("data-step") == step}
    assert classes == {"fig answers"}  # asked once: no change table


def test_themes_have_per_group_bars_and_quotes(settings: Settings) -> None:
    html = render_report(sample_input(settings))
    page = read_page(html)
    themes = page.table(id="themes-table")
    assert [r.attrs["data-theme"] for r in themes.rows if "data-theme" in r.attrs] == ["t1", "t2"]
    t1 = next(r for r in themes.rows if r.attrs.get("data-theme") == "t1")
    assert t1.col("group", group="parents") == "2 (100%)"
    assert t1.col("group", group="vcs") == "0 (0%)"
    theme_bars = [b for b in page.bars if b["data-kind"] == "theme"]
    assert len(theme_bars) == 4  # two themes x two groups with comments
    assert sorted(float(b["data-value"]) for b in theme_bars) == [0, 0, 1, 1]
    assert "access &amp; &lt;times&gt;" in html  # labels and quotes are escaped
    assert "Contracts are too short to plan" in page.text
    assert "Test stand-in: two fixed themes." in page.text


def test_report_is_self_contained_and_names_nobody(settings: Settings) -> None:
    data = sample_input(settings)
    html = render_report(data)
    page = read_page(html)
    assert "script" not in page.tags and page.external == []
    assert "<link" not in html and "@import" not in html and "url(" not in html
    for pseudonyms in PSEUDONYMS.values():
        for pseudonym in pseudonyms:
            assert pseudonym not in html
    for response in data.rows:
        assert response.response_id not in html
    assert not re.search(r"\bP-[0-9a-f]{10}\b", html)
    assert '<meta name="viewport"' in html and "@media (max-width" in html


def test_no_themes_shows_why(settings: Settings) -> None:
    data = sample_input(
        settings,
        themes=None,
        themes_note="There is only one free-text comment, too few to find themes.",
    )
    page = read_page(render_report(data))
    assert "There is only one free-text comment, too few to find themes." in page.text
    assert not [b for b in page.bars if b["data-kind"] == "theme"]


def test_repeated_question_without_pairs_says_so(settings: Settings) -> None:
    rows = [pulse("P-aa00000001", "parents", 4), comment("P-aa00000001", "parents", "Fine")]
    page = read_page(render_report(sample_input(settings, rows=rows, themes=None)))
    assert "nobody has answered it twice yet" in page.text
