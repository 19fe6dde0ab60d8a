"""Priorities, tags, due dates with time zones, and completion times; the indexes their filters use.

Every new column has a constant default, which PostgreSQL records without rewriting the table, so
this migration takes moments on any size of table. The stored JSON documents of existing rows do need
re-rendering (they lack the new fields): rows keep `document_version` 3 until then, reads render such
rows on the fly (`task_document`), and `storage/backfill.py` re-renders them in small batches, one
transaction each, after start-up.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

# ruff: noqa: S608  (SQL from this module's constants)

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = """'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'"""

# The task as the API's compact JSON, in the documented field order.
TASK_DOCUMENT = f"""
CREATE FUNCTION task_document(t tasks) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT row_to_json(fields)::text FROM (
        SELECT t.id AS id, t.user_id AS user_id, t.title AS title, t.description AS description,
            t.completed AS completed,
            (ARRAY['low', 'medium', 'high', 'urgent'])[t.priority + 1] AS priority,
            t.tags AS tags,
            CASE WHEN t.due_all_day THEN to_char(t.due_day, 'YYYY-MM-DD')
                 ELSE to_char(t.due_at AT TIME ZONE 'UTC', {_UTC}) END AS due_date,
            t.time_zone AS time_zone,
            to_char(t.completed_at AT TIME ZONE 'UTC', {_UTC}) AS completed_at,
            to_char(t.created_at AT TIME ZONE 'UTC', {_UTC}) AS created_at,
            to_char(t.updated_at AT TIME ZONE 'UTC', {_UTC}) AS updated_at
    ) fields
$$
"""

# completed_at follows `completed`: set (to the change's time) when a task becomes done, cleared when
# it is reopened. Then the document is rendered from the finished row.
RENDER_TRIGGER = """
CREATE OR REPLACE FUNCTION tasks_render_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT NEW.completed THEN
        NEW.completed_at := NULL;
    ELSIF TG_OP = 'INSERT' OR NOT OLD.completed THEN
        NEW.completed_at := NEW.updated_at;
    END IF;
    NEW.document := task_document(NEW);
    NEW.document_version := 4;
    RETURN NEW;
END
$$
"""

# Case-insensitive tag keys, each prefixed with the owner: one GIN index answers "this user's tasks
# with all of these tags" without visiting other users' rows. Tags hold no control characters.
TAG_KEYS = """
CREATE FUNCTION task_tag_keys(user_id text, tags text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(user_id || chr(31) || lower(tag)), '{}') FROM unnest(tags) AS tag
$$
"""


def upgrade() -> None:
    op.execute("""
        ALTER TABLE tasks
            ADD COLUMN priority smallint NOT NULL DEFAULT 1,
            ADD COLUMN tags text[] NOT NULL DEFAULT '{}',
            ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC',
            ADD COLUMN due_at timestamptz,
            ADD COLUMN due_day date,
            ADD COLUMN due_all_day boolean NOT NULL DEFAULT false,
            ADD COLUMN overdue_at timestamptz,
            ADD COLUMN completed_at timestamptz,
            ADD COLUMN document_version smallint NOT NULL DEFAULT 3,
            ADD CONSTRAINT ck_tasks_priority CHECK (priority BETWEEN 0 AND 3)
    """)
    op.execute("ALTER TABLE tasks ALTER COLUMN document_version SET DEFAULT 4")
    op.execute(TASK_DOCUMENT)
    op.execute(RENDER_TRIGGER)
    op.execute(TAG_KEYS)
    op.execute("CREATE INDEX ix_tasks_tag_keys ON tasks USING gin (task_tag_keys(user_id, tags))")
    op.execute("CREATE INDEX ix_tasks_user_id_priority_id ON tasks (user_id, priority, id)")
    # Soonest first, tasks without a due date last in both directions: one index per direction.
    op.execute("CREATE INDEX ix_tasks_user_id_due_first ON tasks (user_id, coalesce(due_at, 'infinity'), id)")
    op.execute("CREATE INDEX ix_tasks_user_id_due_last ON tasks (user_id, coalesce(due_at, '-infinity'), id)")
    op.execute(
        "CREATE INDEX ix_tasks_user_id_overdue ON tasks (user_id, overdue_at)"
        " WHERE NOT completed AND overdue_at IS NOT NULL"
    )
    op.execute("CREATE INDEX ix_tasks_stale_document ON tasks (id) WHERE document_version < 4")


def downgrade() -> None:
    for index in ("stale_document", "user_id_overdue", "user_id_due_last", "user_id_due_first"):
        op.execute(f"DROP INDEX ix_tasks_{index}")
    op.execute("DROP INDEX ix_tasks_user_id_priority_id")
    op.execute("DROP INDEX ix_tasks_tag_keys")
    op.execute("DROP FUNCTION task_tag_keys(text, text[])")
    op.execute(f"""
        CREATE OR REPLACE FUNCTION tasks_render_document() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            SELECT row_to_json(fields)::text INTO NEW.document FROM (
                SELECT NEW.id AS id, NEW.user_id AS user_id, NEW.title AS title,
                    NEW.description AS description, NEW.completed AS completed,
                    to_char(NEW.created_at AT TIME ZONE 'UTC', {_UTC}) AS created_at,
                    to_char(NEW.updated_at AT TIME ZONE 'UTC', {_UTC}) AS updated_at
            ) fields;
            RETURN NEW;
        END
        $$
    """)
    op.execute("DROP FUNCTION task_document(tasks)")
    op.execute("""
        ALTER TABLE tasks DROP CONSTRAINT ck_tasks_priority,
            DROP COLUMN priority, DROP COLUMN tags, DROP COLUMN time_zone, DROP COLUMN due_at,
            DROP COLUMN due_day, DROP COLUMN due_all_day, DROP COLUMN overdue_at,
            DROP COLUMN completed_at, DROP COLUMN document_version
    """)
    op.execute("UPDATE tasks SET document = NULL")
