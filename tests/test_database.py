"""The database side: migrations, the owner index, round trips, and failures (FR-016, FR-018)."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import URL

from todo_api.config import Settings
from todo_api.embedded_db import EmbeddedPostgres
from todo_api.errors import DATABASE_UNAVAILABLE, INTERNAL_ERROR

from .conftest import running_app
from .helpers import auth, new_user


def dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def test_migrations_run_once_when_many_processes_start_together(fresh_database: URL) -> None:
    env = os.environ | {"NEON_DATABASE_URL": dsn(fresh_database), "BETTER_AUTH_SECRET": "unused"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "todo_api.migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(6)
    ]
    outputs = [process.communicate(timeout=60)[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0] * 6, outputs
    assert sum("Running upgrade  -> 0001" in output for output in outputs) == 1

    with psycopg.connect(dsn(fresh_database)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]
        columns: dict[str, str] = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'tasks'"
            ).fetchall()
        )
    assert columns["id"] == "bigint"
    assert columns["created_at"] == "timestamp with time zone"


async def test_listing_a_users_tasks_uses_the_owner_index(app: FastAPI, database_url: URL) -> None:
    with psycopg.connect(dsn(database_url)) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")  # tiny tables: show the plan a big one gets
        plan = "\n".join(
            row[0]
            for row in conn.execute("EXPLAIN SELECT * FROM tasks WHERE user_id = 'u' ORDER BY id").fetchall()
        )
    assert "ix_tasks_user_id_id" in plan
    assert "Sort" not in plan  # the index already yields creation order


async def test_every_route_is_one_database_round_trip(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = new_user()
    headers = auth(user)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        calls = {}
        statements.clear()
        task = (await client.post(f"/api/{user}/tasks", json={"title": "T"}, headers=headers)).json()
        calls["create"] = len(statements)
        for name, method, path, body in [
            ("list", "GET", "", None),
            ("get", "GET", f"/{task['id']}", None),
            ("update", "PUT", f"/{task['id']}", {"title": "U"}),
            ("toggle", "PATCH", f"/{task['id']}/complete", None),
            ("delete", "DELETE", f"/{task['id']}", None),
        ]:
            statements.clear()
            response = await client.request(method, f"/api/{user}/tasks{path}", json=body, headers=headers)
            assert response.status_code < 300
            calls[name] = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert calls == dict.fromkeys(["create", "list", "get", "update", "toggle", "delete"], 1)
    # Autocommit: no BEGIN/COMMIT round trips around the statement.
    async with app.state.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert raw.driver_connection.autocommit is True


async def test_unexpected_database_error_is_generic_500(
    settings: Settings, fresh_database: URL, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(settings, fresh_database) as client:
        with psycopg.connect(dsn(fresh_database), autocommit=True) as conn:
            conn.execute("DROP TABLE tasks")
        user = new_user()
        response = await client.get(f"/api/{user}/tasks", headers=auth(user))

    assert response.status_code == 500
    assert response.json() == {"detail": INTERNAL_ERROR}
    assert "tasks" not in response.text
    assert any("UndefinedTable" in (r.exc_text or "") for r in caplog.records)  # the log has it all


async def test_database_outage_is_fast_503_then_recovers_by_itself(
    settings: Settings, tmp_path: Path
) -> None:
    """Stop a PostgreSQL this test owns mid-run, then start it again: no restart of the app."""
    server = EmbeddedPostgres(tmp_path)
    url = server.start()
    try:
        async with running_app(settings, url) as client:
            user = new_user()
            headers = auth(user)
            created = await client.post(f"/api/{user}/tasks", json={"title": "Survives"}, headers=headers)
            assert created.status_code == 201

            server.stop()
            for _ in range(3):
                started = time.monotonic()
                response = await client.get(f"/api/{user}/tasks", headers=headers)
                assert time.monotonic() - started < 3
                assert response.status_code == 503
                assert response.json() == {"detail": DATABASE_UNAVAILABLE}
                assert str(tmp_path) not in response.text
            write = await client.post(f"/api/{user}/tasks", json={"title": "Lost?"}, headers=headers)
            assert write.status_code == 503

            server.start()
            deadline = time.monotonic() + 10
            while (response := await client.get(f"/api/{user}/tasks", headers=headers)).status_code != 200:
                assert response.status_code == 503
                assert time.monotonic() < deadline, "did not recover"
                await asyncio.sleep(0.2)
            assert [t["title"] for t in response.json()] == ["Survives"]
    finally:
        server.stop()
