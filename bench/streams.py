"""What 1 000 open event streams cost one worker: the REST steady mix with and without them, in one run.

One instance (1 worker) on a PostgreSQL (BENCH_DATABASE_URL, or an embedded one), 50 users x 20 tasks
as in bench/run.py. The steady mix runs four times, ABBA: without streams, with 1 000 streams open,
again with, again without. Of the streams, 100 are two tabs of each of the 50 users that wrk writes
for (they receive every event of the mix), and 900 are idle tabs of other users. Reports the mix's
p95, throughput and server CPU per request with and without, each stream's memory (the server's RSS
before and after opening them), and how long each task's event took to reach its streams under the
load (from the task's `updated_at` to its arrival). Writes bench/results/streams.md.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import DURATION, ROOT, SECRET, Result, database, server, service_env, wrk
from bench.run import STEADY
from bench.seed import PLAIN, bench_users, seed
from tests.support.ports import free_port
from todo_api.auth.dev_token import issue_token

STREAMS, USERS, TASKS_PER_USER = 1000, 50, 20
ACTIVE_TABS = int(os.environ.get("BENCH_STREAMS_ACTIVE_TABS", "2"))
# A task's event, and the time it was written (the data is the task's REST JSON).
STAMP = re.compile(rb'event: task\.\w+\ndata: .*?"updated_at": ?"([^"]+)"')


class OpenStreams:
    """`STREAMS` event streams held open by a thread of their own while the block runs; each task
    event's delay from its `updated_at`, in seconds, is kept in `delays`."""

    def __init__(self, port: int, tabs: list[tuple[str, str]]) -> None:
        self._port, self._tabs = port, tabs
        self.delays: list[float] = []
        self._opened = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._hold()), daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def __enter__(self) -> OpenStreams:
        self._thread.start()
        if not self._opened.wait(120):
            raise RuntimeError("the streams did not open")
        return self

    def __exit__(self, *_: object) -> None:
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    async def _hold(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        opened = await asyncio.gather(*(self._open(user, token) for user, token in self._tabs))
        readers = [asyncio.create_task(self._read(reader)) for reader, _ in opened]
        self._opened.set()
        await self._stop.wait()
        for task in readers:
            task.cancel()
        for _, writer in opened:
            writer.close()

    async def _open(self, user: str, token: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self._port)
        writer.write(
            f"GET /api/{user}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"a stream did not open: {head[:80]!r}")
        return reader, writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        """A raw reader (no HTTP client's parsing): the bench's own CPU stays small."""
        pending = b""
        while chunk := await reader.read(65536):
            arrived = time.time()
            pending += chunk
            *messages, pending = pending.split(b"\n\n")
            for message in messages:
                if found := STAMP.search(message):
                    self.delays.append(arrived - datetime.fromisoformat(found.group(1).decode()).timestamp())


def tabs(users: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Two tabs of each user the mix writes for, and idle tabs of other users up to `STREAMS`."""
    active = [user for user in users for _ in range(ACTIVE_TABS)]
    idle_ids = [f"bench-idle-{n:03d}" for n in range(STREAMS - len(active))]
    return active + [(user, issue_token(SECRET.encode(), user, 180)) for user in idle_ids]


def measured(port: int, pid: int, users_file: Path, label: str) -> tuple[Result, float]:
    """One run of the mix, and the share of a core this process (the streams' readers) used meanwhile."""
    own = psutil.Process()
    before, started = sum(own.cpu_times()[:2]), time.monotonic()
    result = wrk(port, STEADY, users_file, DURATION, pid, label)
    return result, (sum(own.cpu_times()[:2]) - before) / (time.monotonic() - started)


def measure(port: int, pid: int, users_file: Path, streams: list[tuple[str, str]]) -> list[str]:
    rounds: dict[str, list[tuple[Result, float]]] = {
        "without streams": [],
        f"with {STREAMS} streams open": [],
    }
    without, with_streams = rounds
    process = psutil.Process(pid)
    rounds[without].append(measured(port, pid, users_file, without))
    idle_rss = process.memory_info().rss
    with OpenStreams(port, streams) as open_streams:
        time.sleep(2)
        per_stream = (process.memory_info().rss - idle_rss) / STREAMS
        for _ in range(2):
            rounds[with_streams].append(measured(port, pid, users_file, with_streams))
        delays = sorted(open_streams.delays)
    rounds[without].append(measured(port, pid, users_file, without))
    return report(rounds, per_stream, delays)


def report(
    rounds: dict[str, list[tuple[Result, float]]], per_stream: float, delays: list[float]
) -> list[str]:
    rows, p95 = [], {}
    for label, runs in rounds.items():
        results = [result for result, _ in runs]
        requests = sum(r.requests for r in results)
        p95[label] = sum(r.p95_ms for r in results) / len(results)
        rps = requests / sum(r.seconds for r in results)
        cpu = sum(r.cpu_ms_per_request * r.requests for r in results) / requests
        postgres = sum(r.postgres_cpu_ms_per_request * r.requests for r in results) / requests
        readers = 100 * sum(share for _, share in runs) / len(runs)
        errors = sum(r.failed for r in results)
        each = ", ".join(f"{r.p95_ms:.1f}" for r in results)
        rows.append(
            f"| {label} | {rps:,.0f} | {p95[label]:.1f} ({each}) | {cpu:.3f} | {postgres:.3f}"
            f" | {readers:.0f} % | {errors} |"
        )
    without, with_streams = p95.values()
    quantile = delays[int(len(delays) * 0.99)] if delays else float("nan")
    return [
        "| steady mix (mean of two runs each, ABBA) | req/s | p95 ms | server CPU ms/req"
        " | PostgreSQL CPU ms/req | stream readers' CPU (bench process) | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"- p95 with the streams open / without: **{with_streams / without:.2f}x**",
        f"- memory per open stream (server RSS): **{per_stream / 1024:.1f} KiB**",
        f"- task events delivered to the streams under the mix: {len(delays):,}; from the task's"
        f" `updated_at` to its arrival: median {delays[len(delays) // 2] if delays else 0:.3f} s,"
        f" **p99 {quantile:.3f} s**, max {delays[-1] if delays else 0:.3f} s",
    ]


def main() -> None:
    with database() as (url, label), tempfile.TemporaryDirectory() as work:
        port = free_port()
        with server([sys.executable, "-m", "todo_api"], service_env(url, port), port, "/ready") as pid:
            users_file = Path(work) / "users.txt"
            users = bench_users(f"bench-streams-{os.getpid()}", USERS)
            seed(f"http://127.0.0.1:{port}", users, TASKS_PER_USER, PLAIN, users_file)
            wrk(port, STEADY, users_file, "3s", pid, "warm-up")
            lines = measure(port, pid, users_file, tabs([(u.user_id, u.token) for u in users]))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([f"# {STREAMS} open event streams on one worker, {stamp}", "",
                      f"Database: {label}; wrk {DURATION} per run.", "", *lines, ""])  # fmt: skip
    (ROOT / "bench" / "results" / "streams.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
