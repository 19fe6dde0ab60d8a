"""Task storage. Every query is scoped by owner (FR-013) and is one statement, one round trip."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import Executable

from .models import tasks

_COLUMNS = (
    tasks.c.id,
    tasks.c.user_id,
    tasks.c.title,
    tasks.c.description,
    tasks.c.completed,
    tasks.c.created_at,
    tasks.c.updated_at,
)
# `updated_at` strictly advances on every change, even for two changes within one clock tick.
_NEXT_UPDATED_AT = func.greatest(
    func.clock_timestamp(), tasks.c.updated_at + text("interval '1 microsecond'")
)

TaskRow = Row[*tuple[Any, ...]]


class TaskRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def list(self, user_id: str) -> Sequence[TaskRow]:
        query = select(*_COLUMNS).where(tasks.c.user_id == user_id).order_by(tasks.c.id)
        return await self._read(query)

    async def get(self, user_id: str, task_id: int) -> TaskRow | None:
        query = select(*_COLUMNS).where(tasks.c.user_id == user_id, tasks.c.id == task_id)
        rows = await self._read(query)
        return rows[0] if rows else None

    async def create(self, user_id: str, values: Mapping[str, object]) -> TaskRow:
        # created_at and updated_at come from the column defaults: one identical now().
        statement = insert(tasks).values(**values, user_id=user_id).returning(*_COLUMNS)
        row = await self._one(statement)
        assert row is not None  # INSERT ... RETURNING always yields the row
        return row

    async def update(self, user_id: str, task_id: int, values: Mapping[str, object]) -> TaskRow | None:
        statement = (
            update(tasks)
            .where(tasks.c.user_id == user_id, tasks.c.id == task_id)
            .values(**values, updated_at=_NEXT_UPDATED_AT)
            .returning(*_COLUMNS)
        )
        return await self._one(statement)

    async def toggle_completed(self, user_id: str, task_id: int) -> TaskRow | None:
        # One atomic statement: concurrent toggles serialise on the row lock, none is lost.
        return await self.update(user_id, task_id, {"completed": ~tasks.c.completed})

    async def delete(self, user_id: str, task_id: int) -> bool:
        statement = (
            delete(tasks).where(tasks.c.user_id == user_id, tasks.c.id == task_id).returning(tasks.c.id)
        )
        return await self._one(statement) is not None

    async def _read(self, query: Executable) -> Sequence[TaskRow]:
        """Run a read; if its connection turns out dead (a restarted or resumed database), once more.

        Writes are never retried this way: a write whose connection died may have been applied.
        """
        try:
            async with self._engine.connect() as conn:
                return (await conn.execute(query)).all()
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).all()

    async def _one(self, statement: Executable) -> TaskRow | None:
        async with self._engine.connect() as conn:
            return (await conn.execute(statement)).first()
