"""Every statement on `tasks` but the list's (`queries.py`), each scoped by owner (FR-013).

PostgreSQL returns each task as the API's JSON, stored with its row by a trigger (migrations 0003-0005),
and its version: `updated_at` in microseconds, which strictly increases on every change, so it serves
as the ETag, and `If-Match` is checked inside the writing statement itself.
"""

# ruff: noqa: S608  (the SQL below is assembled from this module's constants, never from input)

import re

from sqlalchemy.dialects import postgresql

from ..models import tasks
from .queries import TASK_JSON

_VERSION = "(extract(epoch FROM updated_at) * 1000000)::bigint"
_TASK = f"{TASK_JSON}, {_VERSION}"
_OWNED = "user_id = %(user_id)s AND id = %(task_id)s"
# If-Match: no list means no precondition; otherwise the current version must be in it.
_IF_MATCH = f"(%(versions)s::bigint[] IS NULL OR {_VERSION} = ANY(%(versions)s::bigint[]))"
# `updated_at` strictly advances on every change, even for two changes within one clock tick.
_TOUCH = "updated_at = greatest(clock_timestamp(), updated_at + interval '1 microsecond')"
# An open recurring task that has never recurred: completing it also creates its successor, which
# the single statements leave to the repository's locked path.
_WOULD_RECUR = "(recurrence IS NOT NULL AND NOT completed AND NOT recurred)"
TIME_COLUMNS = (
    *("time_zone", "due_at", "due_day", "due_all_day", "overdue_at"),
    *("recurrence", "series_start_at", "remind_at", "reminder_minutes_before"),
)
_ONE_SUCCESSOR = "ON CONFLICT (parent_task_id) WHERE parent_task_id IS NOT NULL DO NOTHING"

# string_agg, not json_agg: json_agg puts ", " between elements.
LIST_ALL_SQL = (
    f"SELECT '[' || coalesce(string_agg({TASK_JSON}, ',' ORDER BY id), '') || ']', count(*)"
    " FROM tasks WHERE user_id = %(user_id)s"
)
GET_SQL = f"SELECT {_TASK} FROM tasks WHERE {_OWNED}"
_CREATED = ("user_id", "title", "description", "completed", "priority", "tags", *TIME_COLUMNS)
# A create under the user's quotas (migration 0007): the upsert locks the user's counts, and the
# task is inserted only if they are under both limits (no row back: refused, nothing written).
# Values from a SELECT take no type from their column, hence the casts.
_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_TYPES = {c: re.sub(r"\(\d+\)", "", tasks.c[c].type.compile(dialect=_DIALECT)) for c in _CREATED}
_TYPED = ", ".join(f"%({column})s::{_TYPES[column]}" for column in _CREATED)  # no length: never truncate
CREATE_SQL = f"""WITH allowed AS (
        INSERT INTO user_quotas AS q (user_id) VALUES (%(user_id)s)
        ON CONFLICT (user_id) DO UPDATE SET tasks = q.tasks
        WHERE q.tasks < %(max_tasks)s
            AND (%(remind_at)s::timestamptz IS NULL OR q.reminders < %(max_reminders)s)
        RETURNING 1)
    INSERT INTO tasks ({", ".join(_CREATED)}) SELECT {_TYPED} FROM allowed RETURNING {_TASK}"""
QUOTA_SQL = "SELECT tasks, reminders FROM user_quotas WHERE user_id = %(user_id)s"
# One statement text for PUT and PATCH, prepared once: an unsent field keeps its value (NULL =
# keep; `set_description` or `set_time` false = keep the description or every time column).
_KEEP_TIME = ", ".join(f"{c} = CASE WHEN %(set_time)s THEN %({c})s ELSE {c} END" for c in TIME_COLUMNS)
UPDATE_SQL = f"""UPDATE tasks SET title = coalesce(%(title)s, title),
    description = CASE WHEN %(set_description)s THEN %(description)s ELSE description END,
    completed = coalesce(%(completed)s, completed), priority = coalesce(%(priority)s, priority),
    tags = coalesce(%(tags)s, tags), {_KEEP_TIME}, recurred = recurred OR %(recurred)s, {_TOUCH}
    WHERE {_OWNED} AND {_IF_MATCH} AND NOT (%(guard)s AND coalesce(%(completed)s, false) AND {_WOULD_RECUR})
    RETURNING {_TASK}"""
# One atomic statement: concurrent toggles serialise on the row lock, none is lost.
TOGGLE_SQL = f"""UPDATE tasks SET completed = NOT completed, {_TOUCH}
    WHERE {_OWNED} AND {_IF_MATCH} AND NOT {_WOULD_RECUR} RETURNING {_TASK}"""
# The task as it is, and what a write that needs the stored values computes from; the lock holds it.
LOCK_SQL = (
    f"SELECT {_TASK}, completed, recurred, {', '.join(TIME_COLUMNS)} FROM tasks WHERE {_OWNED} FOR UPDATE"
)
# The next occurrence of a completed recurring task: its fields as the completion left them, the
# time columns computed for it; the unique index allows one per task, whatever runs concurrently.
_COPIED = ("user_id", "title", "description", "priority", "tags")
SUCCESSOR_SQL = f"""INSERT INTO tasks ({", ".join(_COPIED)}, parent_task_id, {", ".join(TIME_COLUMNS)})
    SELECT {", ".join(_COPIED)}, id, {", ".join(f"%({column})s" for column in TIME_COLUMNS)}
    FROM tasks WHERE {_OWNED} {_ONE_SUCCESSOR} RETURNING {_TASK}"""
DELETE_SQL = f"DELETE FROM tasks WHERE {_OWNED} AND {_IF_MATCH} RETURNING {_TASK}"
# Each tag once per user, whatever its case, with the number of tasks that carry it, under the
# spelling most of them use (on a tie, the latest task's); sorted by name in any case.
TAGS_SQL = """WITH spellings AS (
        SELECT lower(tag) AS key, tag AS name, count(*) AS uses, max(id) AS latest
        FROM tasks, unnest(tags) AS tag WHERE user_id = %(user_id)s GROUP BY tag),
    named AS (
        SELECT DISTINCT ON (key) key, name, sum(uses) OVER (PARTITION BY key) AS count
        FROM spellings ORDER BY key, uses DESC, latest DESC)
    SELECT '[' || coalesce(string_agg(row_to_json(shown)::text, ',' ORDER BY named.key), '') || ']'
    FROM named, LATERAL (SELECT named.name, named.count::bigint AS count) shown"""
