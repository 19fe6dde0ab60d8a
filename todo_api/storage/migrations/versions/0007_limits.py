"""Quotas, retry-safe creates, and erasing a user.

- `user_quotas`: each user's number of tasks and of pending reminders, kept by a trigger on `tasks`
  whichever path writes them. A create locks the user's row (`INSERT ... ON CONFLICT DO UPDATE`) and
  inserts only while both are under their limits, so concurrent creates at a limit queue on that row
  and never overshoot it. The trigger is named to fire before `tasks_events`: every path then takes
  the quota row before the user's event lock, in one order, so the two never deadlock.
- `idempotency_keys`: the first response to each `Idempotency-Key` of a user, written in the create's
  own transaction and kept 24 hours.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNT = """
CREATE FUNCTION tasks_count_quota() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO user_quotas AS q (user_id, tasks, reminders)
            VALUES (NEW.user_id, 1, (NEW.reminder_state IS NOT DISTINCT FROM 'pending')::int)
            ON CONFLICT (user_id) DO UPDATE
            SET tasks = q.tasks + 1, reminders = q.reminders + EXCLUDED.reminders;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE user_quotas SET tasks = tasks - 1,
            reminders = reminders - (OLD.reminder_state IS NOT DISTINCT FROM 'pending')::int
            WHERE user_id = OLD.user_id;
    ELSIF (OLD.reminder_state IS NOT DISTINCT FROM 'pending')
            <> (NEW.reminder_state IS NOT DISTINCT FROM 'pending') THEN
        UPDATE user_quotas
            SET reminders = reminders + CASE WHEN NEW.reminder_state = 'pending' THEN 1 ELSE -1 END
            WHERE user_id = NEW.user_id;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute("""
        CREATE TABLE user_quotas (
            user_id varchar(255) PRIMARY KEY,
            tasks integer NOT NULL DEFAULT 0,
            reminders integer NOT NULL DEFAULT 0
        )
    """)
    op.execute("""
        INSERT INTO user_quotas (user_id, tasks, reminders)
        SELECT user_id, count(*), count(*) FILTER (WHERE reminder_state = 'pending')
        FROM tasks GROUP BY user_id
    """)
    op.execute(COUNT)
    op.execute(
        "CREATE TRIGGER tasks_count AFTER INSERT OR DELETE OR UPDATE OF reminder_state ON tasks"
        " FOR EACH ROW EXECUTE FUNCTION tasks_count_quota()"
    )
    op.execute("""
        CREATE TABLE idempotency_keys (
            user_id varchar(255) NOT NULL,
            key varchar(255) NOT NULL,
            fingerprint text NOT NULL,
            body text NOT NULL,
            version bigint NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, key)
        )
    """)
    op.execute("CREATE INDEX ix_idempotency_keys_created_at ON idempotency_keys (created_at)")


def downgrade() -> None:
    op.execute("DROP TABLE idempotency_keys")
    op.execute("DROP TRIGGER tasks_count ON tasks")
    op.execute("DROP FUNCTION tasks_count_quota()")
    op.execute("DROP TABLE user_quotas")
