"""Recurring tasks and reminders: the rule and its series, a reminder's state, and notifications.

As in 0004, new columns carry constant defaults (no rewrite) and old rows are re-rendered in batches
after start-up (`document_version` 5). A reminder's state follows the row in the trigger, so that every
write path (the toggle too) agrees on it:

- `pending` while it is armed: it has a time, the task is open and it has not fired;
- `fired` once the scheduler has turned it into a notification (exactly once: the claim is a row
  lock, the notification unique per task and reminder time);
- `cancelled` when the task was completed first; reopening re-arms it if its time is still ahead.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

# ruff: noqa: S608, E501  (SQL from this module's constants; SQL lines kept whole)

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = """'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'"""
_DUE_DATE = f"""CASE WHEN t.due_all_day THEN to_char(t.due_day, 'YYYY-MM-DD')
                 ELSE to_char(t.due_at AT TIME ZONE 'UTC', {_UTC}) END"""

TASK_DOCUMENT = f"""
CREATE OR REPLACE FUNCTION task_document(t tasks) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT row_to_json(fields)::text FROM (
        SELECT t.id AS id, t.user_id AS user_id, t.title AS title, t.description AS description,
            t.completed AS completed,
            (ARRAY['low', 'medium', 'high', 'urgent'])[t.priority + 1] AS priority,
            t.tags AS tags,
            {_DUE_DATE} AS due_date,
            t.time_zone AS time_zone,
            t.recurrence AS recurrence,
            to_char(t.remind_at AT TIME ZONE 'UTC', {_UTC}) AS remind_at,
            t.reminder_minutes_before AS reminder_minutes_before,
            t.parent_task_id AS parent_task_id,
            to_char(t.completed_at AT TIME ZONE 'UTC', {_UTC}) AS completed_at,
            to_char(t.created_at AT TIME ZONE 'UTC', {_UTC}) AS created_at,
            to_char(t.updated_at AT TIME ZONE 'UTC', {_UTC}) AS updated_at
    ) fields
$$
"""

RENDER_TRIGGER = """
CREATE OR REPLACE FUNCTION tasks_render_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT NEW.completed THEN
        NEW.completed_at := NULL;
    ELSIF TG_OP = 'INSERT' OR NOT OLD.completed THEN
        NEW.completed_at := NEW.updated_at;
    END IF;
    IF NEW.remind_at IS NULL THEN
        NEW.reminder_state := NULL;
    ELSIF TG_OP = 'INSERT' OR NEW.remind_at IS DISTINCT FROM OLD.remind_at THEN
        NEW.reminder_state := CASE WHEN NEW.completed THEN 'cancelled' ELSE 'pending' END;
    ELSIF NEW.completed AND NOT OLD.completed AND NEW.reminder_state = 'pending' THEN
        NEW.reminder_state := 'cancelled';
    ELSIF NOT NEW.completed AND OLD.completed AND NEW.reminder_state = 'cancelled'
          AND NEW.remind_at > now() THEN
        NEW.reminder_state := 'pending';
    END IF;
    NEW.document := task_document(NEW);
    NEW.document_version := 5;
    RETURN NEW;
