"""Priorities, tags, due dates, time zones and completion times: every rule, through every route."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ..support.auth import auth, new_user
from ..support.tasks import create_task, post_task

PAY_RENT = {
    "title": "Pay rent",
    "priority": "HIGH",
    "tags": [" home ", "Money", "home", "money"],
    "due_date": "2026-12-04T17:00",
    "time_zone": "europe/berlin",
}


def stored(task: dict[str, Any]) -> tuple[Any, ...]:
    return task["priority"], task["tags"], task["due_date"], task["time_zone"]


async def test_the_issues_example_keeps_every_field(client: httpx.AsyncClient) -> None:
    """Before this, the three fields were dropped with a 201."""
    user = new_user()
    body = {
        "title": "Buy groceries",
        "priority": "high",
        "due_date": "2026-12-05T10:00:00Z",
        "tags": ["home"],
    }
    task = await create_task(client, user, **body)
    assert stored(task) == ("high", ["home"], "2026-12-05T10:00:00.000000+00:00", "UTC")
    assert (await client.get(f"/api/{user}/tasks/{task['id']}", headers=auth(user))).json() == task


async def test_fields_are_normalised_and_the_same_everywhere(client: httpx.AsyncClient) -> None:
    user = new_user()
    task = await create_task(client, user, **PAY_RENT)
    # HIGH -> high; tags trimmed, duplicates dropped in any case; 17:00 in Berlin (UTC+1) is 16:00 UTC.
    assert stored(task) == ("high", ["home", "Money"], "2026-12-04T16:00:00.000000+00:00", "Europe/Berlin")
    base = f"/api/{user}/tasks"
    assert (await client.get(f"{base}/{task['id']}", headers=auth(user))).json() == task
    assert (await client.get(base, headers=auth(user))).json() == [task]
    assert (await client.get(base, params={"limit": 5}, headers=auth(user))).json() == [task]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ("work, home", ["work", "home"]),
        ("work,, Home ,work,", ["work", "Home"]),
        ("", []),
        (["a" * 32, "Ünïcödé ✓", "with space"], ["a" * 32, "Ünïcödé ✓", "with space"]),
    ],
)
async def test_tags_as_a_list_or_one_comma_separated_string(
    client: httpx.AsyncClient, tags: object, expected: list[str]
) -> None:
    assert (await create_task(client, new_user(), title="t", tags=tags))["tags"] == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priority", "critical"),
        ("priority", None),
        ("priority", 3),
        ("tags", ["a" * 33]),
        ("tags", ["   "]),
        ("tags", ["a,b"]),
        ("tags", ["tab\there"]),
        ("tags", ["bell\x07"]),
        ("tags", [f"t{n}" for n in range(21)]),
        ("tags", ",".join(f"t{n}" for n in range(21))),
        ("tags", None),
        ("tags", [1]),
        ("due_date", "2026-02-30"),
        ("due_date", "2026-02-30T10:00"),
        ("due_date", "next friday"),
        ("due_date", 1733400000),
        ("time_zone", "Mars/Olympus"),
        ("time_zone", "Factory"),
        ("time_zone", None),
        ("time_zone", "+02:00"),
    ],
)
async def test_bad_values_are_422_naming_the_field_and_store_nothing(
    client: httpx.AsyncClient, field: str, value: object
) -> None:
    user = new_user()
    response = await client.post(f"/api/{user}/tasks", json={"title": "t", field: value}, headers=auth(user))
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]
    assert (await client.get(f"/api/{user}/tasks", headers=auth(user))).json() == []


async def test_an_all_day_due_date_is_returned_as_the_same_date(client: httpx.AsyncClient) -> None:
    task = await create_task(
        client, new_user(), title="t", due_date="2026-12-05", time_zone="Pacific/Auckland"
    )
    assert task["due_date"] == "2026-12-05"


@pytest.mark.parametrize(
    ("zone", "local", "utc"),
    [
        ("America/Los_Angeles", "2026-03-07T09:00", "2026-03-07T17:00:00.000000+00:00"),  # PST, before
        ("America/Los_Angeles", "2026-03-09T09:00", "2026-03-09T16:00:00.000000+00:00"),  # PDT, after
        ("America/Los_Angeles", "2026-11-01T01:30", "2026-11-01T08:30:00.000000+00:00"),  # twice: the first
        ("Pacific/Auckland", "2026-04-04T09:00", "2026-04-03T20:00:00.000000+00:00"),  # NZDT, before
        ("Pacific/Auckland", "2026-04-06T09:00", "2026-04-05T21:00:00.000000+00:00"),  # NZST, after
        ("Pacific/Auckland", "2026-09-27T02:30", "2026-09-26T14:30:00.000000+00:00"),  # skipped: 03:30
    ],
)
async def test_a_date_time_without_offset_is_wall_clock_time_in_the_tasks_zone(
    client: httpx.AsyncClient, zone: str, local: str, utc: str
) -> None:
    user = new_user()
    created = await create_task(client, user, title="t", due_date=local, time_zone=zone)
    assert created["due_date"] == utc
    # The same through PUT and PATCH, on a task created without either.
    other = await create_task(client, user, title="u")
    path = f"/api/{user}/tasks/{other['id']}"
    put = await client.put(
        path, json={"title": "u", "due_date": local, "time_zone": zone}, headers=auth(user)
    )
    assert put.json()["due_date"] == utc
    await client.patch(path, json={"due_date": None, "time_zone": "UTC"}, headers=auth(user))
    await client.patch(path, json={"time_zone": zone}, headers=auth(user))
    patched = await client.patch(
        path, json={"due_date": local}, headers=auth(user)
    )  # read in the stored zone
    assert patched.json()["due_date"] == utc


async def test_put_and_patch_change_each_field_and_its_version(client: httpx.AsyncClient) -> None:
    user = new_user()
    task = await create_task(client, user, title="t")
    path = f"/api/{user}/tasks/{task['id']}"
    versions = {task["updated_at"]}
    for change in [
        {"priority": "urgent"},
        {"tags": "a,b"},
        {"due_date": "2026-12-24"},
        {"time_zone": "Asia/Tokyo"},
        {"due_date": None},
    ]:
        response = await client.patch(path, json=change, headers=auth(user))
        assert response.status_code == 200, response.text
        versions.add(response.json()["updated_at"])
    final = response.json()
    assert stored(final) == ("urgent", ["a", "b"], None, "Asia/Tokyo")
    assert len(versions) == 6  # every change moved updated_at (and so the ETag)
    # PUT keeps what it does not send, as for description.
    put = await client.put(path, json={"title": "renamed"}, headers=auth(user))
    assert stored(put.json()) == stored(final)


async def test_changing_only_the_zone_keeps_instants_and_moves_all_day_dates(
    client: httpx.AsyncClient,
) -> None:
    user = new_user()
    instant = await create_task(
        client, user, title="i", due_date="2026-12-05T10:00:00+01:00", time_zone="UTC"
    )
    all_day = await create_task(client, user, title="d", due_date="2026-12-05", time_zone="UTC")

    async def due_after(moment: str) -> list[str]:
        found = await client.get(f"/api/{user}/tasks", params={"due_after": moment}, headers=auth(user))
        return [task["title"] for task in found.json()]

    # In UTC the 5th lasts until midnight UTC.
    assert await due_after("2026-12-05T15:00:00Z") == ["d"]
    for task in (instant, all_day):
        path = f"/api/{user}/tasks/{task['id']}"
        moved = (await client.patch(path, json={"time_zone": "Asia/Tokyo"}, headers=auth(user))).json()
        assert moved["due_date"] == task["due_date"]  # the same instant, the same date
    # In Tokyo (UTC+9) the 5th ends at 15:00 UTC; the instant (09:00 UTC) never moved.
    assert await due_after("2026-12-05T14:59:00Z") == ["d"]
    assert await due_after("2026-12-05T15:00:00Z") == []
    assert await due_after("2026-12-05T09:00:00Z") == ["i", "d"]


async def test_completed_at_follows_completion_and_is_read_only(client: httpx.AsyncClient) -> None:
    user = new_user()
    forged = {"title": "t", "completed_at": "2020-01-01T00:00:00+00:00"}
    task = await create_task(client, user, **forged)
    assert task["completed_at"] is None
    path = f"/api/{user}/tasks/{task['id']}"
    done = (await client.patch(f"{path}/complete", headers=auth(user))).json()
    assert done["completed_at"] == done["updated_at"]
    again = (await client.put(path, json={"title": "t2", "completed": True}, headers=auth(user))).json()
    assert again["completed_at"] == done["completed_at"]  # still done: the first completion stays
    reopened = (await client.patch(path, json={"completed": False}, headers=auth(user))).json()
    assert reopened["completed_at"] is None
    created_done = await create_task(client, user, title="already", completed=True)
    assert created_done["completed_at"] == created_done["created_at"]


async def test_a_patch_with_the_new_fields_honours_if_match(client: httpx.AsyncClient) -> None:
    user = new_user()
    created = await post_task(client, user, title="t")
    path = f"/api/{user}/tasks/{created.json()['id']}"
    etag = created.headers["etag"]
    first = await client.patch(path, json={"due_date": "2026-12-05"}, headers=auth(user) | {"If-Match": etag})
    assert first.status_code == 200
    stale = await client.patch(
        path, json={"time_zone": "Asia/Tokyo"}, headers=auth(user) | {"If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.headers["etag"] == first.headers["etag"]
    assert (await client.get(path, headers=auth(user))).json()["time_zone"] == "UTC"


def utc_today() -> datetime:
    return datetime.now(UTC)


async def test_overdue_over_http_for_tasks_due_in_the_past_and_the_future(client: httpx.AsyncClient) -> None:
    user = new_user()
    now = utc_today()
    past = await create_task(client, user, title="past", due_date=(now - timedelta(minutes=5)).isoformat())
    await create_task(client, user, title="future", due_date=(now + timedelta(hours=1)).isoformat())
    await create_task(client, user, title="none")
    done = await create_task(client, user, title="done", completed=True, due_date="2020-01-01")
    response = await client.get(f"/api/{user}/tasks", params={"overdue": "true"}, headers=auth(user))
    assert [t["title"] for t in response.json()] == [past["title"]]
    others = await client.get(f"/api/{user}/tasks", params={"overdue": "false"}, headers=auth(user))
    assert [t["title"] for t in others.json()] == ["future", "none", done["title"]]
