"""Each task keeps its API JSON, rendered once when it is written, not on every read.

Rendering a task as JSON (two `to_char` timestamps, `row_to_json`) cost PostgreSQL more than the
rest of a list query did, and lists, most of the traffic, rendered every row on every request. A
trigger now renders the document whenever a row is inserted or updated, so a list only concatenates
stored text. The bytes are the API's, pinned by the tests.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Compact JSON (`{"id":1,"user_id":"u",...}`) in the documented field order; timestamps in UTC
# with microseconds and an explicit offset, whatever the session's time zone.
TRIGGER_FUNCTION = """
CREATE FUNCTION tasks_render_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT row_to_json(fields)::text INTO NEW.document FROM (
        SELECT NEW.id AS id, NEW.user_id AS user_id, NEW.title AS title,
            NEW.description AS description, NEW.completed AS completed,
            to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') AS created_at,
            to_char(NEW.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') AS updated_at
    ) fields;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.execute("ALTER TABLE tasks ADD COLUMN document text")
    op.execute(TRIGGER_FUNCTION)
    # BEFORE: the row's defaults (id, timestamps) are already set, and RETURNING sees the document.
    op.execute(
        "CREATE TRIGGER tasks_document BEFORE INSERT OR UPDATE ON tasks"
        " FOR EACH ROW EXECUTE FUNCTION tasks_render_document()"
    )
    op.execute("UPDATE tasks SET document = NULL")  # the trigger renders every existing task
    op.execute("ALTER TABLE tasks ALTER COLUMN document SET NOT NULL")


def downgrade() -> None:
    op.execute("DROP TRIGGER tasks_document ON tasks")
    op.execute("DROP FUNCTION tasks_render_document()")
    op.execute("ALTER TABLE tasks DROP COLUMN document")
