"""The floor for any endpoint that reads PostgreSQL on this stack: FastAPI and one pooled psycopg
round trip, with no auth, no validation and no real query. Run beside the service in `make bench`."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from sqlalchemy.ext.asyncio import create_async_engine

from todo_api.config import to_psycopg_url

engine = create_async_engine(
    to_psycopg_url(os.environ["NEON_DATABASE_URL"], "NEON_DATABASE_URL"),
    isolation_level="AUTOCOMMIT",
    pool_size=25,
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/floor")
async def floor() -> Response:
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        row = await (await driver.execute("SELECT json_build_object('id', 1)::text")).fetchone()
    assert row is not None
    return Response(row[0], media_type="application/json")
