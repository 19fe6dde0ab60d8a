"""One user with many tasks: the unpaged list, and each filter's first and next page with the index its
plan reads (EXPLAIN of the very statement the service runs, on the seeded table)."""

from __future__ import annotations

import os
import re
import time
from urllib.parse import parse_qsl, urlsplit

import httpx
import psutil
import psycopg
from sqlalchemy.engine import URL

from bench.harness import SECRET
from bench.seed import insert_tasks
from todo_api.auth.dev_token import issue_token
from todo_api.storage.urls import libpq_dsn
from todo_api.tasks.queries import list_params, list_sql
from todo_api.web.listing import parse_list_parameters

# The filters of the organize issue, each as a frontend would page through it.
FILTERED_PAGES = [
    ("first page of 50", {"limit": "50"}),
    ("page of 50, sort=-updated_at", {"limit": "50", "sort": "-updated_at"}),
    ("tag=work", {"tag": "work", "limit": "50"}),
    ("overdue=true", {"overdue": "true", "limit": "50"}),
    ("sort=due_date", {"sort": "due_date", "limit": "50"}),
    ("priority=urgent", {"priority": "urgent", "limit": "50"}),
    ("search q=milk", {"q": "milk", "limit": "50"}),
]
_INDEX = re.compile(r"(?:Index(?: Only)? Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)")


def _timed_get(
    http: httpx.Client, url: str, params: dict[str, str] | None, headers: dict[str, str]
) -> tuple[httpx.Response, float]:
    """The last response, and the median time of 5 requests, in ms."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        response = http.get(url, params=params, headers=headers)
        times.append(time.perf_counter() - started)
    return response, sorted(times)[2] * 1000


def _user(prefix: str) -> tuple[str, dict[str, str]]:
    user = f"{prefix}-{os.getpid()}"
    return user, {"Authorization": f"Bearer {issue_token(SECRET.encode(), user, minutes=60)}"}


def large_user_case(base_url: str, database: URL, pid: int) -> list[str]:
    """One user with 10 000 tasks: time and memory to list them all, and one page."""
    user, headers = _user("bench-big")
    insert_tasks(database, user, 10_000)
    rows = []
    with httpx.Client(base_url=base_url, timeout=60) as http:
        for label, params in [("all 10 000", {}), ("first page of 50", {"limit": "50"})]:
            rss_before = psutil.Process(pid).memory_info().rss
            response, ms = _timed_get(http, f"/api/{user}/tasks", params, headers)
            rss_after = psutil.Process(pid).memory_info().rss
            kib, rss_mib = len(response.content) / 1024, (rss_after - rss_before) / 2**20
            rows.append(
                f"| {label} | {response.status_code} | {len(response.json())} | {kib:.0f} KiB "
                f"| {ms:.1f} ms | {rss_mib:+.1f} MiB |"
            )
    return rows


def plan_of(conn: psycopg.Connection[tuple[object, ...]], user: str, params: dict[str, str]) -> str:
    """The indexes the statement for these list parameters reads, or a warning naming a Seq Scan."""
    query = parse_list_parameters(params)
    assert query is not None
    lines = [str(row[0]) for row in conn.execute("EXPLAIN " + list_sql(query), list_params(user, query))]
    plan = "\n".join(lines)
    indexes = ", ".join(dict.fromkeys(_INDEX.findall(plan))) or "none"
    return f"SEQ SCAN ({indexes})" if "Seq Scan" in plan else indexes


def hundred_thousand_case(base_url: str, database: URL) -> list[str]:
    """One user with 100 000 tasks: each filter's first page and the cursor's next, and a deep offset."""
    user, headers = _user("bench-huge")
    insert_tasks(database, user, 100_000)
    rows = []
    with httpx.Client(base_url=base_url, timeout=60) as http, psycopg.connect(libpq_dsn(database)) as conn:
        for label, params in FILTERED_PAGES:
            response, ms = _timed_get(http, f"/api/{user}/tasks", params, headers)
            rows.append(_row(label, response, ms, plan_of(conn, user, params)))
            link = response.headers.get("link")
            if link is not None:
                url = link[1:].split(">")[0]
                following = dict(parse_qsl(urlsplit(url).query))
                response, ms = _timed_get(http, urlsplit(url).path, following, headers)
                rows.append(
                    _row(f"{label}: next page (cursor)", response, ms, plan_of(conn, user, following))
                )
        deep = {"limit": "50", "offset": "99900"}
        response, ms = _timed_get(http, f"/api/{user}/tasks", deep, headers)
        rows.append(_row("page of 50 at offset 99 900", response, ms, plan_of(conn, user, deep)))
    return rows


def _row(label: str, response: httpx.Response, ms: float, indexes: str) -> str:
    return (
        f"| {label} | {response.status_code} | {len(response.json())} of {response.headers['x-total-count']} "
        f"| {ms:.1f} ms | {indexes} |"
    )
