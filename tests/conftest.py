"""Fixtures: a real PostgreSQL (TEST_DATABASE_URL, or an embedded server) and the real app."""

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg import sql
from sqlalchemy.engine import URL

from todo_api.config import Settings, libpq_dsn, to_psycopg_url
from todo_api.embedded_db import EmbeddedPostgres
from todo_api.main import create_app

from .helpers import SECRET

FRONTEND = "http://localhost:3000"


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"better_auth_secret": SECRET, "better_auth_url": FRONTEND, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """TEST_DATABASE_URL when set (CI: the machine's PostgreSQL); otherwise an embedded server."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield to_psycopg_url(url, "TEST_DATABASE_URL")
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("embedded"))
    try:
        yield embedded.start()
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return make_settings()


@asynccontextmanager
async def lifespan_in_its_own_task(application: FastAPI) -> AsyncIterator[None]:
    """Run the app's lifespan in one task, start to end, as a server does.

    A fixture's setup and teardown run in different tasks, and the MCP SDK's task group (entered in
    the lifespan) must be left in the task that entered it.
    """
    stop = asyncio.Event()
    started = asyncio.Event()

    async def serve() -> None:
        async with application.router.lifespan_context(application):
            started.set()
            await stop.wait()

    task, waiter = asyncio.create_task(serve()), asyncio.create_task(started.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()  # start-up failed: raise its error here
    try:
        yield
    finally:
        stop.set()
        await task


@pytest.fixture(scope="session")
async def app(settings: Settings, database_url: URL) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database_url)
    async with lifespan_in_its_own_task(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@contextmanager
def new_database(database_url: URL, prefix: str = "todo_test") -> Iterator[URL]:
    """A new, empty database on the test server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = libpq_dsn(database_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_url.set(database=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def fresh_database(database_url: URL) -> Iterator[URL]:
    with new_database(database_url) as url:
        yield url


@asynccontextmanager
async def serving(settings: Settings, url: URL) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A second app on its own database, with its lifespan running, and a client for it."""
    application = create_app(settings, url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield application, http


@asynccontextmanager
async def running_app(settings: Settings, url: URL) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings, url) as (_, http):
        yield http


def drop_connections(url: URL) -> int:
    """What Neon does on a suspend, a compute restart or a PgBouncer restart: the server closes
    every session of ours, and we wait until they are gone (one the pool was opening meanwhile is
    terminated too). The number of terminations."""
    ours = "datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'todo-api'"
    terminated = 0
    deadline = time.monotonic() + 10
    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        while True:
            row = conn.execute(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {ours}")
            count = int(row.fetchone()[0])  # type: ignore[index]
            if count == 0:
                return terminated
            terminated += count
            assert time.monotonic() < deadline, "connections were not terminated"
            time.sleep(0.05)
