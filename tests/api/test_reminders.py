"""Reminders and notifications through the API, with the session app's own scheduler running.

The scheduler polls every second, so a reminder due now is a notification within about a second;
`notifications_of` waits up to five for what a test expects.
"""

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import URL

from todo_api.reminders.scheduler import fire_due_reminders, purge_notifications
from todo_api.storage.urls import libpq_dsn

from ..support.auth import auth, new_user
from ..support.tasks import create_task


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


async def notifications_of(
    client: httpx.AsyncClient, user: str, expected: int, *, unread: bool = False
) -> list[dict[str, Any]]:
    params = {"unread": "true"} if unread else {}
    for _ in range(50):
        found: list[dict[str, Any]] = (
            await client.get(f"/api/{user}/notifications", params=params, headers=auth(user))
        ).json()
        if len(found) >= expected:
            return found
        await asyncio.sleep(0.1)
    return found


async def test_a_reminder_fires_once_and_becomes_a_notification(client: httpx.AsyncClient) -> None:
    user = new_user()
    due = datetime.now(UTC) + timedelta(days=1)
    task = await create_task(
        client, user, title="Dentist", due_date=utc(due), remind_at=utc(datetime.now(UTC))
    )
    [notification] = await notifications_of(client, user, 1)
    assert notification == {
        "id": notification["id"],
        "task_id": task["id"],
        "title": "Dentist",
        "due_date": task["due_date"],
        "remind_at": task["remind_at"],
        "created_at": notification["created_at"],
        "read": False,
    }
    await asyncio.sleep(2.2)  # two more polls: nothing fires twice
    assert len(await notifications_of(client, user, 2)) == 1


async def test_a_relative_reminder_follows_its_due_date(client: httpx.AsyncClient) -> None:
    user = new_user()
    due = datetime(2027, 3, 1, 9, tzinfo=UTC)
    task = await create_task(client, user, title="t", due_date=utc(due), reminder_minutes_before=90)
    assert (task["remind_at"], task["reminder_minutes_before"]) == (utc(due - timedelta(minutes=90)), 90)
    moved = await client.patch(
        f"/api/{user}/tasks/{task['id']}", json={"due_date": "2027-03-02"}, headers=auth(user)
    )
    assert moved.json()["remind_at"] == "2027-03-01T22:30:00.000000+00:00"  # 90 minutes before the 2nd starts
    fixed = await client.patch(
        f"/api/{user}/tasks/{task['id']}", json={"remind_at": "2027-02-28T12:00:00Z"}, headers=auth(user)
    )
    assert (fixed.json()["remind_at"], fixed.json()["reminder_minutes_before"]) == (
        "2027-02-28T12:00:00.000000+00:00",
        None,
    )
    cleared = await client.patch(
        f"/api/{user}/tasks/{task['id']}", json={"remind_at": None}, headers=auth(user)
    )
    assert (cleared.json()["remind_at"], cleared.json()["reminder_minutes_before"]) == (None, None)


async def test_a_wall_clock_reminder_is_read_in_the_tasks_zone(client: httpx.AsyncClient) -> None:
    task = await create_task(
        client, new_user(), title="t", time_zone="America/New_York", remind_at="2027-01-15T08:00"
    )
    assert task["remind_at"] == "2027-01-15T13:00:00.000000+00:00"


async def test_changing_the_time_re_arms_a_fired_reminder(client: httpx.AsyncClient) -> None:
    user = new_user()
    task = await create_task(client, user, title="t", remind_at=utc(datetime.now(UTC)))
    await notifications_of(client, user, 1)
    again = utc(datetime.now(UTC) + timedelta(seconds=1))
    await client.patch(f"/api/{user}/tasks/{task['id']}", json={"remind_at": again}, headers=auth(user))
    assert len(await notifications_of(client, user, 2)) == 2


async def test_completing_or_deleting_cancels_a_reminder_that_has_not_fired(
    client: httpx.AsyncClient,
) -> None:
    user = new_user()
    soon = utc(datetime.now(UTC) + timedelta(seconds=1))
    done = await create_task(client, user, title="done first", remind_at=soon)
    gone = await create_task(client, user, title="deleted first", remind_at=soon)
    kept = await create_task(client, user, title="fires", remind_at=soon)
    await client.patch(f"/api/{user}/tasks/{done['id']}/complete", headers=auth(user))
    await client.delete(f"/api/{user}/tasks/{gone['id']}", headers=auth(user))
    await asyncio.sleep(2.5)
    assert [n["task_id"] for n in await notifications_of(client, user, 1)] == [kept["id"]]
    # Reopened after its time has passed, the cancelled reminder stays cancelled.
    await client.patch(f"/api/{user}/tasks/{done['id']}/complete", headers=auth(user))
    await asyncio.sleep(1.5)
    assert len(await notifications_of(client, user, 2)) == 1


