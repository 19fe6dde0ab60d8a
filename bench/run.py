"""`make bench`: load the real service with wrk and report ratios measured in one run.

Starts the service (1 worker) on a PostgreSQL (BENCH_DATABASE_URL, or an embedded one of its own),
seeds 50 users x 20 tasks that carry a priority, two tags and a due date (and 50 users with plain
tasks), and runs beside it, under the same server flags, the floor for any database-backed endpoint
on this stack (bench/floor.py: FastAPI + psycopg_pool + one trivial query) and a bare FastAPI
"hello". The goals' scenarios (the steady mix with HS256 tokens, with Better Auth's EdDSA tokens,
and at 500 connections) alternate with the floor in ABBA rounds, so that whatever the shared
machine does during the run weighs on both alike; the other scenarios run once, against those
floor rounds. wrk drives each (50 connections, or 500; bounded in time). Server CPU per request
comes from /proc (via psutil) for the server's process tree, PostgreSQL's from its processes.
Writes a Markdown table to bench/results/.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import timeit
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL

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
    same_flags,
    server,
    service_env,
    wrk,
)
from bench.report import render, scenario_table
from bench.scale import hundred_thousand_case, large_user_case
from bench.seed import (
    ORGANIZED,
    PLAIN,
    BenchUser,
    average_list_length,
    bench_users,
    create_tasks,
    remove_leftovers,
    seed,
    write_users,
)
from tests.support.jwks import EdDSAKeys, jwks_server
from tests.support.ports import free_port
from todo_api.observability.metrics import RequestMetrics

USERS, TASKS_PER_USER, SPARE_PER_USER = 50, 20, 60
STEADY = "list=70,create=10,remove=10,get=10"
GROWING = "list=70,create=20,get=10"  # the old mix: no deletes, so lists grow with throughput


@dataclass(frozen=True)
class Scenario:
    name: str
    mix: str
    target: str = "api"  # or "floor", "hello": the reference apps
    connections: int = CONNECTIONS
    users: str = "organized"  # whose tokens and tasks: "organized", "plain" or "eddsa" (organized)
    prefix: str = "/api/"  # "/floor/": the floor app's copies of the task routes


# The goals' scenarios: each alternates with the floor at its connection count.
PAIRED = [
    Scenario("steady 70/10/10/10 (tasks with priority, 2 tags, due date)", STEADY),
    Scenario("steady, Better Auth EdDSA tokens (JWKS) instead of HS256", STEADY, users="eddsa"),
    Scenario(f"steady, {BUSY_CONNECTIONS} connections (busy pool)", STEADY, connections=BUSY_CONNECTIONS),
]
SINGLE = [
    # What the steady mix costs on this stack before any of the service's own work: its statements alone.
    Scenario("steady mix's statements alone, on the floor app", STEADY, "floor", prefix="/floor/"),
    Scenario("hello: FastAPI, no database", "hello=1", "hello"),
    Scenario("steady, plain tasks (title and description only)", STEADY, users="plain"),
    Scenario("list only", "list=1"),
    # Right after "list only", so the lists are as long: the same statement without the service's work.
    Scenario("list statement alone, on the floor app", "floorlist=1", "floor"),
    Scenario("get one only", "get=1"),
    Scenario("full CRUD", "list=40,create=15,get=15,update=10,toggle=10,delete=10"),
    Scenario("extra: the old growing mix 70/20/10 (lists grow)", GROWING),
]
# Features whose cost is measured on twin instances: the environment variable that turns each off.
TWINS = {"metrics": "METRICS_ENABLED", "MCP": "MCP_ENABLED", "rate limits": "RATE_LIMITS_ENABLED"}
ISSUER = "http://localhost:3000"  # the service's default BETTER_AUTH_URL: the EdDSA tokens' iss and aud


@dataclass
class Run:
    """The servers of a run, and the users' files by kind."""

    base_url: str
    database: URL
    targets: dict[str, tuple[int, int]]  # "api", "floor", "hello" -> (port, pid)
    users: dict[str, tuple[list[BenchUser], Path]]
    list_lengths: dict[str, float] = field(default_factory=dict)  # each api scenario's, after its run


def main() -> None:
    # Stopped early (Ctrl-C, SIGTERM): unwind, so the servers and the database started here stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    only = os.environ.get("BENCH_ONLY")  # "metrics", "MCP", "rate limits": only that cost; or "steady"
    if only is not None and only not in {*TWINS, "steady"}:
        raise SystemExit(f"bench: BENCH_ONLY must be one of {', '.join(TWINS)}, steady")
    signer = EdDSAKeys(ISSUER)
    kid = signer.new_key()
    with (
        database() as (url, database_label),
        tempfile.TemporaryDirectory() as work,
        jwks_server(signer) as jwks,
    ):
        api_port, hello_port, floor_port = free_port(), free_port(), free_port()
        env = service_env(url, api_port, BETTER_AUTH_URL=ISSUER, BETTER_AUTH_JWKS_URL=jwks)
        with (
            server([sys.executable, "-m", "todo_api"], env, api_port, "/ready") as api_pid,
            server(same_flags("bench.hello:app", hello_port), env, hello_port, "/hello") as hello_pid,
            server(same_flags("bench.floor:app", floor_port), env, floor_port, "/floor") as floor_pid,
        ):
            targets = {
                "api": (api_port, api_pid),
                "hello": (hello_port, hello_pid),
                "floor": (floor_port, floor_pid),
            }
            base_url = f"http://127.0.0.1:{api_port}"
            run = Run(base_url, url, targets, seed_users(base_url, Path(work), signer, kid))
            warm_up(run)
            results = scenarios(run, only)
            list_lengths = run.list_lengths
            if only == "steady":
                print("\n".join(scenario_table(results, list_lengths)))
                return
            costs = feature_costs([only] if only else list(TWINS), run.users["organized"][1], env)
            if only:
                print("\n".join(costs))
                return
            print("one user with 10 000 tasks, then one with 100 000 ...", flush=True)
            large = large_user_case(run.base_url, url, api_pid)
            huge = hundred_thousand_case(run.base_url, url)
    report = render(results, list_lengths, large, huge, database_label, costs)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"{stamp}.md").write_text(report)
    (out / "latest.md").write_text(report)
    print(report)


