"""The report as a committee reads it: every option, the organiser's own scale words, small groups
protected, free text under its question, and a method note true to the page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.report import render_report
from tests.report.committee import committee_input, committee_rows, committee_settings
from tests.report.factories import row
from tests.report.html_tables import read_page


def section(html: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', html, re.S)
    assert match, f"no section {name}"
    return match.group(1)


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def question_div(html: str, flow: str, step: str) -> str:
    match = re.search(
        rf'<div class="question" id="q-{flow}-{step}".*?(?=<div class="question"|</section>)',
        html,
        re.S,
    )
    assert match
    return match.group(0)


@pytest.fixture
def every_group(tmp_path: Path) -> str:
    """The committee report with every group's figures shown (minimum group size 1)."""
    return render_report(committee_input(committee_settings(tmp_path, min_group_size=1)))


@pytest.fixture
def as_shipped(tmp_path: Path) -> str:
    """The committee report with the default minimum group size (5)."""
    return render_report(committee_input(committee_settings(tmp_path)))


def test_multi_choice_shows_every_option_for_every_group(every_group: str) -> None:
    used = question_div(every_group, "services", "used")
    for group, expected in {
        "parents": ["67% (4)", "50% (3)", "17% (1)", "17% (1)"],
        "vcs": ["25% (1)", "25% (1)", "50% (2)", "25% (1)"],
        "la": ["100% (1)", "0% (0)", "0% (0)", "0% (0)"],
        "all": ["55% (6)", "36% (4)", "27% (3)", "18% (2)"],
    }.items():
        block = re.search(
            rf'<div class="multi" data-group="{group}">(.*?)</div>\s*</div>', used, re.S
        )
        assert block, group
        bars = re.findall(r'<svg class="bar" data-kind="option"', block.group(1))
        values = re.findall(
            r'<span class="value" data-option="[^"]+">([^<]+)</span>', block.group(1)
        )
        assert len(bars) == 4 and values == expected, group


def test_scale_words_come_from_the_config_and_no_end_is_called_positive(every_group: str) -> None:
    ease = question_div(every_group, "services", "ease")
    assert "1 (Very hard)" in ease and "5 (Very easy)" in ease
    assert "positive" not in words(ease).lower()
    table = read_page(every_group).table(class_="answers", data_step="ease")
    assert all("positive" not in c.attrs.get("data-col", "") for r in table.rows for c in r.cells)
    assert "positive" not in words(section(every_group, "method")).lower()


def test_a_configured_positive_end_is_named_with_its_points(tmp_path: Path) -> None:
    from bot.config import load_settings
    from tests.conftest import example_data, write_config

    data = example_data()
    data["flows"][0]["steps"][0]["positive"] = [1, 2]  # here 1 is the good end
    data["report"] = {"min_group_size": 1}
    settings = load_settings(write_config(tmp_path, data), environ={})
    rows = [row(f"p{i}", "parents", "pulse", "positive", "scale", str(i)) for i in (1, 2, 5)]
    html = render_report(committee_input(settings, rows=rows, themes=None))
    table = read_page(html).table(class_="answers", data_step="positive")
    assert table.by_group()["parents"].col("positive") == "67%"
    assert "Positive (1-2 of 1-5)" in html


def test_small_groups_are_fewer_than_5_never_a_percentage(as_shipped: str) -> None:
    page = read_page(as_shipped)
    participation = page.table(id="participation-table").by_group()
    assert participation["vcs"].col("rate") == "fewer than 5"  # four providers
    assert participation["la"].col("enrolled") == "fewer than 5"  # one officer
    assert participation["parents"].col("rate") == "100%"
    for step in ("used", "ease"):
        answers = page.table(class_="answers", data_step=step).by_group()
        for group in ("vcs", "la"):
            cells = [c.text for c in answers[group].cells[1:]]
            assert cells[0] == "fewer than 5" and not any("%" in c for c in cells), (step, group)
        assert "%" in answers["parents"].col(
            "option", option=answers["parents"].cells[2].attrs["data-option"]
        )
    used = question_div(as_shipped, "services", "used")
    assert 'data-group="vcs"' not in used.split("<table")[0]  # no bars for a small group
    assert "Fewer than 5 people answered as Voluntary and community sector providers" in words(used)


def test_the_minimum_group_size_is_the_organisers_to_set(tmp_path: Path) -> None:
    html = render_report(committee_input(committee_settings(tmp_path, min_group_size=3)))
    answers = read_page(html).table(class_="answers", data_step="used").by_group()
    assert answers["vcs"].col("option", option="Advice") == "2 (50%)"
    assert answers["la"].col("people") == "fewer than 3"


def test_text_answers_are_listed_under_their_question_by_theme(as_shipped: str) -> None:
    said = section(as_shipped, "text-answers")
    why = re.search(r'<div class="text-question" id="t-services-why".*?</div>', said, re.S)
    assert why and "Why do you use them?" in why.group(0)
    themes = re.findall(r'<h4 class="answer-theme">([^<]+?) <span', why.group(0))
    assert themes == ["Fits family life", "Trusted staff", "Not in any theme"]
    assert "Friendly staff who &lt;b&gt;listen&lt;/b&gt;" in why.group(0)  # escaped, as written
    assert "I only go for the health checks" in why.group(0)
    # Three parents answered: too few to name their group next to what they wrote.
    assert "(Parents and carers)" not in why.group(0)


def test_text_answers_without_themes_are_listed_in_order(tmp_path: Path) -> None:
    html = render_report(
        committee_input(committee_settings(tmp_path, min_group_size=1), themes=None)
    )
    why = section(html, "text-answers")
    listed = re.findall(r"<li>(.*?)(?: <span class=\"who\">\(([^)]+)\)</span>)?</li>", why)
    assert [text for text, _ in listed][:2] == [
        "The evening sessions fit around work",
        "Close to home",
    ]
    assert (
        "We refer families there every week",
        "Voluntary and community sector providers",
    ) in listed


