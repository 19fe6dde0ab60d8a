"""The database schema: one `tasks` table. Migrations in `migrations/` create it."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    Text,
    false,
    func,
)

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 1000
USER_ID_MAX_LENGTH = 255

metadata = MetaData()

tasks = Table(
    "tasks",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("user_id", String(USER_ID_MAX_LENGTH), nullable=False),
    Column("title", String(TITLE_MAX_LENGTH), nullable=False),
    Column("description", String(DESCRIPTION_MAX_LENGTH), nullable=True),
    Column("completed", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The task as the API's JSON, rendered by a trigger on every write (migration 0003).
    Column("document", Text, nullable=False),
    CheckConstraint("char_length(title) >= 1", name="ck_tasks_title_not_empty"),
    # "This user's tasks in creation order" is an index range scan, never a sort (FR-018).
    Index("ix_tasks_user_id_id", "user_id", "id"),
    # Sorted keyset pages (migration 0002, which also adds a pg_trgm index for search).
    Index("ix_tasks_user_id_updated_at_id", "user_id", "updated_at", "id"),
    Index("ix_tasks_user_id_title_id", "user_id", "title", "id"),
)
