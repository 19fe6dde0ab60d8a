"""Quotas per user, and retry-safe creates with `Idempotency-Key`, on the real database."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import URL

from todo_api.main import create_app
from todo_api.storage.urls import libpq_dsn
from todo_api.tasks.idempotency import KEY_LOCK_SPACE, purge_idempotency_keys

from ..support.apps import asgi_client, lifespan_in_its_own_task, make_settings
from ..support.auth import auth, new_user

MAX_TASKS, MAX_REMINDERS = 5, 2


@pytest.fixture
async def limited(database_url: URL) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(max_tasks_per_user=MAX_TASKS, max_reminders_per_user=MAX_REMINDERS)
    application = create_app(settings, database_url)
    async with lifespan_in_its_own_task(application), asgi_client(application) as client:
        yield client


def soon() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).isoformat()


async def titles(client: httpx.AsyncClient, user: str) -> list[str]:
    return [task["title"] for task in (await client.get(f"/api/{user}/tasks", headers=auth(user))).json()]


# --- Quotas -------------------------------------------------------------------------------------


async def test_a_create_past_the_task_quota_is_a_409_and_writes_nothing(limited: httpx.AsyncClient) -> None:
    user = new_user()
    tasks = f"/api/{user}/tasks"
    for n in range(MAX_TASKS):
        assert (await limited.post(tasks, json={"title": f"t{n}"}, headers=auth(user))).status_code == 201
    refused = await limited.post(tasks, json={"title": "one too many"}, headers=auth(user))
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "You have reached the limit of 5 tasks (MAX_TASKS_PER_USER); delete some first"
    }
    assert await titles(limited, user) == [f"t{n}" for n in range(MAX_TASKS)]
    first = (await limited.get(tasks, headers=auth(user))).json()[0]["id"]
    assert (await limited.delete(f"{tasks}/{first}", headers=auth(user))).status_code == 204
    assert (await limited.post(tasks, json={"title": "room again"}, headers=auth(user))).status_code == 201
    # Another user is not affected by this one's quota.
    other = new_user()
    assert (
        await limited.post(f"/api/{other}/tasks", json={"title": "x"}, headers=auth(other))
    ).status_code == 201


async def test_the_pending_reminder_quota_refuses_only_creates_with_a_reminder(
    limited: httpx.AsyncClient,
) -> None:
    user = new_user()
    tasks = f"/api/{user}/tasks"
    for n in range(MAX_REMINDERS):
        created = await limited.post(tasks, json={"title": f"r{n}", "remind_at": soon()}, headers=auth(user))
        assert created.status_code == 201
    refused = await limited.post(tasks, json={"title": "r", "remind_at": soon()}, headers=auth(user))
    assert refused.status_code == 409
    assert "MAX_REMINDERS_PER_USER" in refused.json()["detail"]
    assert (await limited.post(tasks, json={"title": "no reminder"}, headers=auth(user))).status_code == 201
    # A reminder that is no longer pending frees its place: its task deleted here.
    first = (await limited.get(tasks, headers=auth(user))).json()[0]["id"]
    await limited.delete(f"{tasks}/{first}", headers=auth(user))
    again = await limited.post(tasks, json={"title": "r again", "remind_at": soon()}, headers=auth(user))
    assert again.status_code == 201


async def test_twenty_concurrent_creates_at_the_limit_never_overshoot(limited: httpx.AsyncClient) -> None:
    user = new_user()
    tasks = f"/api/{user}/tasks"
    await limited.post(tasks, json={"title": "already there"}, headers=auth(user))
    burst = [limited.post(tasks, json={"title": f"c{n}"}, headers=auth(user)) for n in range(20)]
    statuses = Counter(response.status_code for response in await asyncio.gather(*burst))
    assert statuses == {201: MAX_TASKS - 1, 409: 20 - (MAX_TASKS - 1)}
    assert len(await titles(limited, user)) == MAX_TASKS


async def test_mcp_add_task_is_refused_past_the_quota(limited: httpx.AsyncClient) -> None:
    user = new_user()
    for n in range(MAX_TASKS):
        await limited.post(f"/api/{user}/tasks", json={"title": f"t{n}"}, headers=auth(user))
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "add_task", "arguments": {"title": "x"}},
    }
    headers = auth(user) | {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-06-18",
    }
    result = (await limited.post("/mcp", json=call, headers=headers)).json()["result"]
    assert result["isError"] is True
    assert "MAX_TASKS_PER_USER" in result["content"][0]["text"]
    assert len(await titles(limited, user)) == MAX_TASKS


# --- Idempotency-Key ----------------------------------------------------------------------------


async def test_the_same_key_and_body_replays_the_first_answer(client: httpx.AsyncClient) -> None:
    user = new_user()
    headers = auth(user) | {"Idempotency-Key": "order-42"}
    first = await client.post(f"/api/{user}/tasks", json={"title": "Pay rent"}, headers=headers)
    await client.patch(
        f"/api/{user}/tasks/{first.json()['id']}", json={"title": "Renamed"}, headers=auth(user)
    )
    again = await client.post(f"/api/{user}/tasks", json={"title": "Pay rent"}, headers=headers)
    assert (again.status_code, again.json(), again.headers["etag"]) == (
        201,
        first.json(),
        first.headers["etag"],
    )
    assert await titles(client, user) == ["Renamed"]  # no second task
    # The key is the user's own: another user's identical key is another create.
    other = new_user()
    theirs = await client.post(
        f"/api/{other}/tasks",
        json={"title": "Pay rent"},
        headers=auth(other) | {"Idempotency-Key": "order-42"},
    )
    assert theirs.status_code == 201
    assert theirs.json()["id"] != first.json()["id"]


async def test_the_same_key_with_another_body_is_a_422(client: httpx.AsyncClient) -> None:
    user = new_user()
    headers = auth(user) | {"Idempotency-Key": '"a-quoted-key"'}
    assert (await client.post(f"/api/{user}/tasks", json={"title": "A"}, headers=headers)).status_code == 201
    reused = await client.post(f"/api/{user}/tasks", json={"title": "B"}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert await titles(client, user) == ["A"]


async def test_a_key_still_in_flight_is_a_409(client: httpx.AsyncClient, database_url: URL) -> None:
    user, key = new_user(), "in-flight"
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as other_request:
        # What the first request holds until it commits, taken here as if it were still running.
        other_request.execute(
            "SELECT pg_advisory_lock(%s, hashtext(%s || ' ' || %s))", (KEY_LOCK_SPACE, user, key)
        )
        busy = await client.post(
            f"/api/{user}/tasks", json={"title": "A"}, headers=auth(user) | {"Idempotency-Key": key}
        )
    assert busy.status_code == 409
    assert busy.json() == {
        "detail": "A request with this Idempotency-Key is still in progress; retry in a moment"
    }
    assert await titles(client, user) == []


async def test_a_key_is_kept_24_hours(client: httpx.AsyncClient, database_url: URL) -> None:
    user = new_user()
    headers = auth(user) | {"Idempotency-Key": "daily"}
    first = await client.post(f"/api/{user}/tasks", json={"title": "A"}, headers=headers)
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as conn:
        # The clock we control: the stored key made 23 h 59 min ago, then 24 h 1 min ago.
        age = "UPDATE idempotency_keys SET created_at = now() - %s::interval WHERE user_id = %s"
        conn.execute(age, ("23 hours 59 minutes", user))
        within = await client.post(f"/api/{user}/tasks", json={"title": "A"}, headers=headers)
        assert within.json()["id"] == first.json()["id"]
        conn.execute(age, ("24 hours 1 minute", user))
    after = await client.post(f"/api/{user}/tasks", json={"title": "B"}, headers=headers)
    assert after.status_code == 201
    assert after.json()["id"] != first.json()["id"]
    assert await titles(client, user) == ["A", "B"]


@pytest.mark.parametrize("key", [b"", b"x" * 256, "caf\u00e9".encode("latin-1"), b"with space"])
async def test_a_key_outside_visible_ascii_is_a_422(client: httpx.AsyncClient, key: bytes) -> None:
    user = new_user()
    headers = [(name.encode(), value.encode()) for name, value in auth(user).items()]
    headers.append((b"Idempotency-Key", key))
    refused = await client.post(f"/api/{user}/tasks", json={"title": "A"}, headers=headers)
    assert refused.status_code == 422
    assert await titles(client, user) == []


# --- Erasing a user -----------------------------------------------------------------------------


def rows_of(url: URL, user: str) -> dict[str, int]:
    tables = ("tasks", "notifications", "events", "idempotency_keys", "user_quotas")
    with psycopg.connect(libpq_dsn(url)) as conn:
        counts = {}
        for table in tables:  # names from the tuple above, never from input
            row = conn.execute(f"SELECT count(*) FROM {table} WHERE user_id = %s", (user,)).fetchone()
            counts[table] = int(row[0]) if row else -1
        return counts


async def fill(client: httpx.AsyncClient, user: str) -> None:
    """Tasks, a pending reminder, a fired one (a notification), an idempotency record, events."""
    tasks = f"/api/{user}/tasks"
    await client.post(tasks, json={"title": "keyed"}, headers=auth(user) | {"Idempotency-Key": "k1"})
    await client.post(tasks, json={"title": "later", "remind_at": soon()}, headers=auth(user))
    now = datetime.now(UTC).isoformat()
    await client.post(tasks, json={"title": "fires", "remind_at": now}, headers=auth(user))
    for _ in range(100):
        if (await client.get(f"/api/{user}/notifications", headers=auth(user))).json():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the reminder did not fire")


async def test_erasing_a_user_removes_everything_of_theirs_and_nothing_else(
    client: httpx.AsyncClient, database_url: URL
) -> None:
    user, other = new_user(), new_user()
    await fill(client, user)
    await fill(client, other)
    kept = rows_of(database_url, other)
    assert all(kept.values())
    assert (await client.delete(f"/api/{user}", headers=auth(user))).status_code == 204
    assert rows_of(database_url, user) == {
        "tasks": 0, "notifications": 0, "events": 1, "idempotency_keys": 0, "user_quotas": 0
    }  # fmt: skip
    assert rows_of(database_url, other) == kept
    with psycopg.connect(libpq_dsn(database_url)) as conn:
        erased = conn.execute("SELECT type, subject, data FROM events WHERE user_id = %s", (user,)).fetchall()
    assert erased == [("user.erased", user, f'{{"user_id": "{user}"}}')]  # no task data
    assert (await client.get(f"/api/{user}/tasks", headers=auth(user))).json() == []
    # Erasing again is still a 204, and the user can start over with an empty list and fresh quota.
    assert (await client.delete(f"/api/{user}", headers=auth(user))).status_code == 204
    assert (
        await client.post(f"/api/{user}/tasks", json={"title": "anew"}, headers=auth(user))
    ).status_code == 201


async def test_erasing_another_user_is_a_403(client: httpx.AsyncClient, database_url: URL) -> None:
    user, other = new_user(), new_user()
    await client.post(f"/api/{other}/tasks", json={"title": "mine"}, headers=auth(other))
    refused = await client.delete(f"/api/{other}", headers=auth(user))
    assert refused.status_code == 403
    assert rows_of(database_url, other)["tasks"] == 1
    assert (await client.delete(f"/api/{other}")).status_code == 401


async def test_keys_past_24_hours_are_purged(
    client: httpx.AsyncClient, app: FastAPI, database_url: URL
) -> None:
    user = new_user()
    for key in ("old", "new"):
        await client.post(
            f"/api/{user}/tasks", json={"title": key}, headers=auth(user) | {"Idempotency-Key": key}
        )
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as conn:
        age = "UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
        age += " WHERE user_id = %s AND key = 'old'"
        conn.execute(age, (user,))
        await purge_idempotency_keys(app.state.database)
        kept = conn.execute("SELECT key FROM idempotency_keys WHERE user_id = %s", (user,)).fetchall()
    assert kept == [("new",)]
