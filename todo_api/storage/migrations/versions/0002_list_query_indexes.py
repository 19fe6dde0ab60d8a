"""Indexes for sorted, keyset-paged and searched task lists.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_INDEX = "ix_tasks_search_trgm"


def upgrade() -> None:
    # Keyset paging by updated_at or title, per user: (sort key, id) ranges, never a sort.
    op.create_index("ix_tasks_user_id_updated_at_id", "tasks", ["user_id", "updated_at", "id"])
    op.create_index("ix_tasks_user_id_title_id", "tasks", ["user_id", "title", "id"])

    # Case-insensitive substring search (`q=`) through a trigram index where pg_trgm exists
    # (Neon and most servers; not the embedded server's minimal build, where search scans the
    # user's own rows). CREATE EXTENSION may be refused: a savepoint keeps the migration going.
    bind = op.get_bind()
    available = bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first()
    if available is None:
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return
    op.execute(
        f"CREATE INDEX {SEARCH_INDEX} ON tasks USING gin "
        "((title || ' ' || coalesce(description, '')) gin_trgm_ops)"
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {SEARCH_INDEX}")
    op.drop_index("ix_tasks_user_id_title_id", table_name="tasks")
    op.drop_index("ix_tasks_user_id_updated_at_id", table_name="tasks")
