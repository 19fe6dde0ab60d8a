"""`make bench-servers`: the service under uvicorn (as `python -m todo_api` runs it) and under granian,
side by side on one database, in ABBA rounds of the steady mix at 50 and at 500 connections.

Both run the same app factory with one worker on uvloop, and both write an access log line per request.
Writes bench/results/servers.md.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    BUSY_CONNECTIONS,
    CONNECTIONS,
    DURATION,
    ROOT,
    ROUNDS,
    Result,
    combined,
    database,
    server,
    service_env,
    wrk,
)
from bench.seed import ORGANIZED, bench_users, remove_leftovers, seed
from tests.support.ports import free_port
from todo_api.config import DATABASE_URL_VARIABLE
from todo_api.observability.logs import logging_config

STEADY = "list=70,create=10,remove=10,get=10"


def granian(port: int, log_config: Path) -> list[str]:
    return [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--loop", "uvloop", "--access-log",
            "--log-config", str(log_config), "todo_api.main:app_from_environment"]  # fmt: skip


def main() -> None:
    rows = []
    with database() as (url, label), tempfile.TemporaryDirectory() as work, ExitStack() as stack:
        users_file, log_config = Path(work) / "users.txt", Path(work) / "logging.json"
        # The service's own logging, as a file: its factories named by their import paths.
        config = logging_config("info")
        for section in (config["formatters"], config["filters"]):
            for entry in section.values():
                entry["()"] = f"{entry['()'].__module__}.{entry['()'].__qualname__}"
        log_config.write_text(json.dumps(config))
        ports = {"uvicorn": free_port(), "granian": free_port()}
        env = service_env(url, ports["uvicorn"]) | {DATABASE_URL_VARIABLE: url.render_as_string(False)}
        commands = {
            "uvicorn": [sys.executable, "-m", "todo_api"],
            "granian": granian(ports["granian"], log_config),
        }
        pids = {
            name: stack.enter_context(server(command, env, ports[name], "/ready"))
            for name, command in commands.items()
        }
        prefix = f"bench-servers-{os.getpid()}"
        seed(f"http://127.0.0.1:{ports['uvicorn']}", bench_users(prefix, 50), 20, ORGANIZED, users_file)
        for name in pids:
            wrk(ports[name], STEADY, users_file, "3s", pids[name], "warm-up", fields="organized")
        for connections in (CONNECTIONS, BUSY_CONNECTIONS):
            rounds: dict[str, list[Result]] = {"uvicorn": [], "granian": []}
            print(f"steady mix, {connections} connections, {ROUNDS} x ABBA ...", flush=True)
            for name in ("uvicorn", "granian", "granian", "uvicorn") * ROUNDS:
                result = wrk(
                    ports[name], STEADY, users_file, DURATION, pids[name], name, connections, "organized"
                )
                rounds[name].append(result)
                remove_leftovers(url, prefix)
            rows += [
                _row(combined(rounds[name]), combined(rounds["uvicorn"]), connections) for name in rounds
            ]
    report = "\n".join([
        "# uvicorn and granian, side by side",
        "",
        f"The steady mix (organized tasks), {ROUNDS} ABBA rounds of {DURATION} per server and connection"
        f" count, 1 worker each on uvloop, both with an access log; database: {label}. Ratios: to uvicorn.",
        "",
        "| server | connections | req/s | p50 ms | p95 ms | p99 ms | errors | server CPU ms/req "
        "| CPU vs uvicorn | p99 vs uvicorn |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
    ])  # fmt: skip
    (ROOT / "bench" / "results" / "servers.md").write_text(report)
    print(report)


def _row(r: Result, uvicorn: Result, connections: int) -> str:
    cpu, p99 = r.cpu_ms_per_request, r.p99_ms
    return (
        f"| {r.name} | {connections} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {p99:.1f} "
        f"| {r.failed} | {cpu:.3f} | {cpu / uvicorn.cpu_ms_per_request:.2f}x | {p99 / uvicorn.p99_ms:.2f}x |"
    )


if __name__ == "__main__":
    main()
