"""The container image from the Dockerfile, built and run with podman as CI does.

The image is built once per session (podman caches the layers, so a rebuild after a code change
redoes only the last steps). The base image `debian:bookworm-slim` must already exist locally:
CI makes it with scripts/container_base.sh, a laptop can `podman pull` it. Where podman or the base
is missing these tests skip, unless REQUIRE_PODMAN=1 (CI) makes that a failure.
"""

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import URL

from todo_api.storage.urls import libpq_dsn

from ..support import REPO
from ..support.apps import FRONTEND
from ..support.auth import SECRET, auth, new_user
from ..support.ports import free_port
from ..support.tools import require

BASE_IMAGE = "docker.io/library/debian:bookworm-slim"
IMAGE = "localhost/todo-api:test"
SIZE_LIMIT = 300_000_000  # bytes, as `podman images` counts MB
# Planted in the build context next to the Dockerfile: none of it may reach the image.
CANARY = f"canary-{uuid.uuid4().hex}"
CONTEXT_FILES = ["Dockerfile", ".dockerignore", "requirements.lock", "todo_api", "tests", "scripts"]

pytestmark = pytest.mark.slow


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    # CI runs podman with runc (crun cannot run here): .ci/run sets PODMAN_RUNTIME and CONTAINERS_CONF.
    runtime = os.environ.get("PODMAN_RUNTIME")
    command = ["podman", *(["--runtime", runtime] if runtime else []), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(command[:4])} ... failed ({result.returncode}): {result.stderr[-2000:]}")
    return result


def why_podman_cannot_run() -> str | None:
    if shutil.which("podman") is None:
        return "podman not found (Debian: apt-get install podman runc)"
    if podman("image", "exists", BASE_IMAGE, check=False).returncode != 0:
        return f"base image {BASE_IMAGE} missing: run scripts/container_base.sh (or podman pull it)"
    # Podman installed but not set up for this host (on CI's kind of machine that takes runc,
    # cgroupfs and no default ulimits: .ci/containers.conf, which .ci/run exports).
    trial = podman("run", "--rm", "--network", "none", BASE_IMAGE, "true", check=False)
    if trial.returncode != 0:
        last = (trial.stderr.strip().splitlines() or ["?"])[-1][-120:]
        return f"podman cannot run a container here (try CONTAINERS_CONF=.ci/containers.conf): {last}"
    return None


