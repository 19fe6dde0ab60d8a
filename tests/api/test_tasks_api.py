"""User stories 1-6 of the spec, acceptance scenario by acceptance scenario."""

from datetime import datetime, timedelta

import httpx

from ..support.auth import auth, new_user
from ..support.tasks import create_task

TASK_FIELDS = {
    *("id", "user_id", "title", "description", "completed"),
    *("priority", "tags", "due_date", "time_zone", "completed_at", "created_at", "updated_at"),
    *("recurrence", "remind_at", "reminder_minutes_before", "parent_task_id"),
}


def parse_time(value: object) -> datetime:
    assert isinstance(value, str)
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), f"{value} must carry an explicit UTC offset"
    return parsed


# --- User story 1: create -------------------------------------------------------------------


async def test_create_returns_201_with_the_persisted_task(client: httpx.AsyncClient) -> None:
    user = new_user()
    response = await client.post(f"/api/{user}/tasks", json={"title": "Buy groceries"}, headers=auth(user))

    assert response.status_code == 201
    task = response.json()
    assert set(task) == TASK_FIELDS
    assert isinstance(task["id"], int)
    assert task["user_id"] == user
    assert task["title"] == "Buy groceries"
    assert task["description"] is None
    assert task["completed"] is False  # FR-012
    assert (task["priority"], task["tags"], task["due_date"], task["time_zone"]) == (
        "medium",
        [],
        None,
        "UTC",
    )
    assert task["completed_at"] is None
    assert (
        task["recurrence"],
        task["remind_at"],
        task["reminder_minutes_before"],
        task["parent_task_id"],
    ) == ((None, None, None, None))
    assert parse_time(task["created_at"]) == parse_time(task["updated_at"])
    assert abs(
        parse_time(task["created_at"]) - datetime.now(parse_time(task["created_at"]).tzinfo)
    ) < timedelta(minutes=1)

    listed = (await client.get(f"/api/{user}/tasks", headers=auth(user))).json()
    assert listed == [task]  # SC-001: visible immediately


async def test_create_keeps_description_and_ids_are_unique(client: httpx.AsyncClient) -> None:
    user = new_user()
    first = await create_task(client, user, title="One", description="Milk, eggs")
    second = await create_task(client, user, title="Two")
    assert first["description"] == "Milk, eggs"
    assert first["id"] != second["id"]


async def test_client_cannot_set_server_owned_fields(client: httpx.AsyncClient) -> None:
    user = new_user()
    forged = {
        "id": 999_999_999,
        "user_id": "someone-else",
        "created_at": "2000-01-01T00:00:00Z",
        "updated_at": "2000-01-01T00:00:00Z",
        "title": "Mine",
    }
    task = await create_task(client, user, **forged)
    assert task["id"] != forged["id"]
    assert task["user_id"] == user
    assert parse_time(task["created_at"]).year > 2000

    response = await client.put(f"/api/{user}/tasks/{task['id']}", json=forged, headers=auth(user))
    assert response.status_code == 200
    updated = response.json()
    assert (updated["id"], updated["user_id"], updated["created_at"]) == (
        task["id"],
        user,
        task["created_at"],
    )


async def test_create_under_another_users_url_is_403_and_stores_nothing(client: httpx.AsyncClient) -> None:
    me, other = new_user(), new_user()
    response = await client.post(f"/api/{other}/tasks", json={"title": "Sneaky"}, headers=auth(me))
    assert response.status_code == 403
    assert isinstance(response.json()["detail"], str)
    assert (await client.get(f"/api/{other}/tasks", headers=auth(other))).json() == []


# --- User story 2: list ---------------------------------------------------------------------


async def test_list_returns_only_my_tasks_in_creation_order(client: httpx.AsyncClient) -> None:
    me, other = new_user(), new_user()
    mine = [await create_task(client, me, title=f"Task {n}") for n in range(3)]
    await create_task(client, other, title="Not yours")

    response = await client.get(f"/api/{me}/tasks", headers=auth(me))
    assert response.status_code == 200
    assert response.json() == mine


async def test_list_for_user_without_tasks_is_empty_array(client: httpx.AsyncClient) -> None:
    user = new_user()
    response = await client.get(f"/api/{user}/tasks", headers=auth(user))
    assert response.status_code == 200
    assert response.json() == []


