"""Report fixtures: the arithmetic tests see every figure; the committee tests use the default.

The seeded groups are small (two to six people), so with the default minimum group size of 5
most figures would rightly read "fewer than 5". Tests that check the counting itself use a
minimum of 1; ``committee_settings`` keeps the default to test the protection.
"""

from __future__ import annotations

import pytest

from bot.config import Settings, load_settings
from tests.conftest import EXAMPLE_CONFIG


@pytest.fixture
def settings() -> Settings:
    base = load_settings(EXAMPLE_CONFIG, environ={})
    return base.model_copy(update={"report": base.report.model_copy(update={"min_group_size": 1})})


@pytest.fixture
def committee_settings() -> Settings:
    """The example config as it ships (minimum group size 5)."""
    return load_settings(EXAMPLE_CONFIG, environ={})
