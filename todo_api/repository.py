"""Task storage: every statement is scoped by owner (FR-013) and is one round trip.

PostgreSQL renders each task (or the whole list) as JSON, in the API's exact shape, so the hot
path never builds Python objects per row: the text goes straight into the response. The shape
is documented by `schemas.TaskRead` and pinned by the tests.
"""

# ruff: noqa: S608  (the SQL below is assembled from this module's constants, never from input)

from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine

from .db import ConnectionLost

# ISO 8601 in UTC with an explicit offset, microseconds always present.
_UTC = """to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
_TASK_JSON = f"""json_build_object(
    'id', id, 'user_id', user_id, 'title', title, 'description', description, 'completed', completed,
    'created_at', {_UTC.format(column="created_at")}, 'updated_at', {_UTC.format(column="updated_at")})"""
_OWNED = "user_id = %(user_id)s AND id = %(task_id)s"
# `updated_at` strictly advances on every change, even for two changes within one clock tick.
_TOUCH = "updated_at = greatest(clock_timestamp(), updated_at + interval '1 microsecond')"

LIST_SQL = (
    f"SELECT coalesce(json_agg({_TASK_JSON} ORDER BY id), '[]')::text FROM tasks WHERE user_id = %(user_id)s"
)
GET_SQL = f"SELECT {_TASK_JSON}::text FROM tasks WHERE {_OWNED}"
CREATE_SQL = f"""INSERT INTO tasks (user_id, title, description, completed)
    VALUES (%(user_id)s, %(title)s, %(description)s, %(completed)s) RETURNING {_TASK_JSON}::text"""
# One statement text for every update, so it is prepared once and reused: unsent fields keep
# their value (NULL `completed` = keep; `set_description` false = keep the description).
UPDATE_SQL = f"""UPDATE tasks SET title = %(title)s,
    description = CASE WHEN %(set_description)s THEN %(description)s ELSE description END,
    completed = coalesce(%(completed)s, completed), {_TOUCH}
    WHERE {_OWNED} RETURNING {_TASK_JSON}::text"""
# One atomic statement: concurrent toggles serialise on the row lock, none is lost.
TOGGLE_SQL = (
    f"UPDATE tasks SET completed = NOT completed, {_TOUCH} WHERE {_OWNED} RETURNING {_TASK_JSON}::text"
)
DELETE_SQL = f"DELETE FROM tasks WHERE {_OWNED} RETURNING id"


class TaskRepository:
    """Returns tasks as JSON text (`None`: no such task for this user)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def list(self, user_id: str) -> str:
        tasks: str = await self._read(LIST_SQL, {"user_id": user_id})
        return tasks

    async def get(self, user_id: str, task_id: int) -> str | None:
        task: str | None = await self._read(GET_SQL, {"user_id": user_id, "task_id": task_id})
        return task

    async def create(self, user_id: str, title: str, description: str | None, completed: bool) -> str:
        task: str = await self._write(
            CREATE_SQL,
            {"user_id": user_id, "title": title, "description": description, "completed": completed},
        )
        return task

    async def update(self, user_id: str, task_id: int, title: str, changes: dict[str, Any]) -> str | None:
        """Set the title; set `description` and `completed` only if they are in `changes`."""
        params = {
            "user_id": user_id,
            "task_id": task_id,
            "title": title,
            "set_description": "description" in changes,
            "description": changes.get("description"),
            "completed": changes.get("completed"),
        }
        task: str | None = await self._write(UPDATE_SQL, params)
        return task

    async def toggle_completed(self, user_id: str, task_id: int) -> str | None:
        task: str | None = await self._write(TOGGLE_SQL, {"user_id": user_id, "task_id": task_id})
        return task

    async def delete(self, user_id: str, task_id: int) -> bool:
        return await self._write(DELETE_SQL, {"user_id": user_id, "task_id": task_id}) is not None

    async def _read(self, sql: str, params: dict[str, Any]) -> Any:
        """Run a read; if its connection turns out dead (a restarted or resumed database), once more.

        Writes are never retried this way: a write whose connection died may have been applied.
        """
        try:
            return await self._write(sql, params)
        except ConnectionLost:
            return await self._write(sql, params)

    async def _write(self, sql: str, params: dict[str, Any]) -> Any:
        """The statement's single value (or None), over a pooled connection.

        SQLAlchemy's pool does the connection work (timeouts, recycling, idle pings); the statement
        goes straight to psycopg, whose own layer is all this needs (SQLAlchemy's execution layer
        cost a tenth of each request).
        """
        async with self._engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None  # a checked-out connection always has one
            try:
                row = await (await driver.execute(sql, params)).fetchone()
            except psycopg.OperationalError as error:
                if driver.broken or driver.closed:
                    await conn.invalidate()  # never hand this connection out again
                    raise ConnectionLost from error
                raise
        return None if row is None else row[0]
