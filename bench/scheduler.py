"""What the reminder scheduler costs an idle instance with 1 000 000 reminders waiting in the future.

On a database of its own (a new one on BENCH_DATABASE_URL's server, or an embedded PostgreSQL):
BENCH_SCHEDULER_REMINDERS pending reminders (default 1 000 000, due from tomorrow on), then one
instance with the scheduler and one without, both idle, side by side for BENCH_SCHEDULER_SECONDS
(default 30). Reports each one's CPU as a share of one core, PostgreSQL's, and the plan of the claim
(EXPLAIN ANALYZE, in a transaction rolled back). Writes bench/results/scheduler.md.
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

from bench.harness import ROOT, cpu_seconds, database, postgres_cpu_seconds, server, service_env
from tests.support.ports import free_port
from todo_api.reminders.scheduler import FIRE_SQL
from todo_api.storage.migrate import upgrade_to_head
from todo_api.storage.urls import libpq_dsn

REMINDERS = int(os.environ.get("BENCH_SCHEDULER_REMINDERS", "1000000"))
SECONDS = float(os.environ.get("BENCH_SCHEDULER_SECONDS", "30"))


def seed(url: URL) -> None:
    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tasks (user_id, title, remind_at)"
            " SELECT 'user-' || (g %% 1000), 'Task ' || g, now() + interval '1 day' + g * interval '1 second'"
            " FROM generate_series(1, %s) g",
            (REMINDERS,),
        )
        conn.execute("VACUUM ANALYZE tasks")


def claim_plan(url: URL) -> list[str]:
    with psycopg.connect(libpq_dsn(url)) as conn:
        rows = conn.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + FIRE_SQL).fetchall()
        conn.rollback()
    return [str(row[0]) for row in rows]


def measure(url: URL) -> list[str]:
    on_port, off_port = free_port(), free_port()
    env = service_env(url, on_port)
    without = env | {"PORT": str(off_port), "REMINDERS_ENABLED": "false"}
    with (
        server([sys.executable, "-m", "todo_api"], env, on_port, "/ready") as on_pid,
        server([sys.executable, "-m", "todo_api"], without, off_port, "/ready") as off_pid,
    ):
        time.sleep(5)  # start-up done, the backfill found nothing to do
        before = {pid: cpu_seconds(pid) for pid in (on_pid, off_pid)} | {0: postgres_cpu_seconds()}
        started = time.monotonic()
        time.sleep(SECONDS)
        elapsed = time.monotonic() - started
        after = {pid: cpu_seconds(pid) for pid in (on_pid, off_pid)} | {0: postgres_cpu_seconds()}
    share = {key: (after[key] - before[key]) / elapsed for key in before}
    return [
        f"| instance with the scheduler (polling every second) | {share[on_pid]:.2%} |",
        f"| the same instance without it (REMINDERS_ENABLED=false) | {share[off_pid]:.2%} |",
        f"| the scheduler's own cost | {share[on_pid] - share[off_pid]:+.2%} |",
        f"| PostgreSQL, every process, meanwhile | {share[0]:.2%} |",
    ]


def main() -> None:
    with database(clean_up=False) as (server_url, label):
        name = f"todo_bench_scheduler_{uuid.uuid4().hex[:8]}"
        admin = libpq_dsn(server_url)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = server_url.set(database=name)
        try:
            asyncio.run(upgrade_to_head(url, 5))
            seed(url)
            lines, plan = measure(url), claim_plan(url)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    report = "\n".join([
        f"# The idle reminder scheduler, {REMINDERS:,} future reminders",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        f"Database: {label}; {SECONDS:.0f} s idle; CPU as a share of one core ({os.cpu_count()} here).",
        "",
        "| process | CPU |",
        "|---|---:|",
        *lines,
        "",
        "The claim's plan (EXPLAIN ANALYZE, nothing due):",
        "",
        "```",
        *plan,
        "```",
        "",
    ])  # fmt: skip
    (ROOT / "bench" / "results" / "scheduler.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
