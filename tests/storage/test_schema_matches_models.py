"""The migrations build exactly the schema the models describe (on SQLite and PostgreSQL).

Several people add tables; a migration that drifts from its model shows up here, not in a
council's database.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.models import Base


async def test_migrated_database_matches_the_models(db_url: str, sessionmaker: Any) -> None:
    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": False, "compare_server_default": False}
        )
        return list(compare_metadata(context, Base.metadata))

    async with sessionmaker() as session:
        connection = await session.connection()
        differences = await connection.run_sync(diff)
    assert differences == []
