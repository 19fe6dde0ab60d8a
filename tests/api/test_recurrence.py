"""Recurring tasks through the API: the rule's forms, and exactly one successor per completed task."""

import asyncio
import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from ..support.auth import auth, new_user
from ..support.tasks import create_task

# Due in the past: the successor skips to the first occurrence after now, in the task's own zone.
RENT = {
    **{"title": "Pay rent", "priority": "high", "tags": ["home"], "description": "landlord"},
    **{
        "due_date": "2026-01-31T09:00",
        "time_zone": "Europe/Berlin",
        "recurrence": "FREQ=MONTHLY;BYMONTHDAY=-1",
    },
    "reminder_minutes_before": 60,
}


async def tasks_of(client: httpx.AsyncClient, user: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await client.get(f"/api/{user}/tasks", headers=auth(user))).json()
    return listed


async def test_completing_creates_the_next_occurrence_with_the_same_fields(client: httpx.AsyncClient) -> None:
    user = new_user()
    first = await create_task(client, user, **RENT)
    assert (first["recurrence"], first["parent_task_id"], first["reminder_minutes_before"]) == (
        "FREQ=MONTHLY;BYMONTHDAY=-1",
        None,
        60,
    )
    assert first["remind_at"] == "2026-01-31T07:00:00.000000+00:00"  # an hour before 09:00 Berlin
    done = await client.patch(f"/api/{user}/tasks/{first['id']}/complete", headers=auth(user))
    assert done.status_code == 200
    assert done.json()["completed"] is True
    old, new = await tasks_of(client, user)
    assert old == done.json()  # the completed one stays, as history
    assert new["parent_task_id"] == first["id"]
    kept = ("title", "description", "priority", "tags", "time_zone", "recurrence", "reminder_minutes_before")
    assert {k: new[k] for k in kept} == {k: first[k] for k in kept}
    assert new["completed"] is False
    # The first last-day-of-a-month at 09:00 Berlin that is still ahead: the missed ones are skipped.
    due = next_month_end_at_nine_in_berlin()
    assert new["due_date"] == due.isoformat(timespec="microseconds")
    assert new["remind_at"] == (due - timedelta(hours=1)).isoformat(timespec="microseconds")


def next_month_end_at_nine_in_berlin() -> datetime:
    berlin, now = ZoneInfo("Europe/Berlin"), datetime.now(UTC)
    year, month = now.astimezone(berlin).year, now.astimezone(berlin).month
    while True:
        last = calendar.monthrange(year, month)[1]
        candidate = datetime(year, month, last, 9, tzinfo=berlin).astimezone(UTC)
        if candidate > now:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


@pytest.mark.parametrize(
    ("way", "body"),
    [("PATCH", {"completed": True}), ("PUT", {"title": "Water plants", "completed": True})],
)
async def test_put_and_patch_complete_it_too(
    client: httpx.AsyncClient, way: str, body: dict[str, Any]
) -> None:
    user = new_user()
    due = date.today() - timedelta(days=2)
    first = await create_task(client, user, title="Water plants", due_date=str(due), recurrence="weekly")
    response = await client.request(way, f"/api/{user}/tasks/{first['id']}", json=body, headers=auth(user))
    assert response.status_code == 200
    _, following = await tasks_of(client, user)
    assert (following["parent_task_id"], following["due_date"]) == (first["id"], str(due + timedelta(days=7)))


async def test_toggling_three_times_creates_one_successor(client: httpx.AsyncClient) -> None:
    user = new_user()
    first = await create_task(client, user, title="t", due_date="2026-12-01T09:00:00Z", recurrence="daily")
    for _ in range(3):
        assert (
            await client.patch(f"/api/{user}/tasks/{first['id']}/complete", headers=auth(user))
        ).status_code == 200
    tasks = await tasks_of(client, user)
    assert [task["parent_task_id"] for task in tasks] == [None, first["id"]]
    assert tasks[0]["completed"] is True  # complete, reopen, complete
    # Deleting the successor does not let the next completion make another: one successor, ever.
    await client.delete(f"/api/{user}/tasks/{tasks[1]['id']}", headers=auth(user))
    await client.patch(f"/api/{user}/tasks/{first['id']}/complete", headers=auth(user))
    await client.patch(f"/api/{user}/tasks/{first['id']}/complete", headers=auth(user))
    assert [task["id"] for task in await tasks_of(client, user)] == [first["id"]]


