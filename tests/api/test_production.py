"""Production on Neon: URLs as printed, the transaction pooler, dropped connections, outages, workers."""

import asyncio
import time

import httpx
import psycopg
import pytest
from sqlalchemy.engine import URL

from todo_api.db import Database, DatabaseUnavailable
from todo_api.storage.urls import libpq_dsn

from ..support.apps import make_settings, running_app
from ..support.auth import auth, new_user
from ..support.databases import drop_connections, tcp_url

pytestmark = pytest.mark.slow


# --- Probes ---------------------------------------------------------------------------------


async def test_health_needs_no_database_and_ready_needs_one(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).json() == {"status": "ready"}


async def test_unresponsive_database_fails_fast_with_503(database_url: URL) -> None:
    """A host that accepts connections and never answers: a bounded wait, then 503, not a hang."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(60)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    blackhole = URL.create("postgresql+psycopg", username="u", host="127.0.0.1", port=port, database="d")
    try:
        async with running_app(make_settings(database_connect_timeout=2), blackhole) as client:
            started = time.monotonic()
            response = await client.get("/ready")
            assert response.status_code == 503
            assert time.monotonic() - started < 4
            assert str(port) not in response.text
    finally:
        server.close()


# --- Scale-to-zero: connections dropped while idle ---------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
async def test_first_request_after_idle_drop_succeeds(fresh_database: URL, method: str) -> None:
    settings = make_settings(database_idle_check=0.2)
    async with running_app(settings, fresh_database) as client:
        user = new_user()
        headers = auth(user)
        task = (await client.post(f"/api/{user}/tasks", json={"title": "Before"}, headers=headers)).json()
        assert drop_connections(fresh_database) >= 1
        await asyncio.sleep(0.3)

        path = {"GET": "", "POST": "", "PUT": f"/{task['id']}", "PATCH": f"/{task['id']}/complete"}.get(
            method, f"/{task['id']}"
        )
        response = await client.request(
            method, f"/api/{user}/tasks{path}", json={"title": "After"}, headers=headers
        )
        assert response.status_code < 300, response.text


async def test_read_on_a_just_dropped_connection_is_retried(fresh_database: URL) -> None:
    settings = make_settings(database_idle_check=3600)  # no ping: the read itself meets the dead connection
    async with running_app(settings, fresh_database) as client:
        user = new_user()
        await client.post(f"/api/{user}/tasks", json={"title": "Still here"}, headers=auth(user))
        drop_connections(fresh_database)
        response = await client.get(f"/api/{user}/tasks", headers=auth(user))
        assert response.status_code == 200
        assert [t["title"] for t in response.json()] == ["Still here"]


async def test_statement_timeout_bounds_a_slow_query(database_url: URL) -> None:
    database = Database(database_url, make_settings(database_statement_timeout=0.5))
    await database.open()
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as raised:
            await database.execute("SELECT pg_sleep(5)")
        assert time.monotonic() - started < 3
        assert raised.value.kind == "timeout"  # answered as 503, not 500
    finally:
        await database.close()


# --- Connection strings as Neon prints them, against a real server ------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "sslmode=disable&channel_binding=disable",
        "sslmode=prefer&connect_timeout=3",
        "options=-c%20search_path%3Dpublic",
        "application_name=from-url&sslmode=allow",
    ],
)
async def test_urls_with_query_parameters_work_as_given(database_url: URL, query: str) -> None:
    base = tcp_url(database_url)
    raw = f"postgres://{base.username}:p%40ss%2Fw0rd@{base.host}:{base.port}/{base.database}?{query}"
    from todo_api.storage.urls import to_psycopg_url

    async with running_app(make_settings(), to_psycopg_url(raw, "NEON_DATABASE_URL")) as client:
        assert (await client.get("/ready")).status_code == 200


async def test_sslmode_require_is_never_dropped(database_url: URL) -> None:
    """The test server has no TLS: `sslmode=require` must refuse it, not fall back to plaintext."""
    base = tcp_url(database_url)
    with psycopg.connect(libpq_dsn(base)) as conn:
        ssl = conn.execute("SHOW ssl").fetchone()
    if ssl and ssl[0] == "on":
        pytest.skip("this PostgreSQL has TLS on")
    url = base.update_query_dict({"sslmode": "require", "channel_binding": "require"})
    async with running_app(make_settings(), url) as client:
        assert (await client.get("/ready")).status_code == 503


# --- PgBouncer in transaction mode (Neon's -pooler endpoint) -------------------------------------


# --- Stopping: no acknowledged write is lost ----------------------------------------------------
