"""The event log: one row for every change of a task or a notification, written by triggers in the
transaction that makes the change (an outbox), so that a change and its event commit together or not
at all, whichever code path, SQL run by hand included, made it.

- One writer at a time per user (a transaction-level advisory lock, safe behind PgBouncer in
  transaction mode), so each user's events get their ids in commit order: a reader that has seen id N
  of a user has seen every earlier one of theirs.
- `subject` is the task's id, for a notification's events too (the task it reminds of).
- An update that changes nothing a client sees (`updated_at` unchanged: a document re-rendered, a
  reminder claimed) writes no event. `todo.quiet` set in a transaction silences the triggers (erasing a
  user writes one `user.erased` event instead of one per row).
- `event_log` is one row: the relay's lease (whoever holds its lock publishes) and the highest id purged
  (a stream resumed from before it must start over).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

# ruff: noqa: S608  (SQL from this module's constants)

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Any fixed number, unlike the migrations' own lock: the lock space of one user's events.
EVENTS_LOCK_SPACE = 7021

RECORD = f"""
CREATE FUNCTION record_event(owner text, kind text, subject text, payload text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('todo.quiet', true) = 'on' THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock({EVENTS_LOCK_SPACE}, hashtext(owner));
    INSERT INTO events (user_id, type, subject, data) VALUES (owner, kind, subject, payload);
END
$$
"""
TASK_EVENTS = """
CREATE FUNCTION tasks_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM record_event(NEW.user_id, 'task.created', NEW.id::text, NEW.document);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM record_event(OLD.user_id, 'task.deleted', OLD.id::text, '{"id":' || OLD.id || '}');
    ELSIF NEW.updated_at IS DISTINCT FROM OLD.updated_at THEN
        PERFORM record_event(NEW.user_id,
            CASE WHEN NEW.completed AND NOT OLD.completed THEN 'task.completed'
                 WHEN OLD.completed AND NOT NEW.completed THEN 'task.reopened'
                 ELSE 'task.updated' END,
            NEW.id::text, NEW.document);
    END IF;
    RETURN NULL;
END
$$
"""
NOTIFICATION_EVENTS = """
CREATE FUNCTION notifications_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM record_event(NEW.user_id, 'notification.created', NEW.task_id::text, NEW.document);
    ELSIF OLD.read_at IS NULL AND NEW.read_at IS NOT NULL THEN
        PERFORM record_event(NEW.user_id, 'notification.read', NEW.task_id::text, NEW.document);
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute("""
        CREATE TABLE events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_id varchar(255) NOT NULL,
            type text NOT NULL,
            subject text,
            data text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        )
    """)
    op.execute("CREATE INDEX ix_events_user_id_id ON events (user_id, id)")
    op.execute("CREATE INDEX ix_events_unpublished ON events (id) WHERE published_at IS NULL")
    op.execute("CREATE INDEX ix_events_created_at ON events (created_at)")
    op.execute("""
        CREATE TABLE event_log (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            purged_through bigint NOT NULL DEFAULT 0
        )
    """)
    op.execute("INSERT INTO event_log DEFAULT VALUES")
    for function in (RECORD, TASK_EVENTS, NOTIFICATION_EVENTS):
        op.execute(function)
    op.execute(
        "CREATE TRIGGER tasks_events AFTER INSERT OR UPDATE OR DELETE ON tasks"
        " FOR EACH ROW EXECUTE FUNCTION tasks_record_event()"
    )
    op.execute(
        "CREATE TRIGGER notifications_events AFTER INSERT OR UPDATE ON notifications"
        " FOR EACH ROW EXECUTE FUNCTION notifications_record_event()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER notifications_events ON notifications")
    op.execute("DROP TRIGGER tasks_events ON tasks")
    for function in (
        "notifications_record_event()",
        "tasks_record_event()",
        "record_event(text, text, text, text)",
    ):
        op.execute(f"DROP FUNCTION {function}")
    op.execute("DROP TABLE event_log")
    op.execute("DROP TABLE events")
