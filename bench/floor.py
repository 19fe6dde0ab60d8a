"""The floor for any endpoint that reads PostgreSQL on this stack: FastAPI, psycopg_pool and one
trivial query, with no auth and no validation. Run beside the service in `make bench`.

`/floor/{user_id}/tasks` runs the service's own list statement the same way: what a list costs on
this stack before any of the service's own work (auth, validation, headers, middleware). With the
get, create and delete beside it, the steady mix runs here too: its statements alone (each create
with the parameters of bench/load.lua's organized task, made once)."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Response
from psycopg_pool import AsyncConnectionPool

from todo_api.storage.urls import libpq_dsn, to_psycopg_url
from todo_api.tasks.limits import Quotas
from todo_api.tasks.repository import create_parameters
from todo_api.tasks.schemas import TaskCreate
from todo_api.tasks.statements import CREATE_SQL, DELETE_SQL, GET_SQL, LIST_ALL_SQL

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


# What bench/load.lua's organized creates send.
_ORGANIZED = {
    "title": "Benchmark task",
    "description": "created by wrk",
    "priority": "high",
    "tags": ["work", "bench"],
    "due_date": "2026-12-24T17:00",
    "time_zone": "Europe/Berlin",
}
_CREATE = create_parameters("", TaskCreate.model_validate(_ORGANIZED).model_dump(), Quotas())


async def _json_from(sql: str, params: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    """The first column of the statement's one row, as the JSON body (404 without a row)."""
    async with pool.connection() as conn:
        row = await (await conn.execute(sql, params)).fetchone()
    if row is None:
        return Response(status_code=404)
    return Response(row[0], status_code, media_type="application/json")


@app.get("/floor")
async def floor() -> Response:
    return await _json_from("SELECT json_build_object('id', 1)::text")


@app.get("/floor/{user_id}/tasks")
async def floor_list(user_id: str) -> Response:
    return await _json_from(LIST_ALL_SQL, {"user_id": user_id})


@app.post("/floor/{user_id}/tasks")
async def floor_create(user_id: str) -> Response:
    return await _json_from(CREATE_SQL, _CREATE | {"user_id": user_id}, 201)


@app.get("/floor/{user_id}/tasks/{task_id}")
async def floor_get(user_id: str, task_id: int) -> Response:
    return await _json_from(GET_SQL, {"user_id": user_id, "task_id": task_id})


@app.delete("/floor/{user_id}/tasks/{task_id}")
async def floor_delete(user_id: str, task_id: int) -> Response:
    deleted = await _json_from(DELETE_SQL, {"user_id": user_id, "task_id": task_id, "versions": None})
    return Response(status_code=204 if deleted.status_code == 200 else 404)
