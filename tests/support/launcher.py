"""Servers as real processes: `python -m todo_api` as `make run` starts it, or any ASGI app (bench/).

A service started here runs on the embedded PostgreSQL under its own data folder unless
`NEON_DATABASE_URL` is passed, and in a folder without `.env`: only its environment configures it.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
from sqlalchemy.engine import URL

from todo_api.storage.urls import libpq_dsn

from . import REPO
from .auth import SECRET
from .ports import free_port


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
        "RATE_LIMITS_ENABLED": "false",  # on where a test says so: most send more than 600 a minute
        **extra,
    }


class Service:
    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10) -> float:
        """Send `sig`, wait for the exit, and return how long it took."""
        started = time.monotonic()
        self.process.send_signal(sig)
        self.process.wait(timeout)
        return time.monotonic() - started


@contextmanager
def launch(
    args: list[str],
    env: dict[str, str],
    port: int,
    *,
    ready_path: str = "/openapi.json",
    cwd: Path = REPO,
    log: Path | None = None,
    stop_signal: signal.Signals = signal.SIGKILL,
) -> Iterator[Service]:
    """Start `args` in a process group of its own, wait until `ready_path` answers 200, and at the
    end stop it with `stop_signal` (then SIGKILL for anything of the group left behind)."""
    output = log.open("wb") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    running = Service(process, port)
    try:
        _wait_until_ready(running, ready_path)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(stop_signal)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # workers left behind by a killed supervisor
        if log is not None:
            output.close()  # type: ignore[union-attr]


def _wait_until_ready(running: Service, ready_path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert running.process.poll() is None, f"service exited with {running.process.returncode}"
        try:
            if httpx.get(f"{running.base_url}{ready_path}", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "service did not start"
        time.sleep(0.1)


@contextmanager
def service(data_dir: Path, cwd: Path, log: Path | None = None, **extra: str) -> Iterator[Service]:
    """`python -m todo_api` on a free port, run from `cwd`."""
    port = free_port()
    env = service_env(data_dir, port, **extra)
    with launch([sys.executable, "-m", "todo_api"], env, port, cwd=cwd, log=log) as running:
        yield running


def run_cli(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m <args>` to completion, from `tmp_path`, with the service's environment."""
    base = service_env(tmp_path / "data", free_port())
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=tmp_path,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@contextmanager
def instances(count: int, url: URL, folder: Path, **extra: str) -> Iterator[list[Service]]:
    """`count` instances of `python -m todo_api` on one database, each ready (`/ready`)."""
    env = {"NEON_DATABASE_URL": libpq_dsn(url), "DATABASE_POOL_SIZE": "5", "DATABASE_MAX_OVERFLOW": "2"}
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        running = [
            stack.enter_context(service(folder / "data", folder, folder / f"instance{n}.log", **env, **extra))
            for n in range(count)
        ]
        for instance in running:
            wait_until_ready(instance)
        yield running


def wait_until_ready(instance: Service, within: float = 30) -> None:
    """Until `/ready` answers 200: the schema is migrated."""
    deadline = time.monotonic() + within
    while httpx.get(f"{instance.base_url}/ready", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "not ready"
        time.sleep(0.1)