def host_only_ca_lines() -> list[str]:
    """A line of each certificate this machine adds to Debian's CA bundle (its PIP_CERT)."""
    lines = []
    for cert in Path("/usr/local/share/ca-certificates").glob("**/*.crt"):
        body = [line for line in cert.read_text().splitlines() if line and not line.startswith("-----")]
        if len(body) > 2:
            lines.append(body[len(body) // 2])
    return lines


@pytest.fixture(scope="session")
def build_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's files plus a .env, .data/ and .git/ holding a canary the image must not get."""
    context = tmp_path_factory.mktemp("build-context")
    for name in CONTEXT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("node_modules"))
        else:
            shutil.copy2(source, context / name)
    (context / ".env").write_text(f"BETTER_AUTH_SECRET={CANARY}\n")
    for folder in (".data", ".git"):
        (context / folder).mkdir()
        (context / folder / "canary").write_text(CANARY)
    return context


@pytest.fixture(scope="session")
def image(build_context: Path) -> str:
    reason = why_podman_cannot_run()
    require(reason is None, "PODMAN", reason or "")
    args = ["build", "--pull=never", "--format", "docker", "--network", "host", "--tag", IMAGE]
    # Behind an intercepting proxy, pip needs this machine's CA: mounted for the build only.
    if (cert := os.environ.get("PIP_CERT")) and Path(cert).is_file():
        args += ["--volume", f"{cert}:/run/host-ca.pem:ro", "--build-arg", "PIP_CERT=/run/host-ca.pem"]
    podman(*args, str(build_context), timeout=1200)
    return IMAGE


class Container:
    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.base_url = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if podman("inspect", "--format", "{{.State.Running}}", self.name).stdout.strip() != "true":
                pytest.fail(f"container exited: {self.logs()[-2000:]}")
            time.sleep(0.2)
        pytest.fail(f"container not ready in {timeout} s: {self.logs()[-2000:]}")

    def logs(self) -> str:
        result = podman("logs", self.name)
        return result.stdout + result.stderr

    def stop(self) -> float:
        started = time.monotonic()
        podman("stop", "--time", "10", self.name, timeout=30)
        return time.monotonic() - started

    def exit_code(self) -> int:
        return int(podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout)


@contextmanager
def container(image: str, *run_args: str, **env: str) -> Iterator[Container]:
    """The image on the host's network (the tests' PostgreSQL is there), listening on 127.0.0.1."""
    name = f"todo-api-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {"HOST": "127.0.0.1", "PORT": str(port), "BETTER_AUTH_SECRET": SECRET, **env}
    env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    podman("run", "--detach", "--name", name, "--network", "host", *env_args, *run_args, image)
    try:
        running = Container(name, port)
        running.wait_ready()
        yield running
    finally:
        podman("rm", "--force", "--volumes", "--time", "0", name, check=False)  # and its anonymous /data


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def inserts_waiting_on_a_lock(url: URL) -> int:
    # Only the request's INSERT: the reminders scheduler's claim may wait on the same lock too.
    with psycopg.connect(libpq_dsn(url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND query ILIKE '%INSERT INTO tasks (%'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_image_serves_the_readme_flow_as_non_root_and_drains_on_stop(image: str, fresh_database: URL) -> None:
    if not fresh_database.host:
        pytest.skip("needs TEST_DATABASE_URL pointing at a TCP PostgreSQL (the container reaches it by TCP)")
    user, other = new_user(), new_user()
    env = {"NEON_DATABASE_URL": libpq_dsn(fresh_database), "BETTER_AUTH_URL": FRONTEND}
    # As deploy/kubernetes.yaml runs it: read-only root file system, no capabilities.
    hardened = ("--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges")
    with container(image, *hardened, **env) as api:
        tasks = f"{api.base_url}/api/{user}/tasks"
        created = httpx.post(tasks, json={"title": "Buy groceries"}, headers=auth(user))
        assert created.status_code == 201
        task = created.json()
        assert [t["id"] for t in httpx.get(tasks, headers=auth(user)).json()] == [task["id"]]
        toggled = httpx.patch(f"{tasks}/{task['id']}/complete", headers=auth(user))
        assert toggled.json()["completed"] is True
        assert httpx.delete(f"{tasks}/{task['id']}", headers=auth(user)).status_code == 204
        assert httpx.get(tasks, headers=auth(user)).json() == []
        anonymous = httpx.get(tasks)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert httpx.get(tasks, headers=auth(other)).status_code == 403
        preflight = httpx.options(
            tasks, headers={"Origin": FRONTEND, "Access-Control-Request-Method": "POST"}
        )
        assert preflight.headers["access-control-allow-origin"] == FRONTEND

        # PID 1 is the service itself (exec-form ENTRYPOINT), and it is not root.
        status = podman("exec", api.name, "cat", "/proc/1/status").stdout
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert "0" not in uids
        assert podman("exec", api.name, "cat", "/proc/1/cmdline").stdout.split("\0")[:3] == [
            "python",
            "-m",
            "todo_api",
        ]
        assert podman("healthcheck", "run", api.name).returncode == 0  # the image's HEALTHCHECK

        # `podman stop` (SIGTERM) while a request is held up in the database: that request still
        # completes, then the service exits by itself, well within podman's 10 s.
        with psycopg.connect(libpq_dsn(fresh_database)) as blocker, ThreadPoolExecutor(2) as pool:
            blocker.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
            held = pool.submit(httpx.post, tasks, json={"title": "In flight"}, headers=auth(user), timeout=30)
            wait_for(lambda: inserts_waiting_on_a_lock(fresh_database) == 1, "the request to wait")
            stopping = pool.submit(api.stop)
            wait_for(lambda: "Shutting down" in api.logs(), "the service to get SIGTERM")
            assert not held.done()
            blocker.rollback()  # releases the lock: the held request can finish
            assert held.result().status_code == 201
            elapsed = stopping.result()
        assert elapsed < 10, f"podman stop took {elapsed:.1f} s: SIGTERM did not stop it"
        assert api.exit_code() == 0  # not 137: it exited by itself, podman did not SIGKILL it
        messages = [line["message"] for line in log_lines(api.logs())]
        assert "Application shutdown complete." in messages
        assert any('"POST /api/' in m and "201" in m for m in messages[messages.index("Shutting down") :])
        assert not [line for line in log_lines(api.logs()) if line["level"] in {"error", "critical"}]
        assert SECRET not in api.logs()


def test_embedded_database_lives_in_the_data_volume_and_runs_as_non_root(image: str) -> None:
    volume = f"todo-api-test-{uuid.uuid4().hex[:8]}"
    podman("volume", "create", volume)
    user = new_user()
    try:
        with container(image, "--volume", f"{volume}:/data") as api:
            response = httpx.post(
                f"{api.base_url}/api/{user}/tasks", json={"title": "Kept"}, headers=auth(user)
            )
            assert response.status_code == 201
            users = podman("top", api.name, "user", "comm").stdout.split("\n")[1:]
            processes = [line.split() for line in users if line.strip()]
            assert any(comm == "postgres" for _, comm in processes)
            assert {owner for owner, _ in processes} == {"app"}
            assert api.stop() < 10
            assert api.exit_code() == 0
            assert "embedded PostgreSQL stopped" in api.logs()
        with container(image, "--volume", f"{volume}:/data") as api:
            listed = httpx.get(f"{api.base_url}/api/{user}/tasks", headers=auth(user)).json()
            assert [task["title"] for task in listed] == ["Kept"]
    finally:
        podman("volume", "rm", "--force", volume, check=False)


def test_image_keeps_no_secret_env_file_tests_or_build_tools(image: str) -> None:
    history = podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    inspect = podman("image", "inspect", image).stdout
    for text in (history, inspect):
        assert CANARY not in text
        assert SECRET not in text
        assert not re.search(r"(?<!\w)\.env(?!\w)", text)  # the file, not os.environ
    config = json.loads(inspect)[0]["Config"]
    assert not any(var.split("=")[0] in {"BETTER_AUTH_SECRET", "NEON_DATABASE_URL"} for var in config["Env"])
    assert config["User"] not in {"", "0", "root"}

    # Looked for from inside the image: no compiler, pip, setuptools, tests, context files, caches.
    check = """
import importlib.util, json, pathlib, shutil
found = [tool for tool in ("gcc", "cc", "c++", "pip", "pip3", "strip") if shutil.which(tool)]
found += [mod for mod in ("pip", "setuptools") if importlib.util.find_spec(mod)]
found += [p for p in ("/app/.env", "/app/.data", "/app/.git", "/app/tests", "/app/Dockerfile",
                      "/root/.cache", "/home/app/.cache") if pathlib.Path(p).exists()]
found += [str(p) for p in pathlib.Path("/var/lib/apt/lists").iterdir()]
found += [str(p) for p in pathlib.Path("/var/cache/apt").iterdir()]
ca = pathlib.Path("/run/host-ca.pem")  # the build's mount point may stay, empty
found += [str(ca)] if ca.exists() and ca.stat().st_size else []
print(json.dumps(found))
"""
    one_off = ("run", "--rm", "--no-healthcheck", "--user", "root")  # root: to look everywhere
    leftovers = podman(*one_off, "--entrypoint", "python", image, "-c", check).stdout
    assert json.loads(leftovers) == []

    # Neither the canary nor this machine's own CA certificates are in any file of the image.
    needles = [arg for text in (CANARY, *host_only_ca_lines()) for arg in ("-e", text)]
    grep = podman(
        *one_off, "--entrypoint", "grep", image,
        "-rlF", *needles, "/", "--exclude-dir=proc", "--exclude-dir=sys", "--exclude-dir=dev",
        check=False,
    )  # fmt: skip
    assert grep.returncode == 1, f"found in the image: {grep.stdout}{grep.stderr}"


def test_image_size_is_under_300_mb(image: str) -> None:
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout)
    assert size <= SIZE_LIMIT, f"image is {size / 1e6:.0f} MB"
