"""What every benchmark here runs on: a database, server processes, wrk, and CPU read from /proc."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from sqlalchemy.engine import URL

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.launcher import launch  # noqa: E402
from todo_api.storage.embedded import EmbeddedPostgres  # noqa: E402
from todo_api.storage.urls import libpq_dsn, to_psycopg_url  # noqa: E402

SECRET = "benchmark-secret-0123456789-abcdefghijklmnop"
CONNECTIONS, BUSY_CONNECTIONS, THREADS = 50, 500, 2
DURATION = os.environ.get("BENCH_DURATION", "10s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))  # ABBA rounds of the paired scenarios


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


def combined(rounds: list[Result]) -> Result:
    """Rounds of one scenario as one row: totals for counts and CPU, the median round's percentiles."""

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    requests = sum(r.requests for r in rounds)
    return Result(
        name=rounds[0].name,
        requests=requests,
        seconds=sum(r.seconds for r in rounds),
        p50_ms=median([r.p50_ms for r in rounds]),
        p95_ms=median([r.p95_ms for r in rounds]),
        p99_ms=median([r.p99_ms for r in rounds]),
        failed=sum(r.failed for r in rounds),
        cpu_ms_per_request=sum(r.cpu_ms_per_request * r.requests for r in rounds) / max(requests, 1),
        postgres_cpu_ms_per_request=sum(r.postgres_cpu_ms_per_request * r.requests for r in rounds)
        / max(requests, 1),
        connections=rounds[0].connections,
    )


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


# The checkout whose service is measured: this one, or (to compare with an earlier commit in the
# same run of the same bench) a `git worktree` of it.
SERVICE_ROOT = Path(os.environ.get("BENCH_SERVICE_ROOT", ROOT)).resolve()


def service_env(database: URL, port: int, **extra: str) -> dict[str, str]:
    """The environment `python -m todo_api` gets here: one worker on `database`, at `port`."""
    return os.environ | {
        "BETTER_AUTH_SECRET": SECRET,
        "NEON_DATABASE_URL": libpq_dsn(database),
        "PORT": str(port),
        "WORKERS": "1",
        "PYTHONPATH": str(ROOT),
        "RATE_LIMIT": "1000000000/minute",  # the limiter runs (its cost is measured), never refuses
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),  # as in production
        **extra,
    }


@contextmanager
def server(args: list[str], env: dict[str, str], port: int, ready_path: str) -> Iterator[int]:
    """A server process (the suite's launcher), ready at `ready_path`; its pid. SIGTERM at the end.
    The service itself (`-m todo_api`) runs from SERVICE_ROOT."""
    cwd = SERVICE_ROOT if args[1:] == ["-m", "todo_api"] else ROOT
    env = env | {"PYTHONPATH": str(cwd)}
    with launch(args, env, port, ready_path=ready_path, cwd=cwd, stop_signal=signal.SIGTERM) as running:
        yield running.process.pid


def same_flags(app: str, port: int) -> list[str]:
    """uvicorn serving `app` with the service's own flags: the reference apps run under these."""
    code = (
        "import uvicorn; from todo_api.observability.logs import logging_config; "
        f"uvicorn.run('{app}', host='127.0.0.1', port={port}, "
        "log_config=logging_config('info'), proxy_headers=False, server_header=False)"
    )
    return [sys.executable, "-c", code]


def wrk(
    port: int,
    mix: str,
    users_file: Path,
    duration: str,
    pid: int,
    name: str,
    connections: int = CONNECTIONS,
    fields: str = "plain",
    prefix: str = "/api/",
) -> Result:
    """One wrk run of the weighted `mix` (bench/load.lua), with the server's and PostgreSQL's CPU."""
    env = os.environ | {"BENCH_USERS": str(users_file), "BENCH_MIX": mix, "BENCH_FIELDS": fields}
    env |= {"BENCH_PREFIX": prefix}
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


@contextmanager
def database(*, clean_up: bool = True) -> Iterator[tuple[URL, str]]:
    """BENCH_DATABASE_URL (this run's users removed afterwards, unless `clean_up` is false), or an
    embedded PostgreSQL of its own."""
    if url := os.environ.get("BENCH_DATABASE_URL"):
        given = to_psycopg_url(url, "BENCH_DATABASE_URL")
        try:
            yield given, "BENCH_DATABASE_URL"
        finally:
            if clean_up:
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

    with psycopg.connect(libpq_dsn(database), autocommit=True) as conn:
        conn.execute("DELETE FROM tasks WHERE user_id LIKE %s", (f"bench-%{os.getpid()}%",))
