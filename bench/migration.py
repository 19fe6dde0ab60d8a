"""`make bench-migration`: migration 0004 on a table of 1 000 000 tasks, and the batched re-rendering.

On a database of its own (a new one on BENCH_DATABASE_URL's server, or an embedded PostgreSQL):
migrate to 0003, insert BENCH_MIGRATION_TASKS tasks (default 1 000 000) for 1 000 users, VACUUM
ANALYZE, then time `upgrade` to head (what start-up runs) and the re-rendering of the old documents
(what every instance runs after start-up, in batches of 1 000, one transaction each). While the
re-rendering runs, a reader keeps listing one user's tasks: its slowest list is reported, since the
point of the batches is that no request waits long. Writes bench/results/migration.md.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, database
from tests.support.apps import make_settings
from todo_api.db import Database
from todo_api.storage.migrate import upgrade_to_head
from todo_api.storage.urls import libpq_dsn
from todo_api.tasks.backfill import rerender_old_documents
from todo_api.tasks.queries import ListQuery
from todo_api.tasks.repository import TaskRepository

TASKS = int(os.environ.get("BENCH_MIGRATION_TASKS", "1000000"))
USERS = 1000


def timed(label: str, started: float, lines: list[str]) -> float:
    seconds = time.monotonic() - started
    lines.append(f"| {label} | {seconds:.1f} s |")
    print(lines[-1], flush=True)
    return seconds


async def rerender_while_reading(database: Database) -> tuple[int, float, int]:
    """Re-render everything while one reader lists a user's first page; (tasks, slowest list ms, lists)."""
    repository, slowest, reads = TaskRepository(database), 0.0, 0
    rerender = asyncio.create_task(rerender_old_documents(database))
    while not rerender.done():
        started = time.perf_counter()
        await repository.page("user-1", ListQuery(limit=50))
        slowest, reads = max(slowest, time.perf_counter() - started), reads + 1
        await asyncio.sleep(0.05)
    return await rerender, slowest * 1000, reads


async def measure(url: URL) -> list[str]:
    lines: list[str] = []
    await upgrade_to_head(url, 5, revision="0003")
    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        started = time.monotonic()
        conn.execute(
            "INSERT INTO tasks (user_id, title, description, completed)"
            " SELECT 'user-' || (g %% %s), 'Task ' || g, 'seeded', g %% 3 = 0 FROM generate_series(1, %s) g",
            (USERS, TASKS),
        )
        conn.execute("VACUUM ANALYZE tasks")
        timed(f"seeding {TASKS:,} tasks at revision 0003 (not the migration)", started, lines)
    started = time.monotonic()
    await upgrade_to_head(url, 5)
    timed(
        "migration 0003 -> 0004 (new columns, functions, 5 indexes): the service is ready after this",
        started,
        lines,
    )
    database = Database(url, make_settings())
    await database.open()
    try:
        started = time.monotonic()
        done, slowest_ms, reads = await rerender_while_reading(database)
        timed(f"re-rendering {done:,} old documents, 1 000 per transaction, after start-up", started, lines)
        lines.append(f"| slowest of {reads} lists of 50 read meanwhile | {slowest_ms:.0f} ms |")
    finally:
        await database.close()
    return lines


def main() -> None:
    with database(clean_up=False) as (server_url, label):  # a database of its own, dropped
        name = f"todo_bench_migration_{uuid.uuid4().hex[:8]}"
        admin = libpq_dsn(server_url)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            lines = asyncio.run(measure(server_url.set(database=name)))
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    report = "\n".join([
        f"# Migration 0004 on {TASKS:,} tasks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Database: {label}, {os.cpu_count()} CPUs shared with this script.",
        "",
        "| step | time |",
        "|---|---:|",
        *lines,
        "",
    ])  # fmt: skip
    (ROOT / "bench" / "results" / "migration.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
