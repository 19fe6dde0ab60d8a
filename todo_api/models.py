"""The database schema: the `tasks` table. The migrations in `storage/migrations/` create it."""

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    false,
    func,
    text,
)

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 1000
USER_ID_MAX_LENGTH = 255
# Stored as 0..3, so that sorting by the column sorts by urgency.
PRIORITIES = ("low", "medium", "high", "urgent")
DEFAULT_PRIORITY = "medium"
TAG_MAX_LENGTH = 32
MAX_TAGS = 20

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
    Column("priority", SmallInteger, nullable=False, server_default="1"),
    Column("tags", ARRAY(Text), nullable=False, server_default="{}"),
    Column("time_zone", Text, nullable=False, server_default="UTC"),
    # A due date-time is the instant `due_at`; an all-day due date is `due_day` with `due_all_day`,
    # and `due_at` is then the start of that day in `time_zone`. `due_day` is always the local date,
    # `overdue_at` the instant an open task becomes overdue (an all-day task: when its day ends).
    Column("due_at", DateTime(timezone=True), nullable=True),
    Column("due_day", Date, nullable=True),
    Column("due_all_day", Boolean, nullable=False, server_default=false()),
    Column("overdue_at", DateTime(timezone=True), nullable=True),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    # The task as the API's JSON, rendered by a trigger on every write (migrations 0003, 0004), and
    # the shape it was rendered in (older rows are re-rendered in batches: storage/backfill.py).
    Column("document", Text, nullable=False),
    Column("document_version", SmallInteger, nullable=False, server_default="4"),
    CheckConstraint("char_length(title) >= 1", name="ck_tasks_title_not_empty"),
    CheckConstraint("priority BETWEEN 0 AND 3", name="ck_tasks_priority"),
    # "This user's tasks in creation order" is an index range scan, never a sort (FR-018).
    Index("ix_tasks_user_id_id", "user_id", "id"),
    # Sorted keyset pages (migration 0002, which also adds a pg_trgm index for search).
    Index("ix_tasks_user_id_updated_at_id", "user_id", "updated_at", "id"),
    Index("ix_tasks_user_id_title_id", "user_id", "title", "id"),
    # Filters and sorts of migration 0004 (expression and partial indexes are created there in SQL).
    Index("ix_tasks_user_id_priority_id", "user_id", "priority", "id"),
    Index("ix_tasks_user_id_due_first", "user_id", text("coalesce(due_at, 'infinity')"), "id"),
    Index("ix_tasks_user_id_due_last", "user_id", text("coalesce(due_at, '-infinity')"), "id"),
)
