"""The event log and its live stream, over HTTP against the real service: every change committed with
its event, each stream resumable, isolated, and closed when its token expires."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import URL

from todo_api.storage.urls import libpq_dsn

from ..support.auth import auth, make_token, new_user
from ..support.launcher import Service, service
from ..support.sse import reading
from ..support.tasks import create_task

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, database_url: URL) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("events")
    with service(folder / "data", folder, NEON_DATABASE_URL=libpq_dsn(database_url)) as running:
        yield running


@pytest.fixture
async def rest(api: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
        yield client


async def test_every_kind_of_change_is_an_event_in_order(api: Service, rest: httpx.AsyncClient) -> None:
    user = new_user()
    async with reading(api.base_url, user) as reader:
        task = await create_task(rest, user, title="Plants", due_date="2026-12-01", recurrence="weekly")
        path = f"/api/{user}/tasks/{task['id']}"
        updated = (await rest.patch(path, json={"title": "Water plants"}, headers=auth(user))).json()
        completed = (await rest.patch(f"{path}/complete", headers=auth(user))).json()
        reopened = (await rest.patch(f"{path}/complete", headers=auth(user))).json()
        await rest.delete(path, headers=auth(user))
        await create_task(rest, user, title="Now", remind_at="2020-01-01T00:00:00Z")  # fires at once
        for _ in range(50):
            found = (await rest.get(f"/api/{user}/notifications", headers=auth(user))).json()
            if found:
                break
            await asyncio.sleep(0.1)
        await rest.post(f"/api/{user}/notifications/{found[0]['id']}/read", headers=auth(user))
        received = await reader.take(10, within=5)  # nine, and nothing more
    assert reader.headers["content-type"].startswith("text/event-stream")
    assert reader.headers["cache-control"] == "no-cache"
    assert reader.headers["x-accel-buffering"] == "no"  # proxies such as nginx must not buffer it
    kinds = [message.event for message in received]
    assert kinds == [
        *["task.created", "task.updated", "task.completed", "task.created", "task.reopened", "task.deleted"],
        *["task.created", "notification.created", "notification.read"],
    ]
    data = [message.json() for message in received]
    assert data[0] == task
    assert data[1] == updated
    assert data[2] == completed
    assert data[3]["parent_task_id"] == task["id"]  # the successor, in the same transaction
    assert data[4] == reopened
    assert data[5] == {"id": task["id"]}
    assert (data[7]["title"], data[7]["read"], data[8]["read"]) == ("Now", False, True)
    ids = [int(message.id or 0) for message in received]
    assert ids == sorted(set(ids))


async def test_resume_with_last_event_id_sends_what_was_missed_then_goes_live(
    api: Service, rest: httpx.AsyncClient
) -> None:
    user = new_user()
    async with reading(api.base_url, user) as reader:
        await create_task(rest, user, title="one")
        [first] = await reader.take(1)
    for n in range(3):  # while no tab is open
        await create_task(rest, user, title=f"missed {n}")
    expected = ["missed 0", "missed 1", "missed 2"]
    for how in ("header", "query"):  # each resumes after `first`
        headers = auth(user) | ({"Last-Event-ID": str(first.id)} if how == "header" else {})
        params = {"last_event_id": str(first.id)} if how == "query" else {}
        async with reading(api.base_url, user, headers, **params) as reader:
            assert [m.json()["title"] for m in await reader.take(len(expected))] == expected
            await create_task(rest, user, title=f"live {how}")
            expected.append(f"live {how}")
            assert [m.json()["title"] for m in await reader.take(len(expected) + 1, within=1)] == expected
    async with reading(api.base_url, user, auth(user) | {"Last-Event-ID": "not-ours"}) as refused:
        assert refused.status == 422


async def test_a_cursor_older_than_what_is_kept_starts_with_a_reset(
    api: Service, rest: httpx.AsyncClient, database_url: URL
) -> None:
    user = new_user()
    await create_task(rest, user, title="before")
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as conn:
        latest = conn.execute("SELECT max(id) FROM events").fetchone()[0]  # type: ignore[index]
        conn.execute("UPDATE event_log SET purged_through = greatest(purged_through, %s)", (latest,))
    async with reading(api.base_url, user, auth(user) | {"Last-Event-ID": "1"}) as reader:
        await create_task(rest, user, title="after")
        reset, following = await reader.take(2)
    assert (reset.event, reset.id) == ("reset", None)
    assert following.json()["title"] == "after"


async def test_the_stream_ends_when_its_token_expires(api: Service) -> None:
    user = new_user()
    started = time.monotonic()
    expiring = {"Authorization": f"Bearer {make_token(user, expires_in=3)}"}
    async with reading(api.base_url, user, expiring) as reader:
        await asyncio.wait_for(reader.ended.wait(), 15)
    # At exp itself: the 30 s leeway lets a token in, it does not keep a stream open past exp.
    assert 1.5 < time.monotonic() - started < 6


async def test_two_users_interleaved_never_see_each_other(api: Service, rest: httpx.AsyncClient) -> None:
    alice, bob = new_user(), new_user()
    async with reading(api.base_url, alice) as alices, reading(api.base_url, bob) as bobs:
        for n in range(10):
            await create_task(rest, alice if n % 2 else bob, title=f"{'alice' if n % 2 else 'bob'} {n}")
        got_alice, got_bob = await alices.take(5), await bobs.take(5)
        await asyncio.sleep(0.5)
    assert {m.json()["user_id"] for m in alices.received} == {alice}
    assert {m.json()["user_id"] for m in bobs.received} == {bob}
    assert len(got_alice) == len(got_bob) == 5
    assert (await _stream_status(api, bob, auth(alice)), await _stream_status(api, bob, {})) == (403, 401)


async def _stream_status(api: Service, user: str, headers: dict[str, str]) -> int:
    async with reading(api.base_url, user, headers) as reader:
        return reader.status


async def test_a_failed_change_writes_no_event(database_url: URL, rest: httpx.AsyncClient) -> None:
    user = new_user()
    task = await create_task(rest, user, title="kept")

    def events_of_user() -> list[Any]:
        with psycopg.connect(libpq_dsn(database_url)) as conn:
            return conn.execute("SELECT type FROM events WHERE user_id = %s", (user,)).fetchall()

    before = events_of_user()
    with psycopg.connect(libpq_dsn(database_url)) as conn:  # a transaction that fails after its change
        conn.execute(
            "UPDATE tasks SET title = 'changed', updated_at = now() + interval '1 s' WHERE id = %s",
            (task["id"],),
        )
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE tasks SET title = '' WHERE id = %s", (task["id"],))
        conn.rollback()
    stale = await rest.put(
        f"/api/{user}/tasks/{task['id']}", json={"title": "x"}, headers=auth(user) | {"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert events_of_user() == before == [("task.created",)]
