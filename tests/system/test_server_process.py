"""The real service as a process over HTTP: `python -m todo_api`, as `make run` starts it.

These run on the embedded PostgreSQL (no NEON_DATABASE_URL), whatever TEST_DATABASE_URL says.
"""

import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import URL

from todo_api.storage.urls import libpq_dsn

from ..support.auth import SECRET, auth, make_token, new_user
from ..support.launcher import postgres_processes, run_cli, service

pytestmark = pytest.mark.slow


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

    result = run_cli(["todo_api.cli.token", "user123"], tmp_path)
    assert result.returncode == 0
    claims = jwt.decode(result.stdout.strip(), SECRET.encode(), algorithms=["HS256"])
    assert claims["sub"] == "user123"
    assert claims["exp"] > time.time() + 3000


def test_logs_are_json_lines_without_tokens_or_secrets(data_dir: Path, tmp_path: Path) -> None:
    import json

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
