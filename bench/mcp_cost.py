"""What one MCP `tools/call` costs the server next to the equivalent REST call, measured in one run.

Starts the service (1 worker) on a PostgreSQL (BENCH_DATABASE_URL, or an embedded one of its own) on
127.0.0.1, then sends the same operation both ways from a few keep-alive connections, in alternating
rounds so that drift hits both sides alike:

- list 20 tasks: `GET /api/{user}/tasks` vs `tools/call list_tasks`;
- create a task: `POST /api/{user}/tasks` vs `tools/call add_task`.

A `tools/call` is one HTTP POST here (stateless Streamable HTTP with JSON responses; an SDK client
sends `initialize` once, not per call). Server CPU per request is read from /proc (via psutil) for
the server process, as in bench/run.py. Bounded: BENCH_MCP_REQUESTS requests per side and
operation (default 1500), BENCH_MCP_CONCURRENCY connections (default 4).

    python bench/mcp_cost.py   # prints a Markdown table and writes bench/results/mcp.md
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import SECRET, cpu_seconds, database, server, service_env  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from todo_api.auth.dev_token import issue_token  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_MCP_REQUESTS", "1500"))
CONCURRENCY = int(os.environ.get("BENCH_MCP_CONCURRENCY", "4"))
ROUNDS = 3
TASKS_TO_LIST = 20
MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-11-25",  # what the SDK's client negotiates and then sends
}


@dataclass
class Side:
    """One way of doing an operation: its request, and what it cost."""

    label: str
    method: str
    path: str
    body: dict[str, Any] | None
    headers: dict[str, str]
    requests: int = 0
    failed: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds * 1000 / max(self.requests, 1)

    @property
    def rps(self) -> float:
        return self.requests / self.wall_seconds if self.wall_seconds else 0.0


def succeeded(side: Side, response: httpx.Response) -> bool:
    if not 200 <= response.status_code < 300:
        return False
    if side.path != "/mcp":
        return True
    reply = response.json()
    return "result" in reply and not reply["result"].get("isError", False)


async def run_side(http: httpx.AsyncClient, side: Side, count: int, pid: int) -> None:
    """Send `count` requests from CONCURRENCY connections; add what they cost to `side`."""
    remaining = count

    async def connection() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            response = await http.request(side.method, side.path, json=side.body, headers=side.headers)
            if not succeeded(side, response):
                side.failed += 1

    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONCURRENCY)))
    side.wall_seconds += time.perf_counter() - started
    side.cpu_seconds += cpu_seconds(pid) - cpu_before
    side.requests += count


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


async def measure(base_url: str, pid: int, run_id: str) -> list[tuple[str, Side, Side]]:
    """The two operations, REST and MCP each, against a running service (server process `pid`)."""
    lister, creator = f"bench-mcp-{run_id}-list", f"bench-mcp-{run_id}-create"
    headers = {
        u: {"Authorization": f"Bearer {issue_token(SECRET.encode(), u, 60)}"} for u in (lister, creator)
    }
    operations = [
        (
            f"list {TASKS_TO_LIST} tasks",
            Side("REST GET", "GET", f"/api/{lister}/tasks", None, headers[lister]),
            Side(
                "MCP list_tasks", "POST", "/mcp", tool_call("list_tasks", {}), headers[lister] | MCP_HEADERS
            ),
        ),
        (
            "create a task",
            Side("REST POST", "POST", f"/api/{creator}/tasks", {"title": "Buy milk"}, headers[creator]),
            Side(
                "MCP add_task",
                "POST",
                "/mcp",
                tool_call("add_task", {"title": "Buy milk"}),
                headers[creator] | MCP_HEADERS,
            ),
        ),
    ]
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as http:
        for n in range(TASKS_TO_LIST):
            created = await http.post(
                f"/api/{lister}/tasks", json={"title": f"Task {n}"}, headers=headers[lister]
            )
            created.raise_for_status()
        for _, rest, mcp in operations:
            for side in (rest, mcp):  # warm-up, not counted
                await run_side(http, side, 100, pid)
                side.requests = side.failed = 0
                side.cpu_seconds = side.wall_seconds = 0.0
            for _ in range(ROUNDS):
                for side in (rest, mcp):
                    await run_side(http, side, REQUESTS // ROUNDS, pid)
    return operations


def render(operations: list[tuple[str, Side, Side]]) -> str:
    lines = [
        f"MCP vs REST: 1 uvicorn worker, {CONCURRENCY} keep-alive connections, {REQUESTS // ROUNDS * ROUNDS}"
        f" requests per row in {ROUNDS} alternating rounds, {os.cpu_count()} CPUs shared by server,"
        " database and client.",
        "",
        "| operation | call | requests | failed | req/s | server CPU ms/req | vs REST |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, rest, mcp in operations:
        for side in (rest, mcp):
            ratio = side.cpu_ms / rest.cpu_ms if rest.cpu_ms else float("nan")
            lines.append(
                f"| {name} | {side.label} | {side.requests} | {side.failed} | {side.rps:,.0f} "
                f"| {side.cpu_ms:.3f} | {ratio:.2f}x |"
            )
    return "\n".join(lines)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop the service and database
    run_id = str(os.getpid())  # bench.run's database() removes `bench-...{pid}...` users afterwards
    port = free_port()
    with (
        database() as (url, _),
        server([sys.executable, "-m", "todo_api"], service_env(url, port), port, "/ready") as pid,
    ):
        operations = asyncio.run(measure(f"http://127.0.0.1:{port}", pid, run_id))
    report = render(operations)
    (ROOT / "bench" / "results" / "mcp.md").write_text(report + "\n")
    print(report)
    if any(side.failed for _, rest, mcp in operations for side in (rest, mcp)):
        raise SystemExit("some requests failed")


if __name__ == "__main__":
    main()
