"""Theme labels are often a typical answer now; masking names must not break contractions."""

from __future__ import annotations

from bot.redaction import Redactor
from bot.report.analyse import _mask_words


def test_contraction_is_not_a_name() -> None:
    redactor = Redactor(["Kirsty"])
    assert _mask_words("I don’t think it could be bettered", redactor) == (
        "I don’t think it could be bettered"
    )
    assert _mask_words("I don't think so", redactor) == "I don't think so"
    assert _mask_words("thanks to kirsty and the crew", redactor) == "thanks to [name] and the crew"
