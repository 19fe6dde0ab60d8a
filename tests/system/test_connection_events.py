"""Neon's bad day: every connection dropped at once, a restart under load, a frozen server, a full pool.

Each test runs the real app (ASGI) on a real PostgreSQL: a fresh database on the test server, or
an embedded server of the test's own where the test stops, restarts or freezes it.
"""

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy.engine import URL

from todo_api.storage.embedded import EmbeddedPostgres
from todo_api.storage.urls import libpq_dsn

from ..support.apps import make_settings, serving
from ..support.auth import auth, new_user
from ..support.databases import drop_connections
from ..support.launcher import postgres_processes, service

pytestmark = pytest.mark.slow


# --- Every pooled connection dropped at once -----------------------------------------------------


async def test_restart_under_load_fails_only_in_flight_requests_and_loses_nothing(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path)
    url = server.start()
    outcomes: list[tuple[float, float, str, int, str]] = []  # started, ended, what, status, body
    acknowledged: dict[str, set[int]] = {}  # per user: tasks created (201) and not deleted (204)
    stop_at = float("inf")

    async def client_loop(http: httpx.AsyncClient, seed: int) -> None:
        rng = random.Random(seed)
        user = new_user()
        mine = acknowledged.setdefault(user, set())
        headers = auth(user)
        base = f"/api/{user}/tasks"
        while time.monotonic() < stop_at:
            roll = rng.random()
            request: tuple[str, str, dict[str, str] | None]
            some = rng.choice(sorted(mine)) if mine else None
            if roll < 0.3 or some is None:
                request = ("POST", base, {"title": f"t{len(outcomes)}"})
            elif roll < 0.6:
                request = ("GET", base, None)
            elif roll < 0.7:
                request = ("GET", f"{base}/{some}", None)
            elif roll < 0.8:
                request = ("PUT", f"{base}/{some}", {"title": "edited"})
            elif roll < 0.9:
                request = ("PATCH", f"{base}/{some}/complete", None)
            else:
                request = ("DELETE", f"{base}/{some}", None)
            started = time.monotonic()
            response = await http.request(request[0], request[1], json=request[2], headers=headers)
            outcomes.append((started, time.monotonic(), request[0], response.status_code, response.text))
            if response.status_code == 201:
                mine.add(response.json()["id"])
            elif response.status_code == 204:
                mine.discard(int(request[1].rsplit("/", 1)[1]))
            await asyncio.sleep(0.005)

    try:
        async with serving(make_settings(), url) as (_, client):
            stop_at = time.monotonic() + 60
            load = [asyncio.create_task(client_loop(client, seed)) for seed in range(8)]
            await asyncio.sleep(1.5)
            went_down = time.monotonic()
            await asyncio.to_thread(server.stop)  # pg_ctl stop: a fast shutdown
            await asyncio.sleep(1.0)
            await asyncio.to_thread(server.start)
            back_up = time.monotonic()  # accepting connections again
            while (await client.get("/ready")).status_code != 200:
                assert time.monotonic() - back_up < 5, "/ready not 200 within 5 s of the restart"
                await asyncio.sleep(0.05)
            ready_after = time.monotonic() - back_up
            stop_at = back_up + 8
            await asyncio.gather(*load)

            failures = [o for o in outcomes if o[3] >= 300 and o[3] != 404]
            assert any(o[0] < went_down for o in outcomes)
            assert any(o[0] > back_up + 5 for o in outcomes)
            for started, ended, method, status, body in failures:
                assert status == 503, f"{method}: {status} {body}"  # never a 500
                assert "detail" in body
                # Only what ran during the outage (or the 5 s after it) may fail.
                assert went_down - 0.5 < ended, (method, ended - went_down)
                assert started < back_up + 5, (method, started - back_up)
            assert any(o[3] == 503 for o in outcomes), "the outage went unnoticed: the test proves nothing"

            for user, ids in acknowledged.items():
                listed = (await client.get(f"/api/{user}/tasks", headers=auth(user))).json()
                assert {task["id"] for task in listed} == ids, "an acknowledged write was lost"
            kept = sum(len(ids) for ids in acknowledged.values())
            print(
                f"restart under load: {len(outcomes)} requests, {len(failures)} answered 503 (in flight"
                f" during the outage), /ready 200 {ready_after:.2f} s after the restart, {kept} tasks kept"
            )
    finally:
        server.stop()


@contextlib.contextmanager
def frozen(pgdata: Path) -> Iterator[None]:
    """SIGSTOP every process of a PostgreSQL: sockets stay open, nothing answers, no timeout fires."""
    [postmaster] = postgres_processes(pgdata)
    processes = [postmaster, *postmaster.children(recursive=True)]
    for process in processes:
        process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)


async def test_a_frozen_database_never_hangs_a_request(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path)
    url = server.start()
    statement_timeout = 2.0
    settings = make_settings(database_statement_timeout=statement_timeout, database_connect_timeout=2)
    try:
        async with serving(settings, url) as (_, client):
            user = new_user()
            headers = auth(user)
            base = f"/api/{user}/tasks"
            task_id = (await client.post(base, json={"title": "Before"}, headers=headers)).json()["id"]
            assert (await client.get(base, headers=headers)).status_code == 200  # connections are open

            async def timed(method: str, path: str, body: object = None) -> tuple[float, httpx.Response]:
                started = time.monotonic()
                response = await client.request(method, path, json=body, headers=headers)
                return time.monotonic() - started, response

            timings: list[float] = []
            with frozen(server.pgdata):
                for _ in range(2):  # on connections already open, then on whatever the pool has left
                    results = await asyncio.gather(
                        timed("GET", base),
                        timed("GET", f"{base}/{task_id}"),
                        timed("POST", base, {"title": "During"}),
                        timed("PATCH", f"{base}/{task_id}/complete"),
                        timed("GET", "/ready"),
                    )
                    for seconds, response in results:
                        assert response.status_code == 503, response.text
                        assert "detail" in response.json()
                        assert seconds < statement_timeout + 5, f"a request hung for {seconds:.1f} s"
                        timings.append(seconds)

            deadline = time.monotonic() + 15
            while (response := await client.get(base, headers=headers)).status_code != 200:
                assert time.monotonic() < deadline, "did not recover after the database woke up"
                await asyncio.sleep(0.2)
            assert (await client.post(base, json={"title": "After"}, headers=headers)).status_code == 201
            print(
                f"frozen database: {len(timings)} requests, each 503 within {max(timings):.2f} s"
                f" (statement timeout {statement_timeout:g} s)"
            )
    finally:
        server.stop()


def test_no_failure_after_every_connection_drops_in_the_server_process(
    fresh_database: URL, tmp_path: Path
) -> None:
    """The same drop against the real server process over HTTP, as a load balancer sees it."""
    with service(tmp_path / "data", tmp_path, NEON_DATABASE_URL=libpq_dsn(fresh_database)) as api:
        user = new_user()
        with httpx.Client(base_url=api.base_url, headers=auth(user), timeout=30) as http:
            for n in range(16):
                assert http.post(f"/api/{user}/tasks", json={"title": f"p{n}"}).status_code == 201
            assert drop_connections(fresh_database) >= 1
            assert http.get("/ready").status_code == 200
            assert len(http.get(f"/api/{user}/tasks").json()) == 16
        api.stop()
