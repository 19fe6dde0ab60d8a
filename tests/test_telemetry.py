"""Operability: request ids end to end, Prometheus metrics, scraped by a real Prometheus."""

import json
import os
import re
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

from todo_api.config import libpq_dsn

from .conftest import FRONTEND, make_settings, running_app
from .helpers import auth, new_user
from .test_server_process import free_port, service

REPO = Path(__file__).resolve().parent.parent
ALERTS = REPO / "deploy" / "alerts.yml"


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("REQUIRE_PROMETHEUS") == "1":
            pytest.fail(f"{name} is not installed")
        pytest.skip(f"{name} is not installed (Debian: apt-get install prometheus)")
    return path


# --- Request ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("req-42.a:b_C", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("evil\\nINFO forged line", False),
        ('quote"and space', False),
        ("", False),
        ("é", False),
    ],
)
async def test_request_id_is_kept_only_when_safe_to_log(
    client: httpx.AsyncClient, sent: str, kept: bool
) -> None:
    response = await client.get("/health", headers={b"X-Request-ID": sent.encode()})
    echoed = response.headers["x-request-id"]
    if kept:
        assert echoed == sent
    else:
        assert echoed != sent
        assert len(echoed) == 32
        assert echoed.isalnum()


async def test_every_response_has_a_fresh_request_id_readable_by_the_browser(
    client: httpx.AsyncClient,
) -> None:
    user = new_user()
    first = await client.get(f"/api/{user}/tasks", headers=auth(user) | {"Origin": FRONTEND})
    second = await client.get(f"/api/{user}/tasks", headers={"Origin": FRONTEND})  # a 401
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    for response in (first, second):
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_5xx_bodies_carry_the_request_id(database_url: URL) -> None:
    async with running_app(make_settings(), database_url.set(port=1, host="127.0.0.1")) as client:
        user = new_user()
        response = await client.get(f"/api/{user}/tasks", headers=auth(user) | {"X-Request-ID": "ref-503"})
        assert response.status_code == 503
        assert response.json()["request_id"] == "ref-503"
        ready = await client.get("/ready", headers={"X-Request-ID": "ref-ready"})
        assert ready.json() == {"detail": "The database is not reachable yet", "request_id": "ref-ready"}


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
            conn.execute("DROP TABLE tasks")
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


# --- /metrics -----------------------------------------------------------------------------------


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus's text format (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        metric, _, value = line.rpartition(" ")
        if metric.startswith(name + "{") or metric == name:
            got = ",".join(sorted(metric[len(name) + 1 : -1].split(","))) if "{" in metric else ""
            if got == wanted:
                return float(value)
    return 0.0


async def test_metrics_count_by_route_template_and_never_hold_ids(client: httpx.AsyncClient) -> None:
    user = new_user()
    headers = auth(user)
    before = (await client.get("/metrics")).text
    task = (await client.post(f"/api/{user}/tasks", json={"title": "Counted"}, headers=headers)).json()
    await client.get(f"/api/{user}/tasks/{task['id']}", headers=headers)
    await client.get(f"/api/{user}/tasks/999999999", headers=headers)
    await client.get(f"/api/{user}/tasks", headers={"Authorization": "Bearer broken"})
    await client.get(f"/api/{user}/no-such-route", headers=headers)
    await client.get(f"/api/{user}/tasks/", headers=headers)  # served as /tasks: counted there
    for method in ("PURGE", "PROPFIND"):  # free-form methods share one label, and one cache entry
        await client.request(method, f"/api/{user}/tasks", headers=headers)
    after = (await client.get("/metrics")).text
    assert after.startswith("# HELP")

    one = "/api/{user_id}/tasks/{task_id}"
    counts = {
        ("POST", "/api/{user_id}/tasks", "201"): 1,
        ("GET", one, "200"): 1,
        ("GET", one, "404"): 1,
        ("GET", "/api/{user_id}/tasks", "401"): 1,
        ("GET", "unmatched", "404"): 1,
        ("GET", "/api/{user_id}/tasks", "200"): 1,
        ("other", "/api/{user_id}/tasks", "405"): 2,
        ("GET", "/metrics", "200"): 0,  # not counted in its own metrics
    }
    for (method, route, status), expected in counts.items():
        labels = {"method": method, "route": route, "status": status}
        grown = sample(after, "todo_api_http_requests_total", **labels) - sample(
            before, "todo_api_http_requests_total", **labels
        )
        assert grown == expected, (method, route, status)
    assert sample(after, "todo_api_auth_failures_total", reason="malformed") >= 1
    assert sample(after, "todo_api_build_info", version="1.0.0") == 1
    assert 'todo_api_db_pool_connections{state="idle"}' in after  # the pool gauges are exported
    assert "todo_api_db_pool_wait_seconds_count" in after
    # Route labels are templates: never a raw path with a task id (or any user id) in it.
    routes = set(re.findall(r'route="([^"]*)"', after))
    assert not [route for route in routes if any(part.isdigit() for part in route.split("/"))]
    assert user not in after


async def test_metrics_can_be_turned_off(database_url: URL) -> None:
    async with running_app(make_settings(metrics_enabled=False), database_url) as client:
        assert (await client.get("/metrics")).status_code == 404
        assert "x-request-id" in (await client.get("/health")).headers  # ids stay on


# --- A real Prometheus --------------------------------------------------------------------------


def test_alert_rules_are_valid() -> None:
    promtool = require_tool("promtool")
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
    prometheus = require_tool("prometheus")
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
