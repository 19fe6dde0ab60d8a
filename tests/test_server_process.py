"""The real service as a process over HTTP: `python -m todo_api`, as `make run` starts it.

These run on the embedded PostgreSQL (no NEON_DATABASE_URL), whatever TEST_DATABASE_URL says.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy.engine import URL

from todo_api.config import libpq_dsn

from .helpers import SECRET, auth, new_user

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and str(pgdata) in cmdline:
            found.append(process)
    return found


def service_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"NEON_DATABASE_URL", "TEST_DATABASE_URL"}}
    return env | {
        "PYTHONPATH": str(REPO),
        "BETTER_AUTH_SECRET": SECRET,
        "DATA_DIR": str(data_dir),
        "PORT": str(port),
        "LOG_LEVEL": "info",
        **extra,
    }


class Service:
    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10) -> float:
        """Send `sig`, wait for the exit, and return how long it took."""
        started = time.monotonic()
        self.process.send_signal(sig)
        self.process.wait(timeout)
        return time.monotonic() - started


@contextmanager
def service(data_dir: Path, cwd: Path, log: Path | None = None, **extra: str) -> Iterator[Service]:
    port = free_port()
    output = log.open("wb") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "todo_api"],
        cwd=cwd,  # a folder without .env: only the environment configures it
        env=service_env(data_dir, port, **extra),
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: cleanup reaches uvicorn's workers too
    )
    running = Service(process, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"service exited with {process.returncode}"
            try:
                if httpx.get(f"{running.base_url}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "service did not start"
            time.sleep(0.1)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # workers left behind by a killed supervisor
        if log is not None:
            output.close()  # type: ignore[union-attr]


def test_service_serves_http_and_sigterm_stops_it_with_its_database(data_dir: Path, tmp_path: Path) -> None:
    user = new_user()
    with service(data_dir, tmp_path) as api:
        created = httpx.post(
            f"{api.base_url}/api/{user}/tasks", json={"title": "Over HTTP"}, headers=auth(user)
        )
        assert created.status_code == 201
        assert postgres_processes(data_dir / "pgdata"), "the embedded PostgreSQL should be running"

        assert api.stop(signal.SIGTERM) < 5
        assert api.process.returncode == 0
    assert postgres_processes(data_dir / "pgdata") == []

    # SC-004: the task survives a restart.
    with service(data_dir, tmp_path) as api:
        listed = httpx.get(f"{api.base_url}/api/{user}/tasks", headers=auth(user)).json()
        assert [task["title"] for task in listed] == ["Over HTTP"]
        assert api.stop(signal.SIGINT) < 5  # Ctrl-C
    assert postgres_processes(data_dir / "pgdata") == []


def test_restart_after_sigkill_recovers_and_stops_the_database(data_dir: Path, tmp_path: Path) -> None:
    user = new_user()
    with service(data_dir, tmp_path) as api:
        httpx.post(f"{api.base_url}/api/{user}/tasks", json={"title": "Before the crash"}, headers=auth(user))
        api.stop(signal.SIGKILL)
    orphans = postgres_processes(data_dir / "pgdata")
    assert orphans, "a SIGKILLed owner leaves its PostgreSQL running"

    with service(data_dir, tmp_path) as api:
        listed = httpx.get(f"{api.base_url}/api/{user}/tasks", headers=auth(user)).json()
        assert [task["title"] for task in listed] == ["Before the crash"]
        assert api.stop() < 5
    assert postgres_processes(data_dir / "pgdata") == []


def test_two_instances_one_embedded_one_external(data_dir: Path, tmp_path: Path, database_url: URL) -> None:
    external = libpq_dsn(database_url)
    user = new_user()
    with (
        service(data_dir, tmp_path) as embedded,
        service(data_dir, tmp_path, NEON_DATABASE_URL=external) as remote,
    ):
        for api in (embedded, remote):
            response = httpx.post(
                f"{api.base_url}/api/{user}/tasks", json={"title": api.base_url}, headers=auth(user)
            )
            assert response.status_code == 201
        # Two databases: each instance sees only its own task.
        for api in (embedded, remote):
            titles = [
                t["title"] for t in httpx.get(f"{api.base_url}/api/{user}/tasks", headers=auth(user)).json()
            ]
            assert titles == [api.base_url]
        assert remote.stop() < 5
        assert postgres_processes(data_dir / "pgdata"), (
            "stopping the external instance leaves the embedded one"
        )
        assert embedded.stop() < 5
    assert postgres_processes(data_dir / "pgdata") == []


def run_cli(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = service_env(tmp_path / "data", free_port())
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=tmp_path,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_secret_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    result = run_cli(["todo_api"], tmp_path, BETTER_AUTH_SECRET="")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "BETTER_AUTH_SECRET" in result.stderr
    assert not (tmp_path / "data").exists(), "nothing is started without a secret"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://admin:hunter2-pass@db.example/neondb",
        "hunter2-pass",
        "://admin:hunter2-pass@host/neondb",
        "postgresql+asyncpg://admin:hunter2-pass@h/db",
    ],
)
def test_unusable_database_url_stops_start_up_without_echoing_it(tmp_path: Path, url: str) -> None:
    result = run_cli(["todo_api"], tmp_path, NEON_DATABASE_URL=url)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "NEON_DATABASE_URL" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_token_command_prints_a_token_the_service_accepts(tmp_path: Path) -> None:
    import jwt

    result = run_cli(["todo_api.token", "user123"], tmp_path)
    assert result.returncode == 0
    claims = jwt.decode(result.stdout.strip(), SECRET.encode(), algorithms=["HS256"])
    assert claims["sub"] == "user123"
    assert claims["exp"] > time.time() + 3000


def test_logs_are_json_lines_without_tokens_or_secrets(data_dir: Path, tmp_path: Path) -> None:
    import json

    from .helpers import make_token

    user = new_user()
    good = make_token(user)
    forged = make_token(user, secret="not-the-secret-not-the-secret-not-the-secret")
    log = tmp_path / "service.log"
    with service(data_dir, tmp_path, log=log) as api:
        httpx.post(
            f"{api.base_url}/api/{user}/tasks",
            json={"title": "t"},
            headers={"Authorization": f"Bearer {good}"},
        )
        httpx.get(f"{api.base_url}/api/{user}/tasks", headers={"Authorization": f"Bearer {forged}"})
        api.stop()
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert any(line.get("event") == "auth_failed" and line.get("reason") == "bad_signature" for line in lines)
    assert any("POST /api/" in line["message"] and "201" in line["message"] for line in lines)  # access log
    for secret in (good, forged, good.split(".")[2], forged.split(".")[2], SECRET):
        assert secret not in text
