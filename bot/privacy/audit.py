"""Recording organisers' actions in the audit log (import, export, forget, purge, report, ...)."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import AuditRepo

ACTIONS = (
    "import",
    "import-undo",
    "export",
    "report",
    "themes",
    "theme-review",
    "forget",
    "subject-access",
    "purge",
    "backup",
)


def os_user() -> str:
    """Who ran the command: the operating-system account (``getpass``), or ``unknown``."""
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers; the uid still says something
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


async def record(
    session: AsyncSession,
    action: str,
    *,
    campaign_id: str | None = None,
    at: datetime | None = None,
    **counts: Any,
) -> None:
    """Add one audit line in the caller's transaction; ``counts`` are numbers and options only."""
    await AuditRepo(session).add(
        action,
        actor=os_user(),
        at=at or datetime.now(UTC),
        campaign_id=campaign_id,
        details=counts,
    )
