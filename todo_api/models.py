"""The database schema: `tasks` and `notifications`. The migrations in `storage/migrations/` create it."""

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
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
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
MAX_REMINDER_MINUTES = 40_320  # four weeks

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
    # Recurrence (migration 0005): the rule as sent (a word, or a normalized RRULE), the series' first
    # due date its occurrences are anchored at, the occurrence this one follows, and whether
    # completing this one has already created its successor (only ever once).
    Column("recurrence", Text, nullable=True),
    Column("series_start_at", DateTime(timezone=True), nullable=True),
    Column("parent_task_id", BigInteger, nullable=True),
    Column("recurred", Boolean, nullable=False, server_default=false()),
    # A reminder: its instant, the offset it keeps from the due date (null: a fixed time), and its
    # state, which the trigger keeps (pending, fired, cancelled).
    Column("remind_at", DateTime(timezone=True), nullable=True),
    Column("reminder_minutes_before", Integer, nullable=True),
    Column("reminder_state", Text, nullable=True),
    # The task as the API's JSON, rendered by a trigger on every write (migrations 0003, 0004), and
    # the shape it was rendered in (older rows are re-rendered in batches: storage/backfill.py).
    Column("document", Text, nullable=False),
    Column("document_version", SmallInteger, nullable=False, server_default="5"),
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
    # One successor per task; due reminders, and each user's armed ones (partial, in migration 0005).
    Index("ux_tasks_parent_task_id", "parent_task_id", unique=True),
)

# The reminders that fired (migration 0005): one per task and reminder time.
notifications = Table(
    "notifications",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("user_id", String(USER_ID_MAX_LENGTH), nullable=False),
    Column("task_id", BigInteger, nullable=False),  # no foreign key: a notification outlives its task
    Column("title", String(TITLE_MAX_LENGTH), nullable=False),
    Column("due_date", Text, nullable=True),  # as the API rendered it when the reminder fired
    Column("remind_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("read_at", DateTime(timezone=True), nullable=True),
    Column("document", Text, nullable=False),
    UniqueConstraint("task_id", "remind_at", name="uq_notifications_task_id_remind_at"),
    Index("ix_notifications_user_id_id", "user_id", "id"),
)
