"""The database side: migrations, the owner index, round trips, and failures (FR-016, FR-018)."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL

from todo_api.config import Settings
from todo_api.storage.embedded import EmbeddedPostgres
from todo_api.storage.urls import libpq_dsn
from todo_api.web.errors import DATABASE_UNAVAILABLE

from ..support.apps import FRONTEND, running_app
from ..support.auth import auth, new_user
from ..support.databases import migration_steps


def test_migrations_run_once_when_many_processes_start_together(fresh_database: URL) -> None:
    env = os.environ | {"NEON_DATABASE_URL": libpq_dsn(fresh_database), "BETTER_AUTH_SECRET": "unused"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "todo_api.cli.migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(6)
    ]
    outputs = [process.communicate(timeout=60)[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0] * 6, outputs
    steps = migration_steps()
    for before, after in steps:
        assert sum(f"Running upgrade {before} -> {after}" in output for output in outputs) == 1

    with psycopg.connect(libpq_dsn(fresh_database)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(steps[-1][1],)]
        columns: dict[str, str] = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'tasks'"
            ).fetchall()
        )
    assert columns["id"] == "bigint"
    assert columns["created_at"] == "timestamp with time zone"


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
                assert response.json()["detail"] == DATABASE_UNAVAILABLE
                assert str(tmp_path) not in response.text
            write = await client.post(f"/api/{user}/tasks", json={"title": "Lost?"}, headers=headers)
            assert write.status_code == 503
            # A browser must be able to read the 503 too.
            from_browser = await client.get(f"/api/{user}/tasks", headers=headers | {"Origin": FRONTEND})
            assert from_browser.status_code == 503
            assert from_browser.headers["access-control-allow-origin"] == FRONTEND
            assert "retry-after" in from_browser.headers["access-control-expose-headers"].lower()

            server.start()
            deadline = time.monotonic() + 10
            while (response := await client.get(f"/api/{user}/tasks", headers=headers)).status_code != 200:
                assert response.status_code == 503
                assert time.monotonic() < deadline, "did not recover"
                await asyncio.sleep(0.2)
            assert [t["title"] for t in response.json()] == ["Survives"]
    finally:
        server.stop()