# --- User story 3: update -------------------------------------------------------------------


async def test_update_changes_fields_and_advances_updated_at(client: httpx.AsyncClient) -> None:
    user = new_user()
    task = await create_task(client, user, title="Buy groceries", description="Milk")

    response = await client.put(
        f"/api/{user}/tasks/{task['id']}",
        json={"title": "Buy organic groceries", "description": "Oat milk", "completed": True},
        headers=auth(user),
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["title"] == "Buy organic groceries"
    assert updated["description"] == "Oat milk"
    assert updated["completed"] is True
    assert updated["created_at"] == task["created_at"]
    assert parse_time(updated["updated_at"]) > parse_time(task["updated_at"])
    assert (await client.get(f"/api/{user}/tasks/{task['id']}", headers=auth(user))).json() == updated


async def test_update_with_title_only_keeps_the_other_fields(client: httpx.AsyncClient) -> None:
    user = new_user()
    task = await create_task(client, user, title="Old", description="Keep me", completed=True)
    response = await client.put(f"/api/{user}/tasks/{task['id']}", json={"title": "New"}, headers=auth(user))
    assert response.status_code == 200
    assert response.json()["description"] == "Keep me"
    assert response.json()["completed"] is True


async def test_update_with_null_description_clears_it(client: httpx.AsyncClient) -> None:
    user = new_user()
    task = await create_task(client, user, title="T", description="Remove me")
    response = await client.put(
        f"/api/{user}/tasks/{task['id']}", json={"title": "T", "description": None}, headers=auth(user)
    )
    assert response.json()["description"] is None


async def test_update_missing_task_is_404(client: httpx.AsyncClient) -> None:
    user = new_user()
    response = await client.put(f"/api/{user}/tasks/987654321", json={"title": "X"}, headers=auth(user))
    assert response.status_code == 404
    assert response.json() == {"detail": "Task not found"}


# --- User story 4: toggle -------------------------------------------------------------------


async def test_toggle_flips_completed_both_ways(client: httpx.AsyncClient) -> None:
    user = new_user()
    task = await create_task(client, user, title="Toggle me", description="Unchanged")
    url = f"/api/{user}/tasks/{task['id']}/complete"

    done = await client.patch(url, headers=auth(user))
    assert done.status_code == 200
    assert done.json()["completed"] is True
    assert parse_time(done.json()["updated_at"]) > parse_time(task["updated_at"])

    undone = await client.patch(url, headers=auth(user))
    assert undone.status_code == 200
    assert undone.json()["completed"] is False
    assert parse_time(undone.json()["updated_at"]) > parse_time(done.json()["updated_at"])
    assert (undone.json()["title"], undone.json()["description"]) == ("Toggle me", "Unchanged")
    assert undone.json()["created_at"] == task["created_at"]


async def test_toggle_missing_task_is_404(client: httpx.AsyncClient) -> None:
    user = new_user()
    response = await client.patch(f"/api/{user}/tasks/987654321/complete", headers=auth(user))
    assert response.status_code == 404


# --- User story 5: delete -------------------------------------------------------------------


async def test_delete_returns_204_with_empty_body_and_removes_task(client: httpx.AsyncClient) -> None:
    user = new_user()
    keep = await create_task(client, user, title="Keep")
    gone = await create_task(client, user, title="Delete")

    response = await client.delete(f"/api/{user}/tasks/{gone['id']}", headers=auth(user))
    assert response.status_code == 204
    assert response.content == b""

    assert (await client.get(f"/api/{user}/tasks", headers=auth(user))).json() == [keep]
    again = await client.delete(f"/api/{user}/tasks/{gone['id']}", headers=auth(user))
    assert again.status_code == 404


# --- User story 6: get one ------------------------------------------------------------------


async def test_get_one_returns_the_task(client: httpx.AsyncClient) -> None:
    user = new_user()
    task = await create_task(client, user, title="Details", description="All of them")
    response = await client.get(f"/api/{user}/tasks/{task['id']}", headers=auth(user))
    assert response.status_code == 200
    assert response.json() == task


async def test_get_missing_task_is_404(client: httpx.AsyncClient) -> None:
    user = new_user()
    response = await client.get(f"/api/{user}/tasks/987654321", headers=auth(user))
    assert response.status_code == 404
    assert response.json() == {"detail": "Task not found"}