def seed_users(
    base_url: str, work: Path, signer: EdDSAKeys, kid: str
) -> dict[str, tuple[list[BenchUser], Path]]:
    """50 users with plain tasks, 50 with organized ones, and those again with EdDSA tokens."""
    print(f"seeding {USERS} + {USERS} users x {TASKS_PER_USER} tasks ...", flush=True)
    users = {}
    for kind, body in (("plain", PLAIN), ("organized", ORGANIZED)):
        people = bench_users(f"bench-{kind}-{os.getpid()}", USERS)
        seed(base_url, people, TASKS_PER_USER, body, work / f"{kind}.txt")
        users[kind] = (people, work / f"{kind}.txt")
    # The same users and tasks, with tokens as Better Auth's jwt plugin signs them.
    eddsa = [
        BenchUser(u.user_id, signer.token(u.user_id, kid, 3 * 3600), u.tasks) for u in users["organized"][0]
    ]
    write_users(eddsa, work / "eddsa.txt")
    users["eddsa"] = (eddsa, work / "eddsa.txt")
    return users


def warm_up(run: Run) -> None:
    plain_file = run.users["plain"][1]
    for target, mix in (("hello", "hello=1"), ("floor", "floor=1"), ("api", "list=1")):
        port, pid = run.targets[target]
        wrk(port, mix, plain_file, "3s", pid, "warm-up")
    port, pid = run.targets["api"]
    wrk(port, STEADY, run.users["eddsa"][1], "3s", pid, "warm-up", fields="organized")


def scenarios(run: Run, only: str | None) -> list[Result]:
    """The paired scenarios (each row after its floor), then the single ones (unless `only`)."""
    results: list[Result] = []
    for scenario in PAIRED if only in (None, "steady") else []:
        rounds: dict[str, list[Result]] = {"floor": [], "api": []}
        floor = Scenario(
            f"floor, {scenario.connections} connections, alternating with the next row",
            "floor=1",
            "floor",
            scenario.connections,
        )
        print(f"running {scenario.name} and the floor, {ROUNDS} x ABBA, {DURATION} each ...", flush=True)
        for kind in ("floor", "api", "api", "floor") * ROUNDS:
            rounds[kind].append(measure(run, floor if kind == "floor" else scenario))
        results += [combined(rounds["floor"]), combined(rounds["api"])]
    for scenario in SINGLE if only is None else []:
        print(f"running {scenario.name} for {DURATION} ...", flush=True)
        results.append(measure(run, scenario))
    return results


def measure(run: Run, scenario: Scenario) -> Result:
    port, pid = run.targets[scenario.target]
    users, users_file = run.users[scenario.users]
    if "delete" in scenario.mix:  # tasks for the full-CRUD deletes, each removed exactly once
        spares = asyncio.run(create_tasks(run.base_url, users, SPARE_PER_USER, PLAIN))
        for user, ids in zip(users, spares, strict=True):
            user.spare = ids
        write_users(users, users_file)
    fields = "plain" if scenario.users == "plain" else "organized"
    result = wrk(
        port,
        scenario.mix,
        users_file,
        DURATION,
        pid,
        scenario.name,
        scenario.connections,
        fields,
        scenario.prefix,
    )
    if scenario.target == "api" or scenario.prefix == "/floor/":
        run.list_lengths[scenario.name] = average_list_length(run.base_url, users_file)
        remove_leftovers(run.database, users[0].user_id.rsplit("-", 1)[0])
    return result


def feature_costs(features: list[str], users_file: Path, env: dict[str, str]) -> list[str]:
    costs = []
    for feature in features:
        print(f"running steady with {feature} on and off, alternating ...", flush=True)
        rows, off_cpu_ms = twin_cost(feature, users_file, env)
        costs += rows
        if feature == "metrics":  # the same cost, free of the noise between two processes
            costs += recording_cost(off_cpu_ms)
    return costs


def twin_cost(feature: str, users_file: Path, env: dict[str, str]) -> tuple[list[str], float]:
    """Server CPU per request of the steady mix on two fresh, identical instances, one with the
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
            wrk(port, STEADY, users_file, "3s", pid, "warm-up", fields="organized")
        a, b = (off, off_port, off_pid), (on, on_port, on_pid)
        # ABBA order: whatever drifts during the run (the machine, the tables) weighs on both alike.
        for label, port, pid in (a, b, b, a, a, b, b, a):
            result = wrk(port, STEADY, users_file, DURATION, pid, label, fields="organized")
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
    """All that metrics add to a request, timed alone: `RequestMetrics.record` (a counter and a
    histogram), as rows for the twins' table, also as a share of `request_cpu_ms`."""
    metrics = RequestMetrics()
    record = lambda: metrics.record("GET", "/api/{user_id}/tasks", 200, 0.012)  # noqa: E731
    best = min(timeit.repeat(record, number=calls, repeat=5))
    ms = best / calls * 1000
    return [
        f"| recording one request's metrics, timed alone | | {ms:.4f} | |",
        f"| that, as a share of a request | | {ms / request_cpu_ms:+.2%} | |",
    ]


if __name__ == "__main__":
    main()
