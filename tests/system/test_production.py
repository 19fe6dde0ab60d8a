"""Production on Neon: URLs as printed, the transaction pooler, dropped connections, outages, workers."""

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import URL

from todo_api.storage.embedded import EmbeddedPostgres
from todo_api.storage.urls import libpq_dsn

from ..support.apps import make_settings, running_app
from ..support.auth import auth, new_user
from ..support.databases import tcp_url
from ..support.launcher import service
from ..support.ports import free_port
from ..support.tools import require_tool

pytestmark = pytest.mark.slow


async def test_starts_while_database_is_down_and_becomes_ready_by_itself(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path)
    url = server.start()
    server.stop()
    try:
        started = time.monotonic()
        async with running_app(make_settings(), url) as client:
            assert time.monotonic() - started < 5, "start-up must not wait for the database"
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/ready")).status_code == 503
            user = new_user()
            response = await client.get(f"/api/{user}/tasks", headers=auth(user))
            assert response.status_code == 503
            assert "detail" in response.json()

            server.start()
            deadline = time.monotonic() + 20
            while (await client.get("/ready")).status_code != 200:
                assert time.monotonic() < deadline, "never became ready"
                await asyncio.sleep(0.25)
            created = await client.post(f"/api/{user}/tasks", json={"title": "Ready"}, headers=auth(user))
            assert created.status_code == 201
    finally:
        server.stop()


@pytest.fixture
def pgbouncer(database_url: URL) -> Iterator[URL]:
    """A PgBouncer of this test's own, in transaction mode, in front of the test database."""
    base = tcp_url(database_url)
    require_tool("pgbouncer", "PGBOUNCER", "apt-get install pgbouncer")
    workdir = Path(tempfile.mkdtemp(prefix="todo-pgbouncer-"))
    workdir.chmod(0o777)  # pgbouncer will not run as root: it runs as `postgres`
    port = free_port()
    (workdir / "users.txt").write_text(f'"{base.username}" ""\n')
    (workdir / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={base.host} port={base.port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir}/users.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 500
logfile = {workdir}/pgbouncer.log
"""
    )
    user = ["-u", "postgres"] if os.geteuid() == 0 else []
    process = subprocess.Popen(
        ["pgbouncer", *user, str(workdir / "pgbouncer.ini")], stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        url = base.set(port=port)
        while True:
            try:
                psycopg.connect(libpq_dsn(url), connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                assert time.monotonic() < deadline, "pgbouncer did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def test_many_users_through_pgbouncer_transaction_mode_two_workers(
    pgbouncer: URL, data_dir: Path, tmp_path: Path
) -> None:
    users = [new_user() for _ in range(40)]
    errors: list[str] = []

    async def session(http: httpx.AsyncClient, user: str) -> None:
        headers = auth(user)
        base = f"/api/{user}/tasks"
        for round_ in range(4):
            created = await http.post(base, json={"title": f"{user}:{round_}"}, headers=headers)
            for response in [
                created,
                await http.get(base, headers=headers),
                await http.get(f"{base}/{created.json().get('id')}", headers=headers),
                await http.patch(f"{base}/{created.json().get('id')}/complete", headers=headers),
                await http.put(
                    f"{base}/{created.json().get('id')}", json={"title": f"{user}!"}, headers=headers
                ),
            ]:
                if response.status_code >= 300:
                    errors.append(f"{response.status_code} {response.text}")
                    continue
                body = response.json()
                for task in body if isinstance(body, list) else [body]:
                    if task["user_id"] != user or not task["title"].startswith(user):
                        errors.append(f"{user} received {task}")

    async def load(base_url: str) -> None:
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
            await asyncio.gather(*(session(http, user) for user in users))

    with service(
        data_dir,
        tmp_path,
        WORKERS="2",
        NEON_DATABASE_URL=libpq_dsn(pgbouncer),
        DATABASE_POOL_MODE="transaction",
    ) as api:
        asyncio.run(load(api.base_url))
        assert api.stop() < 10
    assert errors == []


def test_sigkill_during_writes_loses_no_acknowledged_task(data_dir: Path, tmp_path: Path) -> None:
    user = new_user()
    acknowledged: list[int] = []
    stop = threading.Event()

    def writer(base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=5) as http:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    response = http.post(f"/api/{user}/tasks", json={"title": f"w{n}"}, headers=auth(user))
                except httpx.TransportError:
                    return
                if response.status_code == 201:
                    acknowledged.append(response.json()["id"])

    with service(data_dir, tmp_path) as api:
        threads = [threading.Thread(target=writer, args=(api.base_url,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        api.stop(signal.SIGKILL)
        stop.set()
        for thread in threads:
            thread.join(10)
    assert len(acknowledged) > 20

    with service(data_dir, tmp_path) as api:
        stored = {t["id"] for t in httpx.get(f"{api.base_url}/api/{user}/tasks", headers=auth(user)).json()}
        api.stop()
    assert set(acknowledged) <= stored