async def test_reopening_re_arms_a_reminder_still_ahead(client: httpx.AsyncClient, app: FastAPI) -> None:
    user = new_user()
    task = await create_task(client, user, title="t", remind_at=utc(datetime.now(UTC) + timedelta(seconds=2)))
    path = f"/api/{user}/tasks/{task['id']}/complete"
    await client.patch(path, headers=auth(user))
    await client.patch(path, headers=auth(user))  # reopened before its time
    assert len(await notifications_of(client, user, 1)) == 1


async def test_the_successor_of_a_recurring_task_carries_the_reminder(client: httpx.AsyncClient) -> None:
    user = new_user()
    due = datetime.now(UTC) + timedelta(minutes=10)
    first = await create_task(
        client,
        user,
        title="t",
        due_date=utc(due),
        recurrence="daily",
        remind_at=utc(due - timedelta(hours=2)),
    )
    await client.patch(f"/api/{user}/tasks/{first['id']}/complete", headers=auth(user))
    _, following = (await client.get(f"/api/{user}/tasks", headers=auth(user))).json()
    assert following["due_date"] == utc(due + timedelta(days=1))
    assert following["remind_at"] == utc(due + timedelta(days=1) - timedelta(hours=2))


async def test_notifications_newest_first_unread_and_read(client: httpx.AsyncClient) -> None:
    user = new_user()
    now = datetime.now(UTC)
    for n in range(3):
        await create_task(client, user, title=f"n{n}", remind_at=utc(now - timedelta(minutes=3 - n)))
    listed = await notifications_of(client, user, 3)
    assert [n["title"] for n in listed] == ["n2", "n1", "n0"]  # newest first
    base = f"/api/{user}/notifications"
    read = await client.post(f"{base}/{listed[1]['id']}/read", headers=auth(user))
    assert (read.status_code, read.json()["read"], read.json()["id"]) == (200, True, listed[1]["id"])
    assert [n["title"] for n in await notifications_of(client, user, 2, unread=True)] == ["n2", "n0"]
    assert len((await client.get(base, params={"limit": "1"}, headers=auth(user))).json()) == 1
    everything = await client.post(f"{base}/read", headers=auth(user))
    assert (everything.status_code, everything.content) == (204, b"")
    assert (await client.get(base, params={"unread": "true"}, headers=auth(user))).json() == []


async def test_notifications_are_isolated_like_tasks(client: httpx.AsyncClient) -> None:
    owner, attacker = new_user(), new_user()
    await create_task(client, owner, title="private", remind_at=utc(datetime.now(UTC)))
    [notification] = await notifications_of(client, owner, 1)
    base = f"/api/{attacker}/notifications"
    assert (await client.get(base, headers=auth(attacker))).json() == []
    stolen = await client.post(f"{base}/{notification['id']}/read", headers=auth(attacker))
    missing = await client.post(f"{base}/987654321/read", headers=auth(attacker))
    assert stolen.status_code == missing.status_code == 404
    assert stolen.json() == missing.json() == {"detail": "Notification not found"}
    await client.post(f"{base}/read", headers=auth(attacker))  # marks only the attacker's
    assert (await notifications_of(client, owner, 1, unread=True))[0]["read"] is False
    for method, path in [("GET", ""), ("POST", "/read"), ("POST", f"/{notification['id']}/read")]:
        url = f"/api/{owner}/notifications{path}"
        assert (await client.request(method, url, headers=auth(attacker))).status_code == 403
        assert (await client.request(method, url)).status_code == 401


async def test_old_notifications_are_purged(
    client: httpx.AsyncClient, app: FastAPI, database_url: URL
) -> None:
    user = new_user()
    await create_task(client, user, title="old", remind_at=utc(datetime.now(UTC)))
    await create_task(client, user, title="new", remind_at=utc(datetime.now(UTC)))
    [new, old] = await notifications_of(client, user, 2)
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as conn:
        conn.execute(
            "UPDATE notifications SET created_at = now() - interval '31 days' WHERE id = %s", (old["id"],)
        )
    assert await purge_notifications(app.state.database, 30) >= 1
    assert [n["id"] for n in await notifications_of(client, user, 1)] == [new["id"]]


async def test_the_claim_reads_only_pending_reminders(database_url: URL, app: FastAPI) -> None:
    from todo_api.reminders.scheduler import FIRE_SQL

    with psycopg.connect(libpq_dsn(database_url)) as conn:
        plan = "\n".join(str(row[0]) for row in conn.execute("EXPLAIN " + FIRE_SQL))
    # On a small table the planner may take either partial index; both hold pending rows only.
    assert re.search(r"Index Scan using ix_tasks_(user_id_)?pending_reminders on tasks", plan), plan
    assert await fire_due_reminders(app.state.database) >= 0


@pytest.mark.parametrize("minutes", [0, 40320])
async def test_minutes_from_zero_to_four_weeks(client: httpx.AsyncClient, minutes: int) -> None:
    task = await create_task(
        client, new_user(), title="t", due_date="2027-06-01", reminder_minutes_before=minutes
    )
    assert task["reminder_minutes_before"] == minutes
