"""The fault suite's summary line, printed at the end of every pytest run that ran it."""

from __future__ import annotations

from typing import Any

from tests.faults.harness import TALLY


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    if TALLY.runs == 0:
        return
    terminalreporter.section("fault injection")
    for note in TALLY.notes:
        terminalreporter.write_line(note)
    terminalreporter.write_line(TALLY.summary())
