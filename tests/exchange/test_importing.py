"""Reading the CSV files people really have: spreadsheet headers, delimiters, dates and groups."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.config import Group
from bot.errors import ImportRefused
from bot.exchange.import_dates import DateOrder
from bot.exchange.importing import plan_import

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)
GROUPS = [
    Group(id="parents", label="Parents and carers"),
    Group(id="vcs", label="Voluntary and community sector providers"),
    Group(id="hv", label="Health visitors"),
]


def plan(tmp_path, content: str | bytes, **options):
    path = tmp_path / "in.csv"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    defaults = {
        "campaign_id": "c",
        "groups": GROUPS,
        "default_group": None,
        "source": "paper",
        "tz": LONDON,
        "now": NOW,
    }
    return plan_import(path, **(defaults | options))


def test_groups_by_id_or_label_in_any_case(tmp_path):
    result = plan(
        tmp_path,
        "text,group\na,Parents\nb,parents\nc,PARENTS\nd, Health  Visitors \ne,parents and carers\n",
    )
    assert [r.group_id for r in result.responses] == [
        "parents",
        "parents",
        "parents",
        "hv",
        "parents",
    ]


def test_an_unknown_group_names_the_row_and_the_groups_accepted(tmp_path):
    with pytest.raises(ImportRefused) as refused:
        plan(tmp_path, "text,group\nfine,vcs\nbad,pirates\n")
    message = refused.value.message
    assert "row 3 has an unknown group 'pirates'" in message
    assert "parents (Parents and carers)" in message and "hv (Health visitors)" in message


@pytest.mark.parametrize("header", ["Comment", "comments", " RESPONSE ", "Answer", "text"])
def test_the_comment_column_is_found_by_its_usual_names(tmp_path, header):
    result = plan(tmp_path, f"{header},group\nMore funding,vcs\n")
    assert [r.answer for r in result.responses] == ["More funding"]


def test_no_comment_column_lists_the_file_columns_and_the_names_accepted(tmp_path):
    with pytest.raises(ImportRefused) as refused:
        plan(tmp_path, "Notes,Group,When\nhello,vcs,\n")
    message = refused.value.message
    assert "'Notes', 'Group', 'When'" in message
    assert "text, comment, comments, response or answer" in message
    assert "--text-column" in message


def test_text_column_option_names_any_header(tmp_path):
    result = plan(tmp_path, "Your views,group\nKeep the café,parents\n", text_column="your views")
    assert [r.answer for r in result.responses] == ["Keep the café"]
    with pytest.raises(ImportRefused, match="no column named 'Thoughts'; its columns are"):
        plan(tmp_path, "Your views,group\nx,parents\n", text_column="Thoughts")


def test_two_possible_comment_columns_are_refused_not_guessed(tmp_path):
    with pytest.raises(ImportRefused, match="more than one column .*'Comment', 'Response'"):
        plan(tmp_path, "Comment,Response,group\na,b,vcs\n")


def test_semicolon_file_with_commas_in_comments_is_read_by_its_header(tmp_path):
    result = plan(tmp_path, "text;group\nMore staff, longer hours, better rooms;vcs\n")
    assert [(r.answer, r.group_id) for r in result.responses] == [
        ("More staff, longer hours, better rooms", "vcs")
    ]
    assert result.delimiter == ";"


def test_tab_separated_file(tmp_path):
    result = plan(tmp_path, "Comment\tGroup\nQuiet room, please\tParents\n")
    assert [(r.answer, r.group_id) for r in result.responses] == [("Quiet room, please", "parents")]


def test_a_single_column_file_keeps_commas_in_comments(tmp_path):
    result = plan(tmp_path, "text\nhello, world\n", default_group="vcs")
    assert [r.answer for r in result.responses] == ["hello, world"]


def test_a_row_with_more_cells_than_columns_is_refused_not_cut(tmp_path):
    with pytest.raises(ImportRefused, match="row 2 has more cells than the header"):
        plan(tmp_path, "text,group\nhello, world,vcs\n")


def test_excel_csv_utf8_with_bom_crlf_uk_dates_and_comment_header(tmp_path):
    body = (
        "Comment,Group,Submitted_at\r\n"
        '"Two lines\r\nin one cell",Parents,24/01/2027 18:30\r\n'
        "Café — “quotes”,VCS,24/01/2027\r\n"
        "ISO too,parents,2027-07-02 09:15\r\n"
    )
    result = plan(tmp_path, b"\xef\xbb\xbf" + body.encode("utf-8"))
    assert [(r.answer, r.group_id, r.answered_at) for r in result.responses] == [
        ("Two lines\r\nin one cell", "parents", datetime(2027, 1, 24, 18, 30, tzinfo=LONDON)),
        ("Café — “quotes”", "vcs", datetime(2027, 1, 24, 0, 0, tzinfo=LONDON)),
        ("ISO too", "parents", datetime(2027, 7, 2, 9, 15, tzinfo=LONDON)),
    ]
    assert result.encoding == "utf-8"
    # the row number a spreadsheet shows, even after a two-line cell
    assert [r.source_msg_id.rsplit(":", 1)[1] for r in result.responses] == ["2", "3", "4"]


def test_a_header_with_two_candidate_delimiters_is_sniffed(tmp_path):
    body = 'Comment;Group;"Notes, if any"\nMore staff, please;Parents;x, y\nLonger hours;vcs;\n'
    result = plan(tmp_path, body)
    assert result.delimiter == ";"
    assert [r.answer for r in result.responses] == ["More staff, please", "Longer hours"]


def test_excel_separator_hint_line_is_obeyed_and_not_a_row(tmp_path):
    result = plan(tmp_path, "sep=;\r\nComment;Group\r\nMore staff, please;Parents\r\n")
    assert [(r.answer, r.group_id) for r in result.responses] == [("More staff, please", "parents")]
    assert result.columns == "comments from 'Comment', groups from 'Group' (semicolon-separated)"
    assert result.responses[0].source_msg_id.endswith(":2")  # the header is row 1, as Excel shows


def test_an_excel_workbook_is_refused_with_how_to_save_it_as_csv(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Comment", "Group"])
    book.active.append(["Hello", "vcs"])
    book.save(tmp_path / "in.csv")  # a workbook under a .csv name, as people do
    with pytest.raises(ImportRefused, match="is an Excel workbook, not CSV; in Excel use File"):
        plan(tmp_path, (tmp_path / "in.csv").read_bytes())


def test_old_mac_csv_with_carriage_returns_only(tmp_path):
    result = plan(tmp_path, b"Comment;Group\rMore staff, please;Parents\rLonger hours;vcs\r")
    assert [(r.answer, r.group_id) for r in result.responses] == [
        ("More staff, please", "parents"),
        ("Longer hours", "vcs"),
    ]


def test_month_first_reads_us_dates_and_refuses_uk_ones(tmp_path):
    us = DateOrder(dayfirst=False)
    result = plan(tmp_path, "text,group,date\na,vcs,01/24/2027 6:30 PM\n", dates=us)
    assert result.responses[0].answered_at == datetime(2027, 1, 24, 18, 30, tzinfo=LONDON)
    with pytest.raises(ImportRefused) as refused:
        plan(tmp_path, "text,group,date\na,vcs,24/01/2027 18:30\n", dates=us)
    assert "row 2 has a date '24/01/2027 18:30' that cannot be read" in refused.value.message
    assert "01/24/2027 18:30" in refused.value.message and "--dayfirst" in refused.value.message


def test_an_unreadable_date_names_the_row_and_the_accepted_forms(tmp_path):
    with pytest.raises(ImportRefused) as refused:
        plan(tmp_path, "text,group,submitted_at\nfine,vcs,2027-01-02\nx,vcs,next Tuesday\n")
    message = refused.value.message
    assert "row 3 has a date 'next Tuesday' that cannot be read" in message
    assert "2027-01-24 18:30 (ISO 8601" in message and "24/01/2027 18:30" in message
    assert "--monthfirst" in message


def test_ambiguous_dates_follow_the_chosen_order_never_a_guess(tmp_path):
    uk = plan(tmp_path, "text,group,date\na,vcs,03/04/2027\n", dates=DateOrder(True))
    us = plan(tmp_path, "text,group,date\na,vcs,03/04/2027\n", dates=DateOrder(False))
    assert uk.responses[0].answered_at.month == 4 and us.responses[0].answered_at.month == 3


@pytest.mark.parametrize(
    ("zone", "dayfirst"),
    [
        ("Europe/London", True),
        ("Europe/Berlin", True),
        ("America/New_York", False),
        ("America/Chicago", False),
        ("Australia/Sydney", True),
    ],
)
def test_the_default_date_order_comes_from_the_timezone(zone, dayfirst):
    assert DateOrder.for_timezone(zone).dayfirst is dayfirst


def test_an_explicit_offset_wins(tmp_path):
    result = plan(tmp_path, "text,group,date\na,vcs,2027-01-24T18:30:00+01:00\n")
    assert result.responses[0].answered_at == datetime(2027, 1, 24, 17, 30, tzinfo=UTC)
