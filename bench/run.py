"""`make bench`: load the real service with wrk and report ratios measured in one run.

Starts the service (1 worker) on a PostgreSQL (BENCH_DATABASE_URL, or an embedded one of its own),
seeds 50 users x 20 tasks, drives each scenario with wrk (50 connections, or 500 for the busy-pool
scenario; bounded in time), and runs beside it, under the same server flags, the floor for any
database-backed endpoint on this stack (bench/floor.py: FastAPI + psycopg_pool + one trivial query)
and a bare FastAPI "hello". Every ratio is to the floor, measured in the same run. Server CPU per
request comes from /proc (via psutil) for the server's process tree, PostgreSQL's from its processes.
Writes a Markdown table to bench/results/.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import psutil
from sqlalchemy.engine import URL

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.launcher import launch  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from todo_api.auth.dev_token import issue_token  # noqa: E402
from todo_api.observability.metrics import TelemetryMiddleware  # noqa: E402
from todo_api.storage.embedded import EmbeddedPostgres  # noqa: E402
from todo_api.storage.urls import libpq_dsn, to_psycopg_url  # noqa: E402

SECRET = "benchmark-secret-0123456789-abcdefghijklmnop"
USERS, TASKS_PER_USER, SPARE_PER_USER = 50, 20, 60
CONNECTIONS, BUSY_CONNECTIONS, THREADS = 50, 500, 2
DURATION = os.environ.get("BENCH_DURATION", "10s")
MIXED = "list=70,create=20,get=10"


@dataclass(frozen=True)
class Scenario:
    name: str
    mix: str
    target: str = "api"  # or "floor", "hello": the reference apps
    connections: int = CONNECTIONS


SCENARIOS = [
    Scenario("floor: FastAPI + psycopg_pool + 1 query", "floor=1", "floor"),
    Scenario("hello: FastAPI, no database", "hello=1", "hello"),
    Scenario("mixed 70/20/10", MIXED),
    # The busy pool right after the 50-connection mix, on lists as long: a queue, not list length.
    Scenario(f"floor, {BUSY_CONNECTIONS} connections", "floor=1", "floor", BUSY_CONNECTIONS),
    Scenario(f"mixed, {BUSY_CONNECTIONS} connections (busy pool)", MIXED, connections=BUSY_CONNECTIONS),
    Scenario("list only", "list=1"),
    # Right after "list only", so the lists are as long: the same statement without the service's work.
    Scenario("list statement alone, on the floor app", "floorlist=1", "floor"),
    Scenario("create only", "create=1"),
    Scenario("get one only", "get=1"),
    Scenario("full CRUD", "list=40,create=15,get=15,update=10,toggle=10,delete=10"),
]
# Features whose cost is measured on twin instances: the environment variable that turns each off.
TWINS = {"metrics": "METRICS_ENABLED", "MCP": "MCP_ENABLED"}


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failed: int  # non-2xx responses plus socket errors
    cpu_ms_per_request: float
    postgres_cpu_ms_per_request: float
    connections: int = CONNECTIONS

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def cpu_seconds(pid: int) -> float:
    process = psutil.Process(pid)
    total = 0.0
    for proc in [process, *process.children(recursive=True)]:
        with_times = proc.cpu_times()
        total += with_times.user + with_times.system
    return total


def postgres_cpu_seconds() -> float:
    """CPU of every PostgreSQL process on the machine (the embedded one, or the server in
    BENCH_DATABASE_URL when it runs here): it shares the two cores with the service."""
    total = 0.0
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "postgres":
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue  # a backend that ended meanwhile
            total += times.user + times.system
    return total


def service_env(database: URL, port: int) -> dict[str, str]:
    """The environment `python -m todo_api` gets here: one worker on `database`, at `port`."""
    return os.environ | {
        "BETTER_AUTH_SECRET": SECRET,
        "NEON_DATABASE_URL": libpq_dsn(database),
        "PORT": str(port),
        "WORKERS": "1",
        "PYTHONPATH": str(ROOT),
    }


@contextmanager
def server(args: list[str], env: dict[str, str], port: int, ready_path: str) -> Iterator[int]:
    """A server process (the suite's launcher), ready at `ready_path`; its pid. SIGTERM at the end."""
    with launch(args, env, port, ready_path=ready_path, stop_signal=signal.SIGTERM) as running:
        yield running.process.pid


def wrk(
    port: int, mix: str, users_file: Path, duration: str, pid: int, name: str, connections: int = CONNECTIONS
) -> Result:
    env = os.environ | {"BENCH_USERS": str(users_file), "BENCH_MIX": mix}
    # A request that waits longer than 10 s counts as an error (the service's own deadline is 16 s).
    command = ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{duration}", "--timeout", "10s",
               "-s", str(ROOT / "bench" / "load.lua"), f"http://127.0.0.1:{port}"]  # fmt: skip
    before, postgres_before = cpu_seconds(pid), postgres_cpu_seconds()
    output = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    cpu, postgres_cpu = cpu_seconds(pid) - before, postgres_cpu_seconds() - postgres_before
    match = re.search(r"^RESULT (.*)$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    data = json.loads(match.group(1))
    not_ok = sum(n for status, n in data["statuses"].items() if not 200 <= int(status) < 300)
    return Result(
        name=name,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        failed=not_ok + data["errors"],
        cpu_ms_per_request=cpu * 1000 / max(data["requests"], 1),
        postgres_cpu_ms_per_request=postgres_cpu * 1000 / max(data["requests"], 1),
        connections=connections,
    )


@dataclass
class BenchUser:
    user_id: str
    token: str
    tasks: list[str]
    spare: list[str]  # only ever deleted, by the full-CRUD mix


def write_users(users: list[BenchUser], users_file: Path) -> None:
    users_file.write_text(
        "".join(f"{u.user_id} {u.token} {','.join(u.tasks)} {','.join(u.spare)}\n" for u in users)
    )


async def create_tasks(base_url: str, users: list[BenchUser], count: int) -> list[list[str]]:
    """`count` new tasks for each user, over the API; their ids, per user."""
    async with httpx.AsyncClient(
        base_url=base_url, timeout=30, limits=httpx.Limits(max_connections=20)
    ) as http:

        async def for_user(user: BenchUser) -> list[str]:
            headers = {"Authorization": f"Bearer {user.token}"}
            ids = []
            for i in range(count):
                response = await http.post(
                    f"/api/{user.user_id}/tasks", json={"title": f"Task {i}"}, headers=headers
                )
                response.raise_for_status()
                ids.append(str(response.json()["id"]))
            return ids

        return await asyncio.gather(*(for_user(user) for user in users))


def _insert_tasks(database: URL, user: str, count: int) -> None:
    """`count` tasks for one user straight in SQL (every 100th mentions milk), then VACUUM ANALYZE
    as autovacuum soon would, so counts are index-only as in a settled database."""
    import psycopg

    with psycopg.connect(libpq_dsn(database), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tasks (user_id, title, description) SELECT %s, 'Task ' || g,"
            " CASE WHEN g %% 100 = 0 THEN 'buy milk' END FROM generate_series(1, %s) g",
            (user, count),
        )
        conn.execute("VACUUM ANALYZE tasks")


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


def large_user_case(base_url: str, database: URL, pid: int) -> list[str]:
    """One user with 10 000 tasks: time and memory to list them all, and one page."""
    user = f"bench-big-{os.getpid()}"
    headers = {"Authorization": f"Bearer {issue_token(SECRET.encode(), user, minutes=60)}"}
    _insert_tasks(database, user, 10_000)
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


def hundred_thousand_case(base_url: str, database: URL) -> list[str]:
    """One user with 100 000 tasks: keyset pages vs a deep offset, and search."""
    user = f"bench-huge-{os.getpid()}"
    headers = {"Authorization": f"Bearer {issue_token(SECRET.encode(), user, minutes=60)}"}
    _insert_tasks(database, user, 100_000)
    rows = []
    with httpx.Client(base_url=base_url, timeout=60) as http:
        first = http.get(f"/api/{user}/tasks", params={"limit": "50"}, headers=headers)
        next_url = first.headers["link"].split(">")[0][1:]
        pages: list[tuple[str, str, dict[str, str] | None]] = [
            ("first page of 50", f"/api/{user}/tasks", {"limit": "50"}),
            ("next page (cursor)", next_url, None),
            ("page of 50, sort=-updated_at", f"/api/{user}/tasks", {"limit": "50", "sort": "-updated_at"}),
            ("page of 50 at offset 99 900", f"/api/{user}/tasks", {"limit": "50", "offset": "99900"}),
            ("search q=milk, page of 50", f"/api/{user}/tasks", {"limit": "50", "q": "milk"}),
        ]
        for label, url, params in pages:
            response, ms = _timed_get(http, url, params, headers)
            rows.append(
                f"| {label} | {response.status_code} | {len(response.json())} of "
                f"{response.headers['x-total-count']} | {ms:.1f} ms |"
            )
    return rows


@contextmanager
def database() -> Iterator[tuple[URL, str]]:
    if url := os.environ.get("BENCH_DATABASE_URL"):
        given = to_psycopg_url(url, "BENCH_DATABASE_URL")
        try:
            yield given, "BENCH_DATABASE_URL"
        finally:
            _remove_bench_tasks(given)
        return
    folder = Path(tempfile.mkdtemp(prefix="todo-bench-"))
    embedded = EmbeddedPostgres(folder)
    try:
        yield embedded.start(), "embedded PostgreSQL (unix socket)"
    finally:
        embedded.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _remove_bench_tasks(database: URL) -> None:
    """Leave a shared database as we found it: every user this run made has our pid in its id."""
    import psycopg

    dsn = libpq_dsn(database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM tasks WHERE user_id LIKE %s", (f"bench-%{os.getpid()}%",))


def average_list_length(base_url: str, users_file: Path) -> float:
    lengths = []
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for line in users_file.read_text().splitlines():
            user, token = line.split()[:2]
            lengths.append(
                len(http.get(f"/api/{user}/tasks", headers={"Authorization": f"Bearer {token}"}).json())
            )
    return sum(lengths) / len(lengths)


def main() -> None:
    # Stopped early (Ctrl-C, SIGTERM): unwind, so the servers and the database started here stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed (Debian: apt-get install wrk)")
    only = os.environ.get("BENCH_ONLY")  # "metrics" or "MCP": only that feature's cost
    if only is not None and only not in TWINS:
        raise SystemExit(f"bench: BENCH_ONLY must be one of {', '.join(TWINS)}")
    twins = [only] if only else list(TWINS)
    results: list[Result] = []
    list_lengths: dict[str, float] = {}
    with database() as (url, database_label), tempfile.TemporaryDirectory() as work:
        users_file = Path(work) / "users.txt"
        api_port, hello_port = free_port(), free_port()
        env = service_env(url, api_port)
        floor_port = free_port()

        def same_flags(app: str, port: int) -> list[str]:
            code = (
                "import uvicorn; from todo_api.observability.logs import logging_config; "
                f"uvicorn.run('{app}', host='127.0.0.1', port={port}, "
                "log_config=logging_config('info'), proxy_headers=False, server_header=False)"
            )
            return [sys.executable, "-c", code]

        with (
            server([sys.executable, "-m", "todo_api"], env, api_port, "/ready") as api_pid,
            server(same_flags("bench.hello:app", hello_port), env, hello_port, "/hello") as hello_pid,
            server(same_flags("bench.floor:app", floor_port), env, floor_port, "/floor") as floor_pid,
        ):
            base_url = f"http://127.0.0.1:{api_port}"
            print(f"seeding {USERS} users x {TASKS_PER_USER} tasks ...", flush=True)
            users = [BenchUser(f"bench-{os.getpid()}-{n:02d}", "", [], []) for n in range(USERS)]
            for user in users:
                user.token = issue_token(SECRET.encode(), user.user_id, minutes=120)
            for user, ids in zip(
                users, asyncio.run(create_tasks(base_url, users, TASKS_PER_USER)), strict=True
            ):
                user.tasks = ids
            write_users(users, users_file)
            wrk(hello_port, "hello=1", users_file, "3s", hello_pid, "warm-up")
            wrk(floor_port, "floor=1", users_file, "3s", floor_pid, "warm-up")
            wrk(api_port, "list=1", users_file, "3s", api_pid, "warm-up")
            targets = {
                "api": (api_port, api_pid),
                "hello": (hello_port, hello_pid),
                "floor": (floor_port, floor_pid),
            }
            for scenario in [] if only else SCENARIOS:
                port, pid = targets[scenario.target]
                if "delete" in scenario.mix:  # tasks for the deletes to remove, each exactly once
                    spares = asyncio.run(create_tasks(base_url, users, SPARE_PER_USER))
                    for user, ids in zip(users, spares, strict=True):
                        user.spare = ids
                    write_users(users, users_file)
                print(f"running {scenario.name} for {DURATION} ...", flush=True)
                results.append(
                    wrk(port, scenario.mix, users_file, DURATION, pid, scenario.name, scenario.connections)
                )
                if scenario.target == "api":
                    list_lengths[scenario.name] = average_list_length(base_url, users_file)
            costs = []
            for feature in twins:
                print(f"running mixed with {feature} on and off, alternating ...", flush=True)
                rows, off_cpu_ms = twin_cost(feature, users_file, env)
                costs += rows
                if feature == "metrics":  # the same cost, free of the noise between two processes
                    costs += recording_cost(off_cpu_ms)
            if only:
                print("\n".join(costs))
                return
            large = large_user_case(base_url, url, api_pid)
            huge = hundred_thousand_case(base_url, url)
    report = render(results, list_lengths, large, huge, database_label, costs)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"{stamp}.md").write_text(report)
    (out / "latest.md").write_text(report)
    print(report)


def twin_cost(feature: str, users_file: Path, env: dict[str, str]) -> tuple[list[str], float]:
    """Server CPU per request of the mixed workload on two fresh, identical instances, one with the
    feature turned off, in alternating rounds: the only difference between them is the feature.
    The table rows, and the CPU ms per request with the feature off."""
    on, off = f"{feature} on", f"{feature} off"
    totals = {on: [0, 0.0, 0], off: [0, 0.0, 0]}  # requests, CPU ms, errors
    on_port, off_port = free_port(), free_port()
    with (
        server([sys.executable, "-m", "todo_api"], env | {"PORT": str(on_port)}, on_port, "/ready") as on_pid,
        server(
            [sys.executable, "-m", "todo_api"],
            env | {"PORT": str(off_port), TWINS[feature]: "false"},
            off_port,
            "/ready",
        ) as off_pid,
    ):
        for port, pid in ((on_port, on_pid), (off_port, off_pid)):
            wrk(port, MIXED, users_file, "3s", pid, "warm-up")
        a, b = (off, off_port, off_pid), (on, on_port, on_pid)
        # ABBA order: the lists grow with every round (20 % creates), so each side gets the same
        # average list length; a plain alternation would always hand "on" the longer lists.
        for label, port, pid in (a, b, b, a, a, b, b, a):
            result = wrk(port, MIXED, users_file, DURATION, pid, label)
            total = totals[label]
            total[0] += result.requests
            total[1] += result.cpu_ms_per_request * result.requests
            total[2] += result.failed
    per_request = {label: cpu / max(requests, 1) for label, (requests, cpu, _) in totals.items()}
    rows = [
        f"| {label} | {int(requests):,} | {per_request[label]:.3f} | {int(errors)} |"
        for label, (requests, _, errors) in totals.items()
    ]
    added = per_request[on] / per_request[off] - 1
    return [*rows, f"| cost of {feature} | | {added:+.1%} | |"], per_request[off]


def recording_cost(request_cpu_ms: float, calls: int = 200_000) -> list[str]:
    """All that metrics add to a request, timed alone: TelemetryMiddleware's `_record` (a counter
    and a histogram), as rows for the twins' table, also as a share of `request_cpu_ms`."""
    middleware = TelemetryMiddleware(lambda *_: None, metrics=True)  # type: ignore[arg-type]
    scope = {"method": "GET", "route": SimpleNamespace(path="/api/{user_id}/tasks")}
    best = min(timeit.repeat(lambda: middleware._record(scope, 200, 0.012), number=calls, repeat=5))
    ms = best / calls * 1000
    return [
        f"| recording one request's metrics, timed alone | | {ms:.4f} | |",
        f"| that, as a share of a request | | {ms / request_cpu_ms:+.2%} | |",
    ]


def render(
    results: list[Result],
    list_lengths: dict[str, float],
    large: list[str],
    huge: list[str],
    database_label: str,
    costs: list[str],
) -> str:
    # Each row against the floor run with as many connections, in the same run.
    floors = {r.connections: r for r in results if r.name.startswith("floor")}
    lines = [
        f"# Benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"1 uvicorn worker, wrk -t{THREADS} -c{CONNECTIONS} (or -c{BUSY_CONNECTIONS} where the scenario "
        f"says so) -d{DURATION}, {USERS} users rotating bearer tokens, database: {database_label}, "
        f"{os.cpu_count()} CPUs shared by server, database and wrk. Ratios are to the floor with the same "
        "connection count, measured in the same run. PostgreSQL CPU counts every postgres process here.",
        "",
        "| scenario | req/s | vs floor | p50 ms | p95 ms | p99 ms | p95 vs floor | p99 vs floor | errors "
        "| server CPU ms/req | CPU vs floor | PostgreSQL CPU ms/req | avg list length after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
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
    lines += [
        "",
        "One user with 10 000 tasks (median of 5 requests; memory is the server's RSS change):",
        "",
        "| request | status | tasks | body | time | RSS change |",
        "|---|---:|---:|---:|---:|---:|",
        *large,
        "",
        "One user with 100 000 tasks (median of 5 requests, each with its X-Total-Count):",
        "",
        "| request | status | tasks | time |",
        "|---|---:|---:|---:|",
        *huge,
        "",
        "Metrics and MCP, each on and off: the mixed workload on two fresh instances of the service, one",
        "with METRICS_ENABLED=false (or MCP_ENABLED=false), in ABBA order (off on on off, twice): growing",
        "lists weigh on both alike.",
        "",
        "| instance | requests | server CPU ms/req | errors |",
        "|---|---:|---:|---:|",
        *costs,
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
