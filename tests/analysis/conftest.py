"""Shared fixtures: the development set (skipped when absent) and small comment builders."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from bot.analysis import Comment

DEV_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "nhs_fft_phase2_dev"


def _dev_rows() -> list[dict[str, str]]:
    path = DEV_DIR / "responses.csv"
    if not path.exists():
        pytest.skip(f"development set not found at {DEV_DIR}")
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def dev_rows() -> list[dict[str, str]]:
    """All rows of the development set (text, label, group)."""
    return _dev_rows()


@pytest.fixture(scope="session")
def dev_sample(dev_rows: list[dict[str, str]]) -> tuple[list[Comment], list[str]]:
    """A deterministic 1,200-row sample as Comments, with the human labels alongside."""
    idx = np.sort(np.random.default_rng(7).choice(len(dev_rows), 1200, replace=False))
    comments = [
        Comment(f"r{i}", dev_rows[i]["text"], dev_rows[i]["group"], f"p{i % 400}") for i in idx
    ]
    return comments, [dev_rows[i]["label"] for i in idx]


@pytest.fixture(scope="session")
def dev_rebalanced(dev_rows: list[dict[str, str]]) -> tuple[list[Comment], list[str]]:
    """At most 150 rows per human label (973 rows): a balanced scheme, unlike the full set."""
    rng = np.random.default_rng(7)
    labels = np.array([r["label"] for r in dev_rows])
    idx = np.sort(
        np.concatenate(
            [
                rng.choice(
                    np.flatnonzero(labels == lab),
                    min(150, int((labels == lab).sum())),
                    replace=False,
                )
                for lab in sorted(set(labels))
            ]
        )
    )
    comments = [
        Comment(f"r{i}", dev_rows[i]["text"], dev_rows[i]["group"], f"p{i % 400}") for i in idx
    ]
    return comments, [dev_rows[i]["label"] for i in idx]


def make_comments(texts: list[str], groups: tuple[str, ...] = ("parents", "vcs")) -> list[Comment]:
    """Comments with ids r0.. and groups taken in turn."""
    return [Comment(f"r{i}", t, groups[i % len(groups)], f"p{i}") for i, t in enumerate(texts)]
