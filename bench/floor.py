"""The floor for any endpoint that reads PostgreSQL on this stack: FastAPI, psycopg_pool and one
trivial query, with no auth and no validation. Run beside the service in `make bench`.

`/floor/{user_id}/tasks` runs the service's own list statement the same way: what a list costs on
this stack before any of the service's own work (auth, validation, headers, middleware)."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from psycopg_pool import AsyncConnectionPool

from todo_api.storage.urls import libpq_dsn, to_psycopg_url
from todo_api.tasks.statements import LIST_ALL_SQL

pool = AsyncConnectionPool(
    libpq_dsn(to_psycopg_url(os.environ["NEON_DATABASE_URL"], "NEON_DATABASE_URL")),
    min_size=20,
    max_size=20,
    kwargs={"autocommit": True},
    open=False,
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await pool.open()
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


async def _json_from(sql: str, params: dict[str, str] | None = None) -> Response:
    """The first column of the statement's one row, as the JSON body."""
    async with pool.connection() as conn:
        row = await (await conn.execute(sql, params)).fetchone()
    assert row is not None
    return Response(row[0], media_type="application/json")


@app.get("/floor")
async def floor() -> Response:
    return await _json_from("SELECT json_build_object('id', 1)::text")


@app.get("/floor/{user_id}/tasks")
async def floor_list(user_id: str) -> Response:
    return await _json_from(LIST_ALL_SQL, {"user_id": user_id})
