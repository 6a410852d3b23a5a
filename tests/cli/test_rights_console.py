"""A participant's rights as a person meets them in the terminal, and `forget` as an organiser
runs it: real processes, real standard input."""

from __future__ import annotations

import re

from tests.cli.test_cli import cli


def _reference(stdout: str) -> str:
    match = re.search(r"Your reference: (P-[0-9a-f]{10})\.", stdout)
    assert match, stdout
    return match.group(1)


def test_console_stop_blank_and_mydata_through_real_stdin(sqlite_url):
    script = "\n".join(
        [
            "/start",
            "yes",
            "1",
            "\u200b\u200b",  # shows nothing: not an answer
            "4",
            "An idea about funding",
            "STOP",
            "one more thing",  # after stop: never stored
            "yes",
            "/mydata",
            "/delete",
            "no",
        ]
    )
    result = cli("run", "--console", db=sqlite_url, stdin=script + "\n")
    assert result.returncode == 0, result.stderr
    turns = result.stdout.split("\n\n")
    assert any("looked empty" in turn for turn in turns)
    stopped = [t for t in turns if t.startswith("You've stopped taking part:")]
    assert len(stopped) == 1 and "(yes / no)" not in stopped[0]  # no "are you sure?"
    assert result.stdout.count("didn't keep that message") == 2
    mydata = next(t for t in turns if t.startswith("Here is what we hold"))
    assert "2 answer(s)" in mydata and "one more thing" not in mydata
    assert "“How positive do you feel" in mydata and "pulse/positive" not in mydata
    _reference(mydata)
    # Each yes/no hint once: the console shows "(yes / no)" under the question, and the
    # question's own text no longer says it again.
    assert "(yes/no)" not in result.stdout
    erase = next(t for t in turns if t.startswith("Do you want to erase"))
    assert erase.count("yes / no") == 1


def test_forget_asks_accepts_the_reference_in_any_case_and_refuses_with_nobody_to_ask(
    sqlite_url,
):
    chat = cli("run", "--console", db=sqlite_url, stdin="/start\nyes\n1\n5\n/mydata\n")
    reference = _reference(chat.stdout)

    nobody = cli("forget", reference, db=sqlite_url, stdin="")
    assert nobody.returncode == 1 and "--yes" in nobody.stderr
    assert len(nobody.stderr.strip().splitlines()) == 1  # one sentence
    assert "Traceback" not in nobody.stderr
    declined = cli("forget", reference, db=sqlite_url, stdin="no\n")
    assert declined.returncode == 1 and "Nothing was erased" in declined.stderr

    typed = reference.upper().replace("P-", "p-")  # as someone might type it in an email
    agreed = cli("forget", typed, db=sqlite_url, stdin="yes\n")
    assert agreed.returncode == 0, agreed.stderr
    assert f"Erased {reference} and 1 answer(s)." in agreed.stdout
    again = cli("forget", reference, "--yes", db=sqlite_url)
    assert again.returncode == 1 and "There is no participant" in again.stderr


def test_forget_yes_erases_without_asking(sqlite_url):
    chat = cli("run", "--console", db=sqlite_url, stdin="/start\nyes\n1\n5\n/mydata\n")
    result = cli("forget", "--yes", _reference(chat.stdout), db=sqlite_url)
    assert result.returncode == 0 and "1 answer(s)" in result.stdout
