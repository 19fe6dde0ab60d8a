"""Operability: request ids end to end, Prometheus metrics, scraped by a real Prometheus."""

import json
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from sqlalchemy.engine import URL

from todo_api.storage.urls import libpq_dsn

from ..support import REPO
from ..support.auth import auth, new_user
from ..support.launcher import service
from ..support.ports import free_port
from ..support.tools import require_tool

ALERTS = REPO / "deploy" / "alerts.yml"


def test_every_log_line_of_a_request_carries_its_id(fresh_database: URL, tmp_path: Path) -> None:
    """Over HTTP against the real server: the access line, the security line, the database error
    and the 500's traceback all carry the request's id; /metrics scrapes are not logged."""
    log = tmp_path / "service.log"
    user = new_user()
    with service(tmp_path / "data", tmp_path, log, NEON_DATABASE_URL=libpq_dsn(fresh_database)) as api:
        refused = httpx.get(f"{api.base_url}/api/{user}/tasks", headers={"X-Request-ID": "trace-401"})
        assert refused.status_code == 401
        httpx.get(f"{api.base_url}/metrics")
        with psycopg.connect(libpq_dsn(fresh_database), autocommit=True) as conn:
            conn.execute("DROP TABLE tasks CASCADE")
        failed = httpx.get(
            f"{api.base_url}/api/{user}/tasks", headers=auth(user) | {"X-Request-ID": "trace-500"}
        )
        assert failed.status_code == 500
        assert failed.json() == {"detail": "Internal server error", "request_id": "trace-500"}
        api.stop()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    by_id = {
        rid: [line for line in lines if line.get("request_id") == rid] for rid in ("trace-401", "trace-500")
    }
    assert {line["logger"] for line in by_id["trace-401"]} == {"todo_api.security", "uvicorn.access"}
    assert any(line.get("event") == "auth_failed" for line in by_id["trace-401"])
    assert {line["logger"] for line in by_id["trace-500"]} == {"todo_api.errors", "uvicorn.access"}
    assert any("UndefinedTable" in line.get("exception", "") for line in by_id["trace-500"])
    assert not any("/metrics" in line["message"] for line in lines)


def test_alert_rules_are_valid() -> None:
    promtool = require_tool("promtool", "PROMETHEUS", "Debian: apt-get install prometheus")
    result = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def prometheus_query(base: str, query: str) -> list[dict[str, object]]:
    body = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=5).json()
    assert body["status"] == "success", body
    result: list[dict[str, object]] = body["data"]["result"]
    return result


def counted(base: str) -> dict[tuple[str, str, str], int]:
    series = prometheus_query(
        base, 'sum by (method, route, status) (todo_api_http_requests_total{route=~"/api/.*"})'
    )
    found = {}
    for item in series:
        labels: dict[str, str] = item["metric"]  # type: ignore[assignment]
        value: list[str] = item["value"]  # type: ignore[assignment]
        found[(labels["method"], labels["route"], labels["status"])] = int(float(value[1]))
    return found


def wait_for_counts(base: str, expected: dict[tuple[str, str, str], int]) -> dict[tuple[str, str, str], int]:
    deadline = time.monotonic() + 30
    while (found := counted(base)) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


@pytest.mark.slow
def test_a_real_prometheus_scrapes_the_whole_service_across_workers(
    database_url: URL, tmp_path: Path
) -> None:
    prometheus = require_tool("prometheus", "PROMETHEUS", "Debian: apt-get install prometheus")
    with service(tmp_path / "data", tmp_path, NEON_DATABASE_URL=libpq_dsn(database_url), WORKERS="2") as api:
        api_port = api.base_url.rsplit(":", 1)[1]
        prom_port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix="todo-prometheus-"))
        (workdir / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: todo-api\n    static_configs: [{{targets: ['127.0.0.1:{api_port}']}}]\n"
        )
        arguments = [
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ]
        server = subprocess.Popen(
            [prometheus, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{prom_port}"
        try:
            user = new_user()
            headers = auth(user)
            tasks, one = "/api/{user_id}/tasks", "/api/{user_id}/tasks/{task_id}"

            def send(count: int, status: int, method: str, path: str, **kwargs: object) -> None:
                """`count` requests at once, each on a new connection: the workers share them."""
                fresh = httpx.Limits(max_keepalive_connections=0)
                with httpx.Client(base_url=api.base_url, timeout=10, limits=fresh) as http, \
                        ThreadPoolExecutor(count) as pool:  # fmt: skip
                    answers = pool.map(lambda _: http.request(method, path, **kwargs), range(count))  # type: ignore[arg-type]
                    assert [answer.status_code for answer in answers] == [status] * count

            send(7, 201, "POST", f"/api/{user}/tasks", json={"title": "t"}, headers=headers)
            send(5, 200, "GET", f"/api/{user}/tasks", headers=headers)
            first = httpx.get(f"{api.base_url}/api/{user}/tasks", headers=headers).json()[0]["id"]
            send(3, 200, "GET", f"/api/{user}/tasks/{first}", headers=headers)
            send(4, 404, "GET", f"/api/{user}/tasks/999999999", headers=headers)
            send(6, 401, "GET", f"/api/{user}/tasks")
            send(2, 422, "POST", f"/api/{user}/tasks", json={"title": " "}, headers=headers)
            expected = {
                ("POST", tasks, "201"): 7,
                ("GET", tasks, "200"): 6,
                ("GET", one, "200"): 3,
                ("GET", one, "404"): 4,
                ("GET", tasks, "401"): 6,
                ("POST", tasks, "422"): 2,
            }
            assert wait_for_counts(base, expected) == expected

            # A worker dies and uvicorn starts another: the service's counters do not go back.
            workers = psutil.Process(api.process.pid).children()
            assert len(workers) >= 2
            victim = max(workers, key=lambda process: process.pid)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            with httpx.Client(base_url=api.base_url, timeout=10) as http:
                deadline = time.monotonic() + 20
                served = 0
                while served < 10:
                    assert time.monotonic() < deadline, "the service did not serve again after a worker died"
                    try:
                        created = http.post(f"/api/{user}/tasks", json={"title": "more"}, headers=headers)
                    except httpx.TransportError:  # the killed worker's connection
                        time.sleep(0.2)
                        continue
                    served += created.status_code == 201
            expected[("POST", tasks, "201")] += 10
            found = wait_for_counts(base, expected)
            print("Prometheus, sum by (method, route, status) (todo_api_http_requests_total):", found)
            assert found == expected
            pool = prometheus_query(base, 'sum(todo_api_db_pool_connections{state="idle"})')
            assert pool
            assert float(pool[0]["value"][1]) >= 1  # type: ignore[index]
        finally:
            server.terminate()
            server.wait(10)
            shutil.rmtree(workdir, ignore_errors=True)
