"""The Markdown report of a `make bench` run: every row against the floor measured in the same run."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from bench.harness import BUSY_CONNECTIONS, CONNECTIONS, DURATION, ROUNDS, THREADS, Result

_HEADER = (
    "| scenario | req/s | vs floor | p50 ms | p95 ms | p99 ms | p95 vs floor | p99 vs floor | errors "
    "| server CPU ms/req | CPU vs floor | PostgreSQL CPU ms/req | avg list length after |"
)


def scenario_table(results: list[Result], list_lengths: dict[str, float]) -> list[str]:
    # Each row against the latest floor row above it with as many connections: a paired row against
    # the floor rounds it alternated with.
    floors: dict[int, Result] = {}
    lines = [_HEADER, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if r.name.startswith("floor"):
            floors[r.connections] = r
        reference = floors[r.connections]
        length = list_lengths.get(r.name)
        cells = [
            r.name,
            f"{r.rps:,.0f}",
            f"{r.rps / reference.rps:.2f}x",
            f"{r.p50_ms:.1f}",
            f"{r.p95_ms:.1f}",
            f"{r.p99_ms:.1f}",
            f"{r.p95_ms / reference.p95_ms:.1f}x",
            f"{r.p99_ms / reference.p99_ms:.1f}x",
            str(r.failed),
            f"{r.cpu_ms_per_request:.3f}",
            f"{r.cpu_ms_per_request / reference.cpu_ms_per_request:.2f}x",
            f"{r.postgres_cpu_ms_per_request:.3f}",
            "" if length is None else f"{length:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render(
    results: list[Result],
    list_lengths: dict[str, float],
    large: list[str],
    huge: list[str],
    database_label: str,
    costs: list[str],
) -> str:
    lines = [
        f"# Benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"1 uvicorn worker, wrk -t{THREADS} -c{CONNECTIONS} (or -c{BUSY_CONNECTIONS} where the scenario "
        f"says so) -d{DURATION}, 50 users rotating bearer tokens, database: {database_label}, "
        f"{os.cpu_count()} CPUs shared by server, database and wrk. Ratios are to the floor with the same "
        "connection count, measured in the same run. PostgreSQL CPU counts every postgres process here.",
        "The steady mix is 70 % list, 10 % create, 10 % delete of a task created earlier in the run, 10 %"
        " get one: lists keep their seeded 20 tasks, each with a priority, two tags and a due date in a"
        " time zone (creates send them too). The growing mix (no deletes) is the old one, an extra.",
        f"Each steady row of the goals follows the floor it alternated with in {ROUNDS} ABBA rounds (floor,"
        " service, service, floor) of the same length: counts and CPU are the rounds' totals, percentiles"
        " the median round's. The rows after them ran once, against the floor rounds above them.",
        "",
        *scenario_table(results, list_lengths),
        "",
        "One user with 10 000 tasks (median of 5 requests; memory is the server's RSS change):",
        "",
        "| request | status | tasks | body | time | RSS change |",
        "|---|---:|---:|---:|---:|---:|",
        *large,
        "",
        "One user with 100 000 tasks (median of 5 requests, each with its X-Total-Count), and the indexes",
        "the plan of that very statement reads (EXPLAIN on the seeded table; a sequential scan says so):",
        "",
        "| request | status | tasks | time | indexes in the plan |",
        "|---|---:|---:|---:|---|",
        *huge,
        "",
        "Metrics, MCP and rate limits, each on and off: the steady mix on two fresh instances of the",
        "service, one with METRICS_ENABLED=false (or MCP_ENABLED, RATE_LIMITS_ENABLED), in ABBA order.",
        "",
        "| instance | requests | server CPU ms/req | errors |",
        "|---|---:|---:|---:|",
        *costs,
        "",
    ]
    return "\n".join(lines)