END
$$
"""

NOTIFICATION_DOCUMENT = f"""
CREATE FUNCTION notifications_render_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT row_to_json(fields)::text INTO NEW.document FROM (
        SELECT NEW.id AS id, NEW.task_id AS task_id, NEW.title AS title, NEW.due_date AS due_date,
            to_char(NEW.remind_at AT TIME ZONE 'UTC', {_UTC}) AS remind_at,
            to_char(NEW.created_at AT TIME ZONE 'UTC', {_UTC}) AS created_at,
            NEW.read_at IS NOT NULL AS read
    ) fields;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.execute("""
        ALTER TABLE tasks
            ADD COLUMN recurrence text,
            ADD COLUMN series_start_at timestamptz,
            ADD COLUMN parent_task_id bigint,
            ADD COLUMN recurred boolean NOT NULL DEFAULT false,
            ADD COLUMN remind_at timestamptz,
            ADD COLUMN reminder_minutes_before integer,
            ADD COLUMN reminder_state text,
            ADD CONSTRAINT ck_tasks_reminder_minutes CHECK (reminder_minutes_before BETWEEN 0 AND 40320),
            ADD CONSTRAINT ck_tasks_reminder_state CHECK (reminder_state IN ('pending', 'fired', 'cancelled'))
    """)
    op.execute("ALTER TABLE tasks ALTER COLUMN document_version SET DEFAULT 5")
    op.execute(TASK_DOCUMENT)
    op.execute(RENDER_TRIGGER)
    # Exactly one successor per task, whatever runs concurrently.
    op.execute(
        "CREATE UNIQUE INDEX ux_tasks_parent_task_id ON tasks (parent_task_id) WHERE parent_task_id IS NOT NULL"
    )
    # What the scheduler claims, and each user's armed reminders: only pending ones are indexed.
    op.execute(
        "CREATE INDEX ix_tasks_pending_reminders ON tasks (remind_at) WHERE reminder_state = 'pending'"
    )
    op.execute(
        "CREATE INDEX ix_tasks_user_id_pending_reminders ON tasks (user_id) WHERE reminder_state = 'pending'"
    )
    op.execute("DROP INDEX ix_tasks_stale_document")
    op.execute("CREATE INDEX ix_tasks_stale_document ON tasks (id) WHERE document_version < 5")
    op.execute("""
        CREATE TABLE notifications (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_id varchar(255) NOT NULL,
            task_id bigint NOT NULL,
            title varchar(200) NOT NULL,
            due_date text,
            remind_at timestamptz NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            read_at timestamptz,
            document text NOT NULL,
            CONSTRAINT uq_notifications_task_id_remind_at UNIQUE (task_id, remind_at)
        )
    """)
    op.execute(NOTIFICATION_DOCUMENT)
    op.execute(
        "CREATE TRIGGER notifications_document BEFORE INSERT OR UPDATE ON notifications"
        " FOR EACH ROW EXECUTE FUNCTION notifications_render_document()"
    )
    op.execute("CREATE INDEX ix_notifications_user_id_id ON notifications (user_id, id)")
    op.execute(
        "CREATE INDEX ix_notifications_user_id_unread ON notifications (user_id, id) WHERE read_at IS NULL"
    )
    op.execute("CREATE INDEX ix_notifications_created_at ON notifications (created_at)")


def downgrade() -> None:
    op.execute("DROP TABLE notifications")
    op.execute("DROP FUNCTION notifications_render_document()")
    for index in (
        "ux_tasks_parent_task_id",
        "ix_tasks_pending_reminders",
        "ix_tasks_user_id_pending_reminders",
    ):
        op.execute(f"DROP INDEX {index}")
    op.execute("""
        ALTER TABLE tasks DROP CONSTRAINT ck_tasks_reminder_minutes, DROP CONSTRAINT ck_tasks_reminder_state,
            DROP COLUMN recurrence, DROP COLUMN series_start_at, DROP COLUMN parent_task_id,
            DROP COLUMN recurred, DROP COLUMN remind_at, DROP COLUMN reminder_minutes_before,
            DROP COLUMN reminder_state
    """)
    # 0004's shapes, re-rendered for every row (a downgrade may rewrite the table).
    previous = _revision_0004()
    op.execute(previous.TASK_DOCUMENT.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.execute(previous.RENDER_TRIGGER)
    op.execute("ALTER TABLE tasks ALTER COLUMN document_version SET DEFAULT 4")
    op.execute("DROP INDEX ix_tasks_stale_document")
    op.execute("CREATE INDEX ix_tasks_stale_document ON tasks (id) WHERE document_version < 4")
    op.execute("UPDATE tasks SET document = NULL")


def _revision_0004() -> ModuleType:
    path = Path(__file__).with_name("0004_organize.py")
    spec = importlib.util.spec_from_file_location("revision_0004", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
