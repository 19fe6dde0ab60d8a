"""Rate limits: per user, per address without a valid token, in memory and in Redis, and failing open."""

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import URL

from todo_api.main import create_app
from todo_api.storage.urls import libpq_dsn

from ..support.apps import asgi_client, lifespan_in_its_own_task, make_settings
from ..support.auth import auth, new_user
from ..support.redis import redis_server

MACHINE_REDIS = "redis://127.0.0.1:6379/0"
# Limits per hour: windows are aligned to the clock, and a test straddling a minute's end would see two.


@asynccontextmanager
async def limited_app(database_url: URL, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(make_settings(rate_limits_enabled=True, **settings), database_url)
    async with lifespan_in_its_own_task(application), asgi_client(application) as client:
        yield client


async def test_past_the_user_limit_is_a_429_with_the_standard_headers(database_url: URL) -> None:
    user, other = new_user(), new_user()
    async with limited_app(database_url, rate_limit="3/hour") as client:
        allowed = [await client.get(f"/api/{user}/tasks", headers=auth(user)) for _ in range(3)]
        assert [r.status_code for r in allowed] == [200] * 3
        assert {r.headers["ratelimit-policy"] for r in allowed} == {'"user";q=3;w=3600'}
        assert [re.sub(r";t=\d+", "", r.headers["ratelimit"]) for r in allowed] == [
            *['"user";r=2', '"user";r=1', '"user";r=0']
        ]
        assert "retry-after" not in allowed[0].headers
        refused = await client.post(f"/api/{user}/tasks", json={"title": "x"}, headers=auth(user))
        assert refused.status_code == 429
        assert refused.json() == {
            "detail": "Too many requests; retry after the number of seconds in Retry-After"
        }
        assert 1 <= int(refused.headers["retry-after"]) <= 3600
        assert refused.headers["ratelimit"].startswith('"user";r=0;t=')
        with psycopg.connect(libpq_dsn(database_url)) as conn:  # the refused create wrote nothing
            assert conn.execute("SELECT count(*) FROM tasks WHERE user_id = %s", (user,)).fetchone() == (0,)
        # Another user has a window of their own; the probes and metrics are never limited.
        assert (await client.get(f"/api/{other}/tasks", headers=auth(other))).status_code == 200
        for path in ("/health", "/ready", "/metrics") * 4:
            probe = await client.get(path)
            assert probe.status_code == 200
            assert "ratelimit" not in probe.headers


async def test_cors_exposes_the_rate_limit_headers(database_url: URL) -> None:
    user = new_user()
    async with limited_app(database_url) as client:
        headers = auth(user) | {"Origin": "http://localhost:3000"}
        response = await client.get(f"/api/{user}/tasks", headers=headers)
    exposed = {name.strip().lower() for name in response.headers["access-control-expose-headers"].split(",")}
    assert {"ratelimit", "ratelimit-policy", "retry-after"} <= exposed


async def test_invalid_tokens_are_limited_by_address_and_a_valid_user_is_not(database_url: URL) -> None:
    user = new_user()
    async with limited_app(database_url, unauthenticated_rate_limit="2/hour") as client:
        tasks = f"/api/{user}/tasks"
        bad = {"Authorization": "Bearer not-a-token"}
        assert [(await client.get(tasks, headers=bad)).status_code for _ in range(2)] == [401, 401]
        refused = await client.get(tasks, headers=bad)
        assert refused.status_code == 429
        assert refused.headers["ratelimit-policy"] == '"address";q=2;w=3600'
        assert (await client.get(tasks)).status_code == 429  # no token at all: the same address
        # The same address with a valid token: the user's own limit, untouched.
        served = await client.get(tasks, headers=auth(user))
        assert served.status_code == 200
        assert served.headers["ratelimit-policy"] == '"user";q=600;w=60'


async def test_instances_share_the_limit_in_redis(database_url: URL) -> None:
    user = new_user()
    settings = {"rate_limit": "4/hour", "redis_url": MACHINE_REDIS}
    async with (
        limited_app(database_url, **settings) as first,
        limited_app(database_url, **settings) as second,
    ):
        statuses = [
            (await (first if n % 2 else second).get(f"/api/{user}/tasks", headers=auth(user))).status_code
            for n in range(8)
        ]
    assert statuses == [200] * 4 + [429] * 4


async def test_instances_take_the_shared_limit_in_blocks_and_never_exceed_it(database_url: URL) -> None:
    user = new_user()  # 40 an hour: blocks of 2, one round trip to Redis per two requests
    settings = {"rate_limit": "40/hour", "redis_url": MACHINE_REDIS}
    async with (
        limited_app(database_url, **settings) as first,
        limited_app(database_url, **settings) as second,
    ):
        answers = [
            await (first if n % 3 else second).get(f"/api/{user}/tasks", headers=auth(user))
            for n in range(60)
        ]
    served = sum(r.status_code == 200 for r in answers)
    assert 38 <= served <= 40  # a block reserved and not used is spent, never more than the limit
    assert {r.status_code for r in answers[served:]} == {429}


async def test_redis_going_down_fails_open_and_is_counted(database_url: URL) -> None:
    user = new_user()
    with redis_server() as (url, redis):
        async with limited_app(database_url, rate_limit="100/minute", redis_url=url) as client:
            tasks = f"/api/{user}/tasks"
            assert "ratelimit" in (await client.get(tasks, headers=auth(user))).headers
            redis.kill()
            redis.wait(10)
            started = time.monotonic()
            during = [await client.get(tasks, headers=auth(user)) for _ in range(20)]
            assert [r.status_code for r in during] == [200] * 20  # served, not refused
            assert time.monotonic() - started < 3  # and not held up by the dead Redis
            # The block this instance had reserved is served from memory; then no limit at all.
            assert "ratelimit" not in during[-1].headers
            metrics = (await client.get("/metrics")).text
    failures = re.search(r"^todo_api_rate_limiter_failures_total (\S+)", metrics, re.MULTILINE)
    assert failures is not None
    assert float(failures.group(1)) >= 1


async def test_mcp_calls_count_against_the_same_user_limit(database_url: URL) -> None:
    user = new_user()
    async with limited_app(database_url, rate_limit="2/hour") as client:
        for _ in range(2):
            assert (await client.get(f"/api/{user}/tasks", headers=auth(user))).status_code == 200
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        headers = auth(user) | {"Accept": "application/json, text/event-stream"}
        refused = await client.post("/mcp", json=call, headers=headers)
    assert refused.status_code == 429
    assert refused.headers["ratelimit"].startswith('"user";r=0;')
