"""Migrations 0004 and 0005 on a database that already holds tasks: defaults for the new fields, documents
re-rendered in batches after start-up, and nothing a client sees changes on the way."""

import asyncio

import psycopg
from sqlalchemy.engine import URL

from todo_api.storage.migrate import upgrade_to_head
from todo_api.storage.urls import libpq_dsn
from todo_api.tasks import backfill
from todo_api.tasks.queries import DOCUMENT_VERSION

from ..support.apps import make_settings, serving
from ..support.auth import auth


async def test_tasks_written_before_0004_get_the_defaults_and_keep_their_versions(
    fresh_database: URL,
) -> None:
    await upgrade_to_head(fresh_database, 5, revision="0003")
    with psycopg.connect(libpq_dsn(fresh_database), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tasks (user_id, title, completed) SELECT 'old', 'Task ' || g, g % 2 = 0"
            " FROM generate_series(1, 2500) g"
        )
        before = conn.execute("SELECT id, updated_at FROM tasks ORDER BY id").fetchall()

    async with serving(make_settings(), fresh_database) as (app, client):
        # Served at once, old rows rendered on the fly, whether or not the batches have reached them.
        listed = (await client.get("/api/old/tasks", params={"limit": "3"}, headers=auth("old"))).json()
        assert [(t["priority"], t["tags"], t["due_date"], t["time_zone"]) for t in listed] == [
            ("medium", [], None, "UTC")
        ] * 3
        # What start-up runs; rows another worker holds (the app's own backfill) are skipped, not waited for.
        stale = f"SELECT count(*) FROM tasks WHERE document_version < {DOCUMENT_VERSION}"
        for _ in range(100):
            await backfill.rerender_old_documents(app.state.database)
            if (await app.state.database.execute(stale))[0][0] == 0:
                break
            await asyncio.sleep(0.1)
        listed_after = (await client.get("/api/old/tasks", params={"limit": "3"}, headers=auth("old"))).json()
    assert listed_after == listed
    with psycopg.connect(libpq_dsn(fresh_database)) as conn:
        after = conn.execute("SELECT id, updated_at FROM tasks ORDER BY id").fetchall()
        versions = conn.execute("SELECT document_version, count(*) FROM tasks GROUP BY 1").fetchall()
        sample = conn.execute("SELECT document FROM tasks ORDER BY id LIMIT 1").fetchone()
    assert after == before  # no version (ETag) changed
    assert versions == [(DOCUMENT_VERSION, 2500)]
    assert sample is not None
    assert '"priority":"medium","tags":[]' in sample[0]


async def test_the_backfill_works_in_batches_and_stops_when_nothing_is_left(fresh_database: URL) -> None:
    await upgrade_to_head(fresh_database, 5, revision="0003")
    with psycopg.connect(libpq_dsn(fresh_database), autocommit=True) as conn:
        conn.execute("INSERT INTO tasks (user_id, title) SELECT 'u', 't' FROM generate_series(1, 2500)")
    await upgrade_to_head(fresh_database, 5)
    async with serving(make_settings(), fresh_database) as (app, _):
        rows = await app.state.database.execute(backfill.RERENDER_SQL)
        assert rows[0][0] in (0, backfill.BATCH_SIZE)  # one batch at most per statement
        await backfill.rerender_old_documents(app.state.database)
        assert (await app.state.database.execute(backfill.RERENDER_SQL))[0][0] == 0
