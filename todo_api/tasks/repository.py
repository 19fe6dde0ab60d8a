"""Task storage: every statement is scoped by owner (FR-013) and is one round trip.

PostgreSQL renders each task (or the whole list) as JSON, in the API's exact shape, so the hot
path never builds Python objects per row: the text goes straight into the response. The shape
is documented by `schemas.TaskRead` and pinned by the tests.

A task's version is its `updated_at` in microseconds: it strictly increases on every change,
so it serves as the ETag, and `If-Match` is checked inside the writing statement itself.
"""

# ruff: noqa: S608  (the SQL below is assembled from this module's constants, never from input)

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..db import Database, Rows
from .queries import ListQuery, Page, escape_like, list_sql

# Each row keeps its task as the API's compact JSON in `document`, rendered by a trigger whenever
# the row is written (migration 0003): reads only concatenate stored text.
_VERSION = "(extract(epoch FROM updated_at) * 1000000)::bigint"
_TASK = f"document, {_VERSION}"
_OWNED = "user_id = %(user_id)s AND id = %(task_id)s"
# If-Match: no list means no precondition; otherwise the current version must be in it.
_IF_MATCH = f"(%(versions)s::bigint[] IS NULL OR {_VERSION} = ANY(%(versions)s::bigint[]))"
# `updated_at` strictly advances on every change, even for two changes within one clock tick.
_TOUCH = "updated_at = greatest(clock_timestamp(), updated_at + interval '1 microsecond')"

# string_agg, not json_agg: json_agg puts ", " between elements.
LIST_ALL_SQL = (
    "SELECT '[' || coalesce(string_agg(document, ',' ORDER BY id), '') || ']', count(*)"
    " FROM tasks WHERE user_id = %(user_id)s"
)
GET_SQL = f"SELECT {_TASK} FROM tasks WHERE {_OWNED}"
CREATE_SQL = f"""INSERT INTO tasks (user_id, title, description, completed)
    VALUES (%(user_id)s, %(title)s, %(description)s, %(completed)s) RETURNING {_TASK}"""
# One statement text for PUT and PATCH, prepared once: an unsent field keeps its value
# (NULL title or completed = keep; `set_description` false = keep the description).
UPDATE_SQL = f"""UPDATE tasks SET title = coalesce(%(title)s, title),
    description = CASE WHEN %(set_description)s THEN %(description)s ELSE description END,
    completed = coalesce(%(completed)s, completed), {_TOUCH}
    WHERE {_OWNED} AND {_IF_MATCH} RETURNING {_TASK}"""
# One atomic statement: concurrent toggles serialise on the row lock, none is lost.
TOGGLE_SQL = (
    f"UPDATE tasks SET completed = NOT completed, {_TOUCH} WHERE {_OWNED} AND {_IF_MATCH} RETURNING {_TASK}"
)
DELETE_SQL = f"DELETE FROM tasks WHERE {_OWNED} AND {_IF_MATCH} RETURNING {_TASK}"


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
        params: dict[str, Any] = {"user_id": user_id, "completed": query.completed, "offset": query.offset}
        if query.search is not None:
            params["pattern"] = f"%{escape_like(query.search)}%"
        if query.limit is not None:
            params["fetch"] = query.limit + 1  # one more than asked: tells whether more follow
        for n, value in enumerate(query.after or ()):
            params[f"after_{n}"] = value
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
        params = {"user_id": user_id, "title": values["title"], "description": values.get("description"),
                  "completed": values.get("completed", False)}  # fmt: skip
        return Task(*(await self._execute(CREATE_SQL, params))[0])

    async def update(
        self, user_id: str, task_id: int, changes: Mapping[str, Any], if_match: list[int] | None = None
    ) -> Task | None:
        """Apply the fields present in `changes`; the others keep their values."""
        if not changes:  # a PATCH of `{}`: nothing to write, and the version stays
            task = await self.get(user_id, task_id)
            if task is not None and if_match is not None and task.version not in if_match:
                raise VersionMismatch(task)
            return task
        params = {
            "user_id": user_id,
            "task_id": task_id,
            "title": changes.get("title"),
            "set_description": "description" in changes,
            "description": changes.get("description"),
            "completed": changes.get("completed"),
            "versions": if_match,
        }
        return await self._conditional(UPDATE_SQL, params)

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


def _parse_keys(keys_json: str) -> list[str]:
    values: list[Any] = json.loads(keys_json)
    return [str(value) for value in values]
