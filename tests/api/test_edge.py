"""The edge every request passes (web/edge.py): the answers made there, as a browser reads them."""

import logging

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import URL

from todo_api.main import create_app

from ..support.apps import FRONTEND, asgi_client, lifespan_in_its_own_task, make_settings, serving
from ..support.auth import auth, new_user


async def test_an_unexpected_error_is_a_json_500_a_browser_can_read(
    database_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(make_settings(), database_url) as (application, client):

        async def broken() -> None:
            raise RuntimeError("a bug, with a secret in its message")

        application.add_api_route("/broken", broken)
        response = await client.get("/broken", headers={"Origin": FRONTEND})

    assert response.status_code == 500
    assert response.json() == {
        "detail": "Internal server error",
        "request_id": response.headers["x-request-id"],
    }
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert "secret" not in response.text
    logged = [r for r in caplog.records if r.name == "todo_api.errors" and r.levelno == logging.ERROR]
    assert "a secret in its message" in (logged[0].exc_text or "")


async def test_a_declared_body_over_the_limit_is_refused_before_the_app_with_cors(
    app: FastAPI, database_url: URL
) -> None:
    user = new_user()
    async with asgi_client(app) as client:
        response = await client.post(
            f"/api/{user}/tasks",
            content=b"{}",
            headers=auth(user) | {"Origin": FRONTEND, "Content-Length": str(10**9)},
        )
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large"}
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert response.headers["connection"] == "close"
    assert "x-request-id" in response.headers


async def test_a_preflight_gets_a_request_id_too(app: FastAPI) -> None:
    async with asgi_client(app) as client:
        response = await client.options(
            f"/api/{new_user()}/tasks",
            headers={"Origin": FRONTEND, "Access-Control-Request-Method": "GET", "X-Request-ID": "abc-123"},
        )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "abc-123"


async def test_a_429_carries_each_rate_limit_field_once(database_url: URL) -> None:
    user = new_user()
    application = create_app(make_settings(rate_limits_enabled=True, rate_limit="1/hour"), database_url)
    async with lifespan_in_its_own_task(application), asgi_client(application) as client:
        allowed = await client.get(f"/api/{user}/tasks", headers=auth(user))
        refused = await client.get(f"/api/{user}/tasks/", headers=auth(user) | {"Origin": FRONTEND})
    assert allowed.headers.get_list("ratelimit-policy") == ['"user";q=1;w=3600']
    assert refused.status_code == 429
    for name in ("ratelimit", "ratelimit-policy", "retry-after"):
        assert len(refused.headers.get_list(name)) == 1, name
    assert refused.headers["access-control-allow-origin"] == FRONTEND
