"""Task storage: the statements of `statements.py` and `queries.py`, and when each runs.

PostgreSQL renders each task (or the whole list) as JSON, in the API's exact shape, so the hot path
never builds Python objects per row: the text goes straight into the response (`schemas.TaskRead`
documents the shape; the tests pin it).

Most writes are one statement. A write that needs the stored row first runs in one transaction
that reads it `FOR UPDATE`: a change of a time field (its instants are computed in Python from the
other half: the zone, or the due date), and completing a recurring task (its successor is created
in the same transaction). The single statements refuse the latter, which then takes that path.
"""

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ..db import Database, Rows
from ..models import PRIORITIES
from .idempotency import IdempotencyKey, create_once
from .limits import Quotas, exceeded
from .queries import ListQuery, Page, list_params, list_sql
from .statements import (
    CREATE_SQL,
    DELETE_SQL,
    GET_SQL,
    LIST_ALL_SQL,
    LOCK_SQL,
    QUOTA_SQL,
    SUCCESSOR_SQL,
    TAGS_SQL,
    TIME_COLUMNS,
    TOGGLE_SQL,
    UPDATE_SQL,
)
from .timing import TIME_FIELDS, Timing, apply, successor


class Task(NamedTuple):
    json: str  # the task as the API returns it
    version: int  # its ETag
    successor: "Task | None" = None  # the next occurrence its completion created


class VersionMismatch(Exception):
    """`If-Match` named other versions than the task's current one; nothing was changed."""

    def __init__(self, current: Task) -> None:
        super().__init__("version mismatch")
        self.current = current


