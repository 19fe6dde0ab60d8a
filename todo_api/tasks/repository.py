"""Task storage: every statement is scoped by owner (FR-013), and most are one round trip.

PostgreSQL renders each task (or the whole list) as JSON, in the API's exact shape, so the hot
path never builds Python objects per row: the text goes straight into the response. The shape
is documented by `schemas.TaskRead` and pinned by the tests.

A task's version is its `updated_at` in microseconds: it strictly increases on every change,
so it serves as the ETag, and `If-Match` is checked inside the writing statement itself.

Due dates are computed here, in Python with `zoneinfo` (`due.py`), and stored as instants. A change
of `due_date` or `time_zone` needs the task's other half (its zone, or its due date), so it reads the
row under a lock and writes it in one transaction; every other write is a single statement.
"""

# ruff: noqa: S608  (the SQL below is assembled from this module's constants, never from input)

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ..db import Database, Rows, Transaction
from ..models import PRIORITIES
from .due import Due, due_in_zone
from .queries import TASK_JSON, ListQuery, Page, escape_like, list_sql
from .zones import zone

# Each row keeps its task as the API's compact JSON in `document`, rendered by a trigger whenever
# the row is written (migrations 0003, 0004): reads only concatenate stored text.
_VERSION = "(extract(epoch FROM updated_at) * 1000000)::bigint"
_TASK = f"{TASK_JSON}, {_VERSION}"
_OWNED = "user_id = %(user_id)s AND id = %(task_id)s"
# If-Match: no list means no precondition; otherwise the current version must be in it.
_IF_MATCH = f"(%(versions)s::bigint[] IS NULL OR {_VERSION} = ANY(%(versions)s::bigint[]))"
# `updated_at` strictly advances on every change, even for two changes within one clock tick.
_TOUCH = "updated_at = greatest(clock_timestamp(), updated_at + interval '1 microsecond')"
_DUE_COLUMNS = ("due_at", "due_day", "due_all_day", "overdue_at")
TIME_FIELDS = frozenset({"due_date", "time_zone"})

# string_agg, not json_agg: json_agg puts ", " between elements.
LIST_ALL_SQL = (
    f"SELECT '[' || coalesce(string_agg({TASK_JSON}, ',' ORDER BY id), '') || ']', count(*)"
    " FROM tasks WHERE user_id = %(user_id)s"
)
GET_SQL = f"SELECT {_TASK} FROM tasks WHERE {_OWNED}"
_CREATED = "user_id, title, description, completed, priority, tags, time_zone, " + ", ".join(_DUE_COLUMNS)
CREATE_SQL = f"""INSERT INTO tasks ({_CREATED})
    VALUES ({", ".join(f"%({column})s" for column in _CREATED.split(", "))}) RETURNING {_TASK}"""
# One statement text for PUT and PATCH, prepared once: an unsent field keeps its value (NULL =
# keep; `set_description` or `set_due` false = keep the description or the due date).
_KEEP_DUE = ", ".join(
    f"{column} = CASE WHEN %(set_due)s THEN %({column})s ELSE {column} END" for column in _DUE_COLUMNS
)
UPDATE_SQL = f"""UPDATE tasks SET title = coalesce(%(title)s, title),
    description = CASE WHEN %(set_description)s THEN %(description)s ELSE description END,
    completed = coalesce(%(completed)s, completed), priority = coalesce(%(priority)s, priority),
    tags = coalesce(%(tags)s, tags), time_zone = coalesce(%(time_zone)s, time_zone), {_KEEP_DUE}, {_TOUCH}
    WHERE {_OWNED} AND {_IF_MATCH} RETURNING {_TASK}"""
# What a change of due date or zone needs of the stored task; the lock holds it until the write.
LOCK_DUE_SQL = f"SELECT time_zone, due_all_day, due_day, due_at FROM tasks WHERE {_OWNED} FOR UPDATE"
# One atomic statement: concurrent toggles serialise on the row lock, none is lost.
TOGGLE_SQL = (
    f"UPDATE tasks SET completed = NOT completed, {_TOUCH} WHERE {_OWNED} AND {_IF_MATCH} RETURNING {_TASK}"
)
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


class Task(NamedTuple):
    json: str  # the task as the API returns it
    version: int  # its ETag


class VersionMismatch(Exception):
    """`If-Match` named other versions than the task's current one; nothing was changed."""

    def __init__(self, current: Task) -> None:
        super().__init__("version mismatch")
        self.current = current


class TaskRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def list_all(self, user_id: str) -> Page:
        """Every task, in creation order: the spec's plain list, on its fastest path."""
        tasks, total = (await self._read(LIST_ALL_SQL, {"user_id": user_id}))[0]
        return Page(tasks, total, None)

    async def page(self, user_id: str, query: ListQuery) -> Page:
        params = list_params(user_id, query)
        rows = await self._read(list_sql(query), params)
        total = rows[0][0]
        page = [row for row in rows if row[1] is not None]
        more = query.limit is not None and len(page) > query.limit
        if more:
            page = page[: query.limit]
        next_after = _parse_keys(page[-1][2]) if more else None
        return Page("[" + ",".join(row[1] for row in page) + "]", total, next_after)

    async def get(self, user_id: str, task_id: int) -> Task | None:
        rows = await self._read(GET_SQL, {"user_id": user_id, "task_id": task_id})
        return Task(*rows[0]) if rows else None

    async def create(self, user_id: str, values: Mapping[str, Any]) -> Task:
        """A new task from validated values (`TaskCreate`'s fields; `completed` may be left out)."""
        due = due_in_zone(values["due_date"], zone(values["time_zone"]))
        params = _field_params(values) | _due_params(due) | {"completed": values.get("completed", False)}
        return Task(*(await self._execute(CREATE_SQL, params | {"user_id": user_id}))[0])

    async def update(
        self, user_id: str, task_id: int, changes: Mapping[str, Any], if_match: list[int] | None = None
    ) -> Task | None:
        """Apply the fields present in `changes`; the others keep their values."""
        if not changes:  # a PATCH of `{}`: nothing to write, and the version stays
            task = await self.get(user_id, task_id)
            if task is not None and if_match is not None and task.version not in if_match:
                raise VersionMismatch(task)
            return task
        params = _field_params(changes) | {"user_id": user_id, "task_id": task_id, "versions": if_match}
        if TIME_FIELDS.isdisjoint(changes):
            return await self._conditional(UPDATE_SQL, params | _due_params(None))
        async with self._database.transaction() as transaction:
            rows = await self._with_due(transaction, params, changes)
        if rows:
            return Task(*rows[0])
        await self._raise_if_mismatch(user_id, task_id, if_match)
        return None

    async def tags(self, user_id: str) -> str:
        """The user's tags with their task counts, as a JSON array sorted by name (any case)."""
        return str((await self._read(TAGS_SQL, {"user_id": user_id}))[0][0])

    async def _with_due(
        self, transaction: Transaction, params: dict[str, Any], changes: Mapping[str, Any]
    ) -> Rows:
        """The UPDATE, with the due date recomputed from the locked row and the changes."""
        locked = await transaction.execute(LOCK_DUE_SQL, params)
        if not locked:
            return []
        stored_zone, all_day, day, instant = locked[0]
        due_date = changes.get("due_date", day if all_day else instant)
        due = due_in_zone(due_date, zone(changes.get("time_zone") or stored_zone))
        return await transaction.execute(UPDATE_SQL, params | _due_params(due))

    async def toggle_completed(
        self, user_id: str, task_id: int, if_match: list[int] | None = None
    ) -> Task | None:
        params = {"user_id": user_id, "task_id": task_id, "versions": if_match}
        return await self._conditional(TOGGLE_SQL, params)

    async def delete(self, user_id: str, task_id: int, if_match: list[int] | None = None) -> Task | None:
        """The task as it was, or None if there was none to delete."""
        params = {"user_id": user_id, "task_id": task_id, "versions": if_match}
        return await self._conditional(DELETE_SQL, params)

    async def _conditional(self, sql: str, params: dict[str, Any]) -> Task | None:
        rows = await self._execute(sql, params)
        if rows:
            return Task(*rows[0])
        await self._raise_if_mismatch(params["user_id"], params["task_id"], params["versions"])
        return None

    async def _raise_if_mismatch(self, user_id: str, task_id: int, if_match: list[int] | None) -> None:
        # Only when a conditional write changed nothing: was it missing, or a stale version?
        if if_match is not None and (current := await self.get(user_id, task_id)) is not None:
            raise VersionMismatch(current)

    async def _read(self, sql: str, params: dict[str, Any]) -> Rows:
        return await self._database.execute(sql, params, read=True)

    async def _execute(self, sql: str, params: dict[str, Any]) -> Rows:
        return await self._database.execute(sql, params)


def list_params(user_id: str, query: ListQuery) -> dict[str, Any]:
    """The parameters of `list_sql(query)` for this user."""
    params: dict[str, Any] = {
        "user_id": user_id,
        "completed": query.completed,
        "offset": query.offset,
        "priorities": None if query.priorities is None else list(query.priorities),
        "due_before": query.due_before,
        "due_after": query.due_after,
        "now": query.now or datetime.now(UTC),
    }
    if query.search is not None:
        params["pattern"] = f"%{escape_like(query.search)}%"
    if query.tags is not None:
        params["tag_keys"] = [f"{user_id}\x1f{tag}" for tag in query.tags]  # as task_tag_keys() makes them
    if query.limit is not None:
        params["fetch"] = query.limit + 1  # one more than asked: tells whether more follow
    for n, value in enumerate(query.after or ()):
        params[f"after_{n}"] = value
    return params


def _field_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """The statement parameters of the fields given; None for those not given (kept by UPDATE)."""
    priority = values.get("priority")
    time_zone = values.get("time_zone")
    return {
        "title": values.get("title"),
        "set_description": "description" in values,
        "description": values.get("description"),
        "completed": values.get("completed"),
        "priority": None if priority is None else PRIORITIES.index(priority),
        "tags": values.get("tags"),
        "time_zone": None if time_zone is None else str(time_zone),
    }


def _due_params(due: Due | None) -> dict[str, Any]:
    """The due columns to write; for None, a flag to keep them."""
    written = due or Due()
    return {"set_due": due is not None, "due_at": written.at, "due_day": written.day,
            "due_all_day": written.all_day, "overdue_at": written.overdue_at}  # fmt: skip


def _parse_keys(keys_json: str) -> list[str]:
    values: list[Any] = json.loads(keys_json)
    return [str(value) for value in values]
