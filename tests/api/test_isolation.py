"""One user never sees, changes or deletes another's task (FR-013, SC-002)."""

from collections.abc import Callable
from urllib.parse import quote

import httpx
import pytest

from ..support.auth import auth, new_user

# Every route that names a task, with a body where it takes one.
TASK_ROUTES = [
    ("GET", "/api/{owner}/tasks/{id}", None),
    ("PUT", "/api/{owner}/tasks/{id}", {"title": "Hijacked", "completed": True}),
    ("PATCH", "/api/{owner}/tasks/{id}", {"completed": True}),
    ("PATCH", "/api/{owner}/tasks/{id}/complete", None),
    ("DELETE", "/api/{owner}/tasks/{id}", None),
]


@pytest.fixture
async def victim(client: httpx.AsyncClient) -> tuple[str, dict[str, object]]:
    user = new_user()
    response = await client.post(
        f"/api/{user}/tasks", json={"title": "Private", "description": "Secret"}, headers=auth(user)
    )
    task: dict[str, object] = response.json()
    return user, task


@pytest.mark.parametrize(("method", "route", "body"), TASK_ROUTES)
async def test_foreign_task_id_under_own_url_is_404(
    client: httpx.AsyncClient,
    victim: tuple[str, dict[str, object]],
    method: str,
    route: str,
    body: dict[str, object] | None,
) -> None:
    """An attacker using their own URL with the victim's task id: 404, same as a missing id."""
    owner, task = victim
    attacker = new_user()
    url = route.format(owner=attacker, id=task["id"])

    response = await client.request(method, url, json=body, headers=auth(attacker))
    missing = await client.request(
        method, route.format(owner=attacker, id=987_654_321), json=body, headers=auth(attacker)
    )

    assert response.status_code == 404
    assert response.json() == missing.json() == {"detail": "Task not found"}  # no existence oracle
    assert (await client.get(f"/api/{owner}/tasks", headers=auth(owner))).json() == [task]


@pytest.mark.parametrize(("method", "route", "body"), TASK_ROUTES)
async def test_victims_url_with_attackers_token_is_403(
    client: httpx.AsyncClient,
    victim: tuple[str, dict[str, object]],
    method: str,
    route: str,
    body: dict[str, object] | None,
) -> None:
    owner, task = victim
    attacker = new_user()
    response = await client.request(
        method, route.format(owner=owner, id=task["id"]), json=body, headers=auth(attacker)
    )
    assert response.status_code == 403
    assert "Private" not in response.text
    assert (await client.get(f"/api/{owner}/tasks", headers=auth(owner))).json() == [task]


async def test_listing_never_includes_other_users_tasks(
    client: httpx.AsyncClient, victim: tuple[str, dict[str, object]]
) -> None:
    attacker = new_user()
    await client.post(f"/api/{attacker}/tasks", json={"title": "Mine"}, headers=auth(attacker))
    listed = (await client.get(f"/api/{attacker}/tasks", headers=auth(attacker))).json()
    assert [t["title"] for t in listed] == ["Mine"]
    assert all(t["user_id"] == attacker for t in listed)


@pytest.mark.parametrize("variant", [str.upper, lambda u: u + " ", lambda u: " " + u, lambda u: u + "\u200b"])
async def test_lookalike_user_ids_are_other_users(
    client: httpx.AsyncClient, victim: tuple[str, dict[str, object]], variant: Callable[[str], str]
) -> None:
    """User ids compare exactly: no case folding or trimming can reach someone else's tasks."""
    owner, _ = victim
    lookalike = variant(owner)
    assert (await client.get(f"/api/{owner}/tasks", headers=auth(lookalike))).status_code == 403
    own = await client.get(f"/api/{quote(lookalike)}/tasks", headers=auth(lookalike))
    assert own.status_code == 200
    assert own.json() == []


# Each organize filter, aimed squarely at what the victim's task carries.
FILTERS = [
    {"tag": "secret"},
    {"tags": "SECRET"},
    {"priority": "urgent"},
    {"overdue": "true"},
    {"due_before": "2026-01-01"},
    {"due_after": "2019-01-01T00:00:00Z", "due_before": "2026-01-01T00:00:00Z"},
    {"search": "Private"},
    {"status": "pending", "sort": "-priority", "limit": "5"},
    {"sort": "due_date", "limit": "1"},
]


@pytest.mark.parametrize("params", FILTERS)
async def test_filters_never_reach_other_users_not_even_in_a_count(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    victim, attacker = new_user(), new_user()
    body = {"title": "Private", "priority": "urgent", "tags": ["secret"], "due_date": "2020-01-01"}
    await client.post(f"/api/{victim}/tasks", json=body, headers=auth(victim))
    mine = await client.get(f"/api/{victim}/tasks", params=params, headers=auth(victim))
    assert [t["title"] for t in mine.json()] == ["Private"]  # the filter does match the victim's task
    theirs = await client.get(f"/api/{attacker}/tasks", params=params, headers=auth(attacker))
    assert theirs.status_code == 200
    assert theirs.json() == []
    assert theirs.headers["x-total-count"] == "0"


async def test_tags_are_per_user(client: httpx.AsyncClient) -> None:
    victim, attacker = new_user(), new_user()
    await client.post(
        f"/api/{victim}/tasks", json={"title": "v", "tags": ["secret", "shared"]}, headers=auth(victim)
    )
    await client.post(
        f"/api/{attacker}/tasks", json={"title": "a", "tags": ["shared"]}, headers=auth(attacker)
    )
    own = await client.get(f"/api/{attacker}/tags", headers=auth(attacker))
    assert own.json() == [{"name": "shared", "count": 1}]  # the victim's "shared" is not counted
    foreign = await client.get(f"/api/{victim}/tags", headers=auth(attacker))
    assert foreign.status_code == 403
    assert "secret" not in foreign.text
