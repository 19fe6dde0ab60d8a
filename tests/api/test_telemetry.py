"""Operability: request ids end to end, Prometheus metrics, scraped by a real Prometheus."""

import re

import httpx
import pytest
from sqlalchemy.engine import URL

from ..support import REPO
from ..support.apps import FRONTEND, make_settings, running_app
from ..support.auth import auth, new_user

ALERTS = REPO / "deploy" / "alerts.yml"


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