class TaskRepository:
    def __init__(self, database: Database, quotas: Quotas | None = None) -> None:
        self._database = database
        self._quotas = quotas or Quotas()

    async def list_all(self, user_id: str) -> Page:
        """Every task, in creation order: the spec's plain list, on its fastest path."""
        tasks, total = (await self._read(LIST_ALL_SQL, {"user_id": user_id}))[0]
        return Page(tasks, total, None)

    async def page(self, user_id: str, query: ListQuery) -> Page:
        rows = await self._read(list_sql(query), list_params(user_id, query))
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

    async def create(
        self, user_id: str, values: Mapping[str, Any], key: IdempotencyKey | None = None
    ) -> Task:
        """A new task from validated values (`TaskCreate`'s fields; `completed` may be left out), under
        the user's quotas (`QuotaExceeded`); with a key, the task that key created, if any."""
        params = create_parameters(user_id, values, self._quotas)
        if key is None:
            return await self._created(await self._execute(CREATE_SQL, params), user_id)
        async with self._database.transaction() as transaction:

            async def create() -> tuple[str, int]:
                task = await self._created(await transaction.execute(CREATE_SQL, params), user_id)
                return task.json, task.version

            return Task(*await create_once(transaction, user_id, key, create))

    async def _created(self, rows: Rows, user_id: str) -> Task:
        if rows:
            return Task(*rows[0])
        counts = await self._read(QUOTA_SQL, {"user_id": user_id})
        raise exceeded(self._quotas, *counts[0])

    async def update(
        self, user_id: str, task_id: int, changes: Mapping[str, Any], if_match: list[int] | None = None
    ) -> Task | None:
        """Apply the fields present in `changes`; the others keep their values."""
        if not changes:  # a PATCH of `{}`: nothing to write, and the version stays
            task = await self.get(user_id, task_id)
            if task is not None and if_match is not None and task.version not in if_match:
                raise VersionMismatch(task)
            return task
        if not TIME_FIELDS.isdisjoint(changes):
            return await self._locked(user_id, task_id, changes, if_match)
        params = _field_params(changes) | _keep_time() | {"guard": True, "recurred": False}
        rows = await self._execute(UPDATE_SQL, params | _where(user_id, task_id, if_match))
        if rows:
            return Task(*rows[0])
        if changes.get("completed") is True:  # maybe a recurring task: its successor is due
            return await self._locked(user_id, task_id, changes, if_match)
        await self._raise_if_mismatch(user_id, task_id, if_match)
        return None

    async def toggle_completed(
        self, user_id: str, task_id: int, if_match: list[int] | None = None
    ) -> Task | None:
        rows = await self._execute(TOGGLE_SQL, _where(user_id, task_id, if_match))
        return Task(*rows[0]) if rows else await self._locked(user_id, task_id, None, if_match)

    async def delete(self, user_id: str, task_id: int, if_match: list[int] | None = None) -> Task | None:
        """The task as it was, or None if there was none to delete."""
        rows = await self._execute(DELETE_SQL, _where(user_id, task_id, if_match))
        if rows:
            return Task(*rows[0])
        await self._raise_if_mismatch(user_id, task_id, if_match)
        return None

    async def tags(self, user_id: str) -> str:
        """The user's tags with their task counts, as a JSON array sorted by name (any case)."""
        return str((await self._read(TAGS_SQL, {"user_id": user_id}))[0][0])

    async def _locked(
        self, user_id: str, task_id: int, changes: Mapping[str, Any] | None, if_match: list[int] | None
    ) -> Task | None:
        """The write on the row read under its lock, with the successor when it completes a recurring
        task for the first time; `changes` None is a toggle. One transaction: all of it or nothing."""
        where = _where(user_id, task_id, None)
        async with self._database.transaction() as transaction:
            rows = await transaction.execute(LOCK_SQL, where)
            if not rows:
                return None
            current, completed, recurred = Task(*rows[0][:2]), rows[0][2], rows[0][3]
            if if_match is not None and current.version not in if_match:
                raise VersionMismatch(current)
            changes = {"completed": not completed} if changes is None else changes
            stored = Timing.from_row(dict(zip(TIME_COLUMNS, rows[0][4:], strict=True)))
            timing = stored if TIME_FIELDS.isdisjoint(changes) else apply(changes, stored)
            recurs = changes.get("completed") is True and not completed and timing.recurrence is not None
            params = _field_params(changes) | timing.columns() | {"set_time": True, "guard": False}
            task = Task(*(await transaction.execute(UPDATE_SQL, params | where | {"recurred": recurs}))[0])
            following = successor(timing, datetime.now(UTC)) if recurs and not recurred else None
            if following is not None:
                created = await transaction.execute(SUCCESSOR_SQL, where | following.columns())
                task = task._replace(successor=Task(*created[0]) if created else None)
        return task

    async def _raise_if_mismatch(self, user_id: str, task_id: int, if_match: list[int] | None) -> None:
        # Only when a conditional write changed nothing: was it missing, or a stale version?
        if if_match is not None and (current := await self.get(user_id, task_id)) is not None:
            raise VersionMismatch(current)

    async def _read(self, sql: str, params: dict[str, Any]) -> Rows:
        return await self._database.execute(sql, params, read=True)

    async def _execute(self, sql: str, params: dict[str, Any]) -> Rows:
        return await self._database.execute(sql, params)


def create_parameters(user_id: str, values: Mapping[str, Any], quotas: Quotas) -> dict[str, Any]:
    """CREATE_SQL's parameters for a new task from validated values, under these quotas."""
    params = _field_params(values) | apply(values).columns()
    params |= {"user_id": user_id, "completed": values.get("completed", False)}
    return params | {"max_tasks": quotas.tasks, "max_reminders": quotas.reminders}


def _where(user_id: str, task_id: int, if_match: list[int] | None) -> dict[str, Any]:
    return {"user_id": user_id, "task_id": task_id, "versions": if_match}


def _field_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """The statement parameters of the fields given; None for those not given (kept by UPDATE)."""
    priority = values.get("priority")
    return {
        "title": values.get("title"),
        "set_description": "description" in values,
        "description": values.get("description"),
        "completed": values.get("completed"),
        "priority": None if priority is None else PRIORITIES.index(priority),
        "tags": values.get("tags"),
    }


def _keep_time() -> dict[str, Any]:
    return {"set_time": False} | dict.fromkeys(TIME_COLUMNS)


def _parse_keys(keys_json: str) -> list[str]:
    values: list[Any] = json.loads(keys_json)
    return [str(value) for value in values]