@pytest.mark.parametrize("way", ["toggle", "put"])
async def test_ten_concurrent_completions_make_one_successor(client: httpx.AsyncClient, way: str) -> None:
    user = new_user()
    first = await create_task(client, user, title="t", due_date="2026-12-01T09:00:00Z", recurrence="daily")
    path = f"/api/{user}/tasks/{first['id']}"

    async def complete() -> int:
        if way == "toggle":
            return (await client.patch(f"{path}/complete", headers=auth(user))).status_code
        return (
            await client.put(path, json={"title": "t", "completed": True}, headers=auth(user))
        ).status_code

    assert set(await asyncio.gather(*(complete() for _ in range(10)))) == {200}
    successors = [task for task in await tasks_of(client, user) if task["parent_task_id"] == first["id"]]
    assert len(successors) == 1


async def test_deleting_a_recurring_task_deletes_that_occurrence_only(client: httpx.AsyncClient) -> None:
    user = new_user()
    first = await create_task(client, user, title="t", due_date="2026-12-01T09:00:00Z", recurrence="daily")
    await client.patch(f"/api/{user}/tasks/{first['id']}/complete", headers=auth(user))
    _, following = await tasks_of(client, user)
    assert (await client.delete(f"/api/{user}/tasks/{first['id']}", headers=auth(user))).status_code == 204
    assert await tasks_of(client, user) == [following]


async def test_the_end_of_a_series_creates_nothing(client: httpx.AsyncClient) -> None:
    user = new_user()
    ended = await create_task(
        client, user, title="t", due_date="2026-12-01", recurrence="FREQ=DAILY;UNTIL=20261202"
    )
    await client.patch(f"/api/{user}/tasks/{ended['id']}/complete", headers=auth(user))
    assert len(await tasks_of(client, user)) == 1


@pytest.mark.parametrize(
    ("body", "stored"),
    [
        ({"recurrence_pattern": "Weekly"}, "weekly"),
        ({"recurrence_rule": "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1"}, "FREQ=MONTHLY;BYMONTHDAY=-1"),
        ({"recurrence": "none"}, None),
        ({"recurrence": None}, None),
    ],
)
async def test_the_names_peers_send(
    client: httpx.AsyncClient, body: dict[str, Any], stored: str | None
) -> None:
    task = await create_task(client, new_user(), title="t", due_date="2026-12-01", **body)
    assert task["recurrence"] == stored


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"recurrence": "daily"}, "recurrence", "needs a due date"),
        ({"recurrence": "hourly", "due_date": "2026-12-01"}, "recurrence", 'use "daily", "weekly"'),
        ({"recurrence": "FREQ=MINUTELY", "due_date": "2026-12-01"}, "recurrence", "not supported"),
        ({"recurrence": "FREQ=DAILY;BYHOUR=8", "due_date": "2026-12-01"}, "recurrence", "BYMONTHDAY"),
        ({"recurrence": 7, "due_date": "2026-12-01"}, "recurrence", "must be a string"),
        ({"reminder_minutes_before": 30}, "reminder_minutes_before", "needs a due date"),
        ({"reminder_minutes_before": 40321, "due_date": "2026-12-01"}, "reminder_minutes_before", "40320"),
        ({"reminder_minutes_before": "30", "due_date": "2026-12-01"}, "reminder_minutes_before", "integer"),
        ({"reminder_minutes_before": 2.5, "due_date": "2026-12-01"}, "reminder_minutes_before", "integer"),
        ({"remind_at": "2026-12-01"}, "remind_at", "date-time"),
        ({"remind_at": "2026-12-01T09:00Z", "reminder_minutes_before": 5, "due_date": "2026-12-02"},
         "reminder_minutes_before", "not both"),
    ],
)  # fmt: skip
async def test_bad_recurrences_and_reminders_are_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str, message: str
) -> None:
    user = new_user()
    response = await client.post(f"/api/{user}/tasks", json={"title": "t", **body}, headers=auth(user))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert (error["loc"], message in error["msg"]) == (["body", field], True), error
    assert await tasks_of(client, user) == []


async def test_a_recurring_task_keeps_its_due_date(client: httpx.AsyncClient) -> None:
    user = new_user()
    task = await create_task(client, user, title="t", due_date="2026-12-01", recurrence="daily")
    path = f"/api/{user}/tasks/{task['id']}"
    cleared = await client.patch(path, json={"due_date": None}, headers=auth(user))
    assert cleared.status_code == 422
    assert cleared.json()["detail"][0]["loc"] == ["body", "due_date"]
    assert (
        await client.patch(path, json={"due_date": None, "recurrence": None}, headers=auth(user))
    ).status_code == 200


async def test_parent_task_id_is_read_only(client: httpx.AsyncClient) -> None:
    user = new_user()
    task = await create_task(client, user, title="t", parent_task_id=12345)
    assert task["parent_task_id"] is None
    patched = await client.patch(
        f"/api/{user}/tasks/{task['id']}", json={"parent_task_id": 1}, headers=auth(user)
    )
    assert patched.json()["parent_task_id"] is None
