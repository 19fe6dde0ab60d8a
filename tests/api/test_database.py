"""The database side: migrations, the owner index, round trips, and failures (FR-016, FR-018)."""

from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg.pq import Trace
from sqlalchemy.engine import URL

from todo_api.config import Settings
from todo_api.main import create_app
from todo_api.storage.urls import libpq_dsn
from todo_api.web.errors import INTERNAL_ERROR

from ..support.apps import FRONTEND, make_settings, running_app
from ..support.auth import auth, new_user


async def test_listing_a_users_tasks_uses_the_owner_index(app: FastAPI, database_url: URL) -> None:
    with psycopg.connect(libpq_dsn(database_url)) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")  # tiny tables: show the plan a big one gets
        plan = "\n".join(
            row[0]
            for row in conn.execute("EXPLAIN SELECT * FROM tasks WHERE user_id = 'u' ORDER BY id").fetchall()
        )
    assert "ix_tasks_user_id_id" in plan
    assert "Sort" not in plan  # the index already yields creation order


async def test_every_route_is_one_database_round_trip(database_url: URL, tmp_path: Path) -> None:
    """Counted on the wire: libpq's protocol trace shows one Sync (one round trip) per request."""
    app = create_app(make_settings(database_pool_size=1, database_max_overflow=0), database_url)
    trace_file = (tmp_path / "libpq.trace").open("w+")
    async with app.router.lifespan_context(app):
        # The pool's only connection: traced from now on.
        async with app.state.database.pool.connection() as conn:
            conn.pgconn.trace(trace_file.fileno())
            conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            user = new_user()
            headers = auth(user)
            base = f"/api/{user}/tasks"
            task = (await client.post(base, json={"title": "T"}, headers=headers)).json()
            requests = {
                "create": ("POST", "", {"title": "T"}),
                "list": ("GET", "", None),
                "get": ("GET", f"/{task['id']}", None),
                "update": ("PUT", f"/{task['id']}", {"title": "U"}),
                "toggle": ("PATCH", f"/{task['id']}/complete", None),
            }

            def round_trips() -> int:
                trace_file.seek(0)
                lines = trace_file.read().splitlines()
                trace_file.seek(0)
                trace_file.truncate()
                return sum(line.split("\t")[:3:2] in (["F", "Sync"], ["F", "Query"]) for line in lines)

            counts = {}
            for name, (method, path, body) in requests.items():
                for _ in range(8):  # psycopg prepares a statement on its 6th use: count after that
                    response = await client.request(method, base + path, json=body, headers=headers)
                    assert response.status_code < 300
                round_trips()
                await client.request(method, base + path, json=body, headers=headers)
                counts[name] = round_trips()
            await client.delete(f"{base}/{task['id']}", headers=headers)
            counts["delete"] = round_trips()
    trace_file.close()
    assert counts == dict.fromkeys(requests.keys() | {"delete"}, 1)


async def test_unexpected_database_error_is_generic_500(
    settings: Settings, fresh_database: URL, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(settings, fresh_database) as client:
        with psycopg.connect(libpq_dsn(fresh_database), autocommit=True) as conn:
            conn.execute("DROP TABLE tasks CASCADE")
        user = new_user()
        response = await client.get(f"/api/{user}/tasks", headers=auth(user) | {"Origin": FRONTEND})

    assert response.status_code == 500
    assert response.json() == {"detail": INTERNAL_ERROR, "request_id": response.headers["x-request-id"]}
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert "tasks" not in response.text
    assert any("UndefinedTable" in (r.exc_text or "") for r in caplog.records)  # the log has it all


async def test_stored_documents_follow_every_write_made_outside_the_api(
    client: httpx.AsyncClient, database_url: URL
) -> None:
    """The trigger renders a row's JSON on any write, so even SQL run by hand (a data fix, an
    older instance during a rolling deploy) never leaves a stale document behind."""
    user = new_user()
    headers = auth(user)
    task = (await client.post(f"/api/{user}/tasks", json={"title": "Before"}, headers=headers)).json()
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as conn:
        conn.execute(
            "UPDATE tasks SET title = 'Fixed by hand', completed = true WHERE id = %s", (task["id"],)
        )
        conn.execute("INSERT INTO tasks (user_id, title) VALUES (%s, 'Inserted by hand')", (user,))
    listed = (await client.get(f"/api/{user}/tasks", headers=headers)).json()
    assert [(t["title"], t["completed"]) for t in listed] == [
        ("Fixed by hand", True),
        ("Inserted by hand", False),
    ]
    fetched = await client.get(f"/api/{user}/tasks/{task['id']}", headers=headers)
    assert fetched.json() == listed[0]
