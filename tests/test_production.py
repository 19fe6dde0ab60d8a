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

from todo_api.config import Settings, libpq_dsn
from todo_api.db import Database, DatabaseUnavailable
from todo_api.embedded_db import EmbeddedPostgres

from .conftest import drop_connections, make_settings, running_app
from .helpers import auth, new_user
from .test_server_process import free_port, service

pytestmark = pytest.mark.slow


def tcp_url(database_url: URL) -> URL:
    """The test database over TCP; PgBouncer and URL-option tests need one."""
    if not database_url.host:
        pytest.skip("needs TEST_DATABASE_URL pointing at a TCP PostgreSQL (CI sets it)")
    return database_url


# --- Probes ---------------------------------------------------------------------------------


async def test_health_needs_no_database_and_ready_needs_one(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).json() == {"status": "ready"}


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


async def test_unresponsive_database_fails_fast_with_503(database_url: URL) -> None:
    """A host that accepts connections and never answers: a bounded wait, then 503, not a hang."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(60)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    blackhole = URL.create("postgresql+psycopg", username="u", host="127.0.0.1", port=port, database="d")
    try:
        async with running_app(make_settings(database_connect_timeout=2), blackhole) as client:
            started = time.monotonic()
            response = await client.get("/ready")
            assert response.status_code == 503
            assert time.monotonic() - started < 4
            assert str(port) not in response.text
    finally:
        server.close()


# --- Scale-to-zero: connections dropped while idle ---------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
async def test_first_request_after_idle_drop_succeeds(fresh_database: URL, method: str) -> None:
    settings = make_settings(database_idle_check=0.2)
    async with running_app(settings, fresh_database) as client:
        user = new_user()
        headers = auth(user)
        task = (await client.post(f"/api/{user}/tasks", json={"title": "Before"}, headers=headers)).json()
        assert drop_connections(fresh_database) >= 1
        await asyncio.sleep(0.3)

        path = {"GET": "", "POST": "", "PUT": f"/{task['id']}", "PATCH": f"/{task['id']}/complete"}.get(
            method, f"/{task['id']}"
        )
        response = await client.request(
            method, f"/api/{user}/tasks{path}", json={"title": "After"}, headers=headers
        )
        assert response.status_code < 300, response.text


async def test_read_on_a_just_dropped_connection_is_retried(fresh_database: URL) -> None:
    settings = make_settings(database_idle_check=3600)  # no ping: the read itself meets the dead connection
    async with running_app(settings, fresh_database) as client:
        user = new_user()
        await client.post(f"/api/{user}/tasks", json={"title": "Still here"}, headers=auth(user))
        drop_connections(fresh_database)
        response = await client.get(f"/api/{user}/tasks", headers=auth(user))
        assert response.status_code == 200
        assert [t["title"] for t in response.json()] == ["Still here"]


async def test_statement_timeout_bounds_a_slow_query(database_url: URL) -> None:
    database = Database(database_url, make_settings(database_statement_timeout=0.5))
    await database.open()
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as raised:
            await database.execute("SELECT pg_sleep(5)")
        assert time.monotonic() - started < 3
        assert raised.value.kind == "timeout"  # answered as 503, not 500
    finally:
        await database.close()


# --- Connection strings as Neon prints them, against a real server ------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "sslmode=disable&channel_binding=disable",
        "sslmode=prefer&connect_timeout=3",
        "options=-c%20search_path%3Dpublic",
        "application_name=from-url&sslmode=allow",
    ],
)
async def test_urls_with_query_parameters_work_as_given(database_url: URL, query: str) -> None:
    base = tcp_url(database_url)
    raw = f"postgres://{base.username}:p%40ss%2Fw0rd@{base.host}:{base.port}/{base.database}?{query}"
    from todo_api.config import to_psycopg_url

    async with running_app(make_settings(), to_psycopg_url(raw, "NEON_DATABASE_URL")) as client:
        assert (await client.get("/ready")).status_code == 200


async def test_sslmode_require_is_never_dropped(database_url: URL) -> None:
    """The test server has no TLS: `sslmode=require` must refuse it, not fall back to plaintext."""
    base = tcp_url(database_url)
    with psycopg.connect(libpq_dsn(base)) as conn:
        ssl = conn.execute("SHOW ssl").fetchone()
    if ssl and ssl[0] == "on":
        pytest.skip("this PostgreSQL has TLS on")
    url = base.update_query_dict({"sslmode": "require", "channel_binding": "require"})
    async with running_app(make_settings(), url) as client:
        assert (await client.get("/ready")).status_code == 503


# --- PgBouncer in transaction mode (Neon's -pooler endpoint) -------------------------------------


@pytest.fixture
def pgbouncer(database_url: URL) -> Iterator[URL]:
    """A PgBouncer of this test's own, in transaction mode, in front of the test database."""
    base = tcp_url(database_url)
    if not shutil.which("pgbouncer"):
        if os.environ.get("REQUIRE_PGBOUNCER") == "1":
            pytest.fail("pgbouncer is not installed")
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)")
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


def test_transaction_pooler_is_detected_from_neon_host() -> None:
    settings: Settings = make_settings()
    pooled = URL.create("postgresql+psycopg", host="ep-cool-name-123456-pooler.us-east-2.aws.neon.tech")
    direct = URL.create("postgresql+psycopg", host="ep-cool-name-123456.us-east-2.aws.neon.tech")
    assert settings.behind_transaction_pooler(pooled)
    assert not settings.behind_transaction_pooler(direct)
    assert make_settings(database_pool_mode="transaction").behind_transaction_pooler(direct)


# --- Stopping: no acknowledged write is lost ----------------------------------------------------


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
