"""The benchmark's users and tasks: made over the API for the load runs, straight in SQL for the big ones."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import URL

from bench.harness import SECRET
from todo_api.auth.dev_token import issue_token
from todo_api.storage.urls import libpq_dsn

PLAIN = {"title": "Task", "description": "seeded"}
# What the organize issue's frontends send: a priority, two tags, a due date in a zone.
ORGANIZED = PLAIN | {"priority": "high", "tags": ["work", "bench"], "due_date": "2026-12-24T17:00",
                     "time_zone": "Europe/Berlin"}  # fmt: skip


@dataclass
class BenchUser:
    user_id: str
    token: str
    tasks: list[str] = field(default_factory=list)
    spare: list[str] = field(default_factory=list)  # only ever deleted, by the full-CRUD mix


def bench_users(prefix: str, count: int) -> list[BenchUser]:
    """`count` users whose ids carry this process's id (so a shared database can be cleaned)."""
    return [
        BenchUser(f"{prefix}-{n:02d}", issue_token(SECRET.encode(), f"{prefix}-{n:02d}", 180))
        for n in range(count)
    ]


def write_users(users: list[BenchUser], users_file: Path) -> None:
    users_file.write_text(
        "".join(f"{u.user_id} {u.token} {','.join(u.tasks)} {','.join(u.spare)}\n" for u in users)
    )


async def create_tasks(
    base_url: str, users: list[BenchUser], count: int, body: dict[str, Any]
) -> list[list[str]]:
    """`count` new tasks for each user, over the API; their ids, per user."""
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as http:

        async def for_user(user: BenchUser) -> list[str]:
            headers = {"Authorization": f"Bearer {user.token}"}
            ids = []
            for i in range(count):
                response = await http.post(
                    f"/api/{user.user_id}/tasks", json=body | {"title": f"Task {i}"}, headers=headers
                )
                response.raise_for_status()
                ids.append(str(response.json()["id"]))
            return ids

        return await asyncio.gather(*(for_user(user) for user in users))


def seed(base_url: str, users: list[BenchUser], count: int, body: dict[str, Any], users_file: Path) -> None:
    for user, ids in zip(users, asyncio.run(create_tasks(base_url, users, count, body)), strict=True):
        user.tasks = ids
    write_users(users, users_file)


def insert_tasks(database: URL, user: str, count: int) -> None:
    """`count` organized tasks for one user straight in SQL, then VACUUM ANALYZE as autovacuum soon
    would. Every 100th mentions milk; priorities cycle; a tenth carry `work`; due dates spread over a
    year around now, one in eight due before now (overdue unless done), one in five without."""
    import psycopg

    with psycopg.connect(libpq_dsn(database), autocommit=True) as conn:
        conn.execute(
            """INSERT INTO tasks (user_id, title, description, completed, priority, tags, due_at, due_day,
                                  overdue_at)
            SELECT %(user)s, 'Task ' || g, CASE WHEN g %% 100 = 0 THEN 'buy milk' END, g %% 7 = 0, g %% 4,
                   CASE WHEN g %% 10 = 0 THEN ARRAY['work', 'bench'] ELSE ARRAY['home', 'bench'] END,
                   due, due::date, due
            FROM generate_series(1, %(count)s) g,
                 LATERAL (SELECT CASE WHEN g %% 5 = 0 THEN NULL
                                      WHEN g %% 8 = 0 THEN now() - g * interval '1 minute'
                                      ELSE now() + (g %% 365) * interval '1 day' END AS due) d""",
            {"user": user, "count": count},
        )
        conn.execute("VACUUM ANALYZE tasks")


WRK_TITLE = "Benchmark task"  # what bench/load.lua's creates are called


def remove_leftovers(database: URL, prefix: str) -> None:
    """Delete what a wrk run created and did not delete: its last creates, still queued for a
    delete when the run ended. Lists then start every run at their seeded length."""
    import psycopg

    with psycopg.connect(libpq_dsn(database), autocommit=True) as conn:
        conn.execute("DELETE FROM tasks WHERE user_id LIKE %s AND title = %s", (f"{prefix}%", WRK_TITLE))


def average_list_length(base_url: str, users_file: Path) -> float:
    lengths = []
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for line in users_file.read_text().splitlines():
            user, token = line.split()[:2]
            lengths.append(
                len(http.get(f"/api/{user}/tasks", headers={"Authorization": f"Bearer {token}"}).json())
            )
    return sum(lengths) / len(lengths)