def test_date_range_starts_when_the_campaign_opened_not_before(as_shipped: str) -> None:
    header = words(re.search(r'<header class="top">(.*?)</header>', as_shipped, re.S).group(1))
    assert "answers from 3 Mar 2026, 10:00 to 4 Mar 2026, 10:00" in header
    assert "2025" not in header
    method = words(section(as_shipped, "method"))
    assert "1 answer is dated before the campaign opened" in method


def test_method_note_is_true_to_the_page(as_shipped: str, tmp_path: Path) -> None:
    method = words(section(as_shipped, "method"))
    shown = len(re.findall(r'<article class="theme"', as_shipped))
    counts = {int(n) for n in re.findall(r"\b(\d+) themes\b", method)}
    assert counts <= {shown} and "7 themes" not in method  # never a count the page does not show
    assert "voice" not in method.lower()  # there are no voice notes
    assert "Start and end" not in method and "Change from start to end" not in as_shipped
    assert "imported offline comments" in method
    voiced = [*committee_rows(), row("m0", "parents", "services", "why", "voice", "Said aloud")]
    html = render_report(committee_input(committee_settings(tmp_path), rows=voiced))
    assert "voice notes with text" in words(section(html, "method"))


def test_start_and_end_is_explained_only_when_a_change_is_shown(settings) -> None:
    from tests.report.test_render import sample_input

    html = render_report(sample_input(settings))
    assert "Change from start to end" in html and "Start and end" in section(html, "method")


def test_organisers_summary_is_at_the_top_and_safe(as_shipped: str) -> None:
    assert as_shipped.index('id="organiser-summary"') < as_shipped.index('id="summary"')
    summary = section(as_shipped, "organiser-summary")
    assert "<strong>evening sessions</strong>" in summary and "<em>longer contracts</em>" in summary
    assert "<h3>What we heard</h3>" in summary
    assert "<script" not in summary and "&lt;script&gt;" in summary
    assert 'href="https://example.org/children"' in summary and "javascript:" not in re.sub(
        r">[^<]*<", "><", summary
    )


def test_no_summary_no_section(tmp_path: Path) -> None:
    html = render_report(committee_input(committee_settings(tmp_path), summary=None))
    assert 'id="organiser-summary"' not in html


def test_when_everyone_is_too_few_no_chart_and_one_plain_sentence(tmp_path: Path) -> None:
    html = render_report(committee_input(committee_settings(tmp_path, min_group_size=20)))
    ease = question_div(html, "services", "ease")
    assert '<ul class="legend"' not in ease and "<svg" not in ease
    assert "Fewer than 20 people answered this question in all" in words(ease)
    assert "All groups, so" not in words(ease)
    rate = read_page(html).table(id="participation-table").by_group()["all"].col("rate")
    assert rate == "fewer than 20" and "%" not in words(section(html, "summary"))


def test_a_group_is_named_by_people_not_by_answers(tmp_path: Path) -> None:
    twice = [
        row(f"m{i}", "parents", "services", "why", "text", f"because of {i}.{n}", days=2 + n)
        for i in range(3)
        for n in range(2)
    ]
    html = render_report(
        committee_input(committee_settings(tmp_path), rows=twice, themes=None)
    )  # six answers, three people
    said = section(html, "text-answers")
    assert "because of 2.1" in said and "(Parents and carers)" not in said


def test_text_answers_mask_identifying_details(tmp_path: Path) -> None:
    from bot.report.render import masked_quote

    said = [
        row("m0", "parents", "services", "why", "text", "Ring Kirsty on 07700 900123", days=2),
        row("m1", "parents", "services", "why", "text", "Mr Bloggs at LS1 4AB helped", days=2),
    ]
    settings = committee_settings(tmp_path)
    html = render_report(committee_input(settings, rows=said, themes=None))
    listed = words(section(html, "text-answers"))
    assert "07700" not in listed and "Kirsty" not in listed and "LS1 4AB" not in listed
    assert "[phone]" in listed and "[postcode]" in listed
    # The author's own platform names are masked too (the CLI passes them).
    quote = masked_quote({"m1": ("Joe", "Bloggs")})
    html = render_report(committee_input(settings, rows=said, themes=None, quote=quote))
    assert "Bloggs" not in words(section(html, "text-answers"))


def test_open_conversation_answers_are_listed_under_their_opening(tmp_path: Path) -> None:
    """Every turn of an open conversation (opening and probes) is listed under its opening
    question, as written; a message sent when no question was open is not."""
    import yaml

    from bot.config import load_settings
    from tests.report.committee import committee_config

    path = committee_config(tmp_path, min_group_size=1)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["campaigns"][0]["schedule"].append({"flow": "challenge-1", "after": "1d"})
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    settings = load_settings(path, environ={})
    said = [
        row("m0", "parents", "challenge-1", "opening", "open", "Pooled budgets would help", days=2),
        row("m0", "parents", "challenge-1", "probe-1", "open", "Our food bank, for one", days=2),
        row("m1", "parents", "challenge-1", "unprompted", "open", "hello?", days=3),
    ]
    html = render_report(committee_input(settings, rows=said, themes=None))
    opening = re.search(
        r'<div class="text-question" id="t-challenge-1-opening".*?</ul>',
        section(html, "text-answers"),
        re.S,
    )
    assert opening, "the open conversation is not listed"
    listed = words(opening.group(0))
    assert "Tell it as it is" in listed  # the opening question, as people saw it
    assert "Pooled budgets would help" in listed and "Our food bank, for one" in listed
    assert "hello?" not in listed
