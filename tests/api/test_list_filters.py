"""The organize filters and sorts of the list: status, priority, tags, due dates, overdue, search,
the peers' parameter names, keyset paging over every new sort, and `/tags`."""

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import URL

from todo_api.storage.urls import libpq_dsn
from todo_api.tasks.queries import ListQuery, list_params, list_sql
from todo_api.tasks.repository import TaskRepository

from ..support.auth import auth, new_user
from ..support.tasks import create_task


async def titles(client: httpx.AsyncClient, user: str, **params: str) -> list[str]:
    response = await client.get(f"/api/{user}/tasks", params=params, headers=auth(user))
    assert response.status_code == 200, response.text
    assert response.headers["x-total-count"] == str(len(response.json()))
    return [task["title"] for task in response.json()]


@pytest.fixture
async def organized(client: httpx.AsyncClient) -> str:
    """A user with five tasks across priorities, tags and due dates."""
    user = new_user()
    bodies: list[dict[str, Any]] = [
        {"title": "rent", "priority": "urgent", "tags": ["Home", "money"], "due_date": "2026-12-01"},
        {"title": "report", "priority": "high", "tags": ["work"], "due_date": "2026-12-03T09:00:00Z"},
        {"title": "plants", "priority": "low", "tags": ["home"], "due_date": "2026-12-10T18:00",
         "time_zone": "America/New_York"},
        {"title": "call", "priority": "high", "tags": ["work", "phone"], "completed": True},
        {"title": "ideas", "tags": []},
    ]  # fmt: skip
    for body in bodies:
        await create_task(client, user, **body)
    return user


async def test_status_and_its_alias_and_contradictions(client: httpx.AsyncClient, organized: str) -> None:
    assert await titles(client, organized, status="completed") == ["call"]
    assert await titles(client, organized, status="pending") == ["rent", "report", "plants", "ideas"]
    assert await titles(client, organized, status="incomplete") == await titles(
        client, organized, completed="false"
    )
    assert await titles(client, organized, status_filter="completed", completed="true") == ["call"]
    assert len(await titles(client, organized, status="all")) == 5
    contradiction = await client.get(
        f"/api/{organized}/tasks", params={"status": "pending", "completed": "true"}, headers=auth(organized)
    )
    assert contradiction.status_code == 422
    assert [e["loc"] for e in contradiction.json()["detail"]] == [["query", "status"]]


async def test_priorities_tags_and_search(client: httpx.AsyncClient, organized: str) -> None:
    assert await titles(client, organized, priority="high,URGENT") == ["rent", "report", "call"]
    assert await titles(client, organized, priority_filter="medium") == ["ideas"]
    assert await titles(client, organized, tag="home") == ["rent", "plants"]  # in any case
    assert await titles(client, organized, tag="work, phone") == ["call"]  # all of them
    assert await titles(client, organized, tags="HOME,money", tag_filter="home,money") == ["rent"]
    assert await titles(client, organized, tags_filter="nothing") == []
    assert await titles(client, organized, search="REP") == ["report"]
    assert await titles(client, organized, search_query="plant", q="plant") == ["plants"]
    assert await titles(client, organized, tag="work", status="pending", priority="high") == ["report"]


async def test_due_ranges_by_date_and_by_instant(client: httpx.AsyncClient, organized: str) -> None:
    # By date: each task's date in its own zone (18:00 New York on the 10th is the 10th).
    assert await titles(client, organized, due_before="2026-12-03") == ["rent", "report"]
    assert await titles(client, organized, due_after="2026-12-03", due_before="2026-12-10") == [
        "report",
        "plants",
    ]
    # By instant: the all-day task counts while its (UTC) day lasts.
    assert await titles(client, organized, due_after="2026-12-01T23:00:00Z") == ["rent", "report", "plants"]
    assert await titles(client, organized, due_after="2026-12-02T00:00:00Z") == ["report", "plants"]
    assert await titles(client, organized, due_before="2026-12-03T08:59:59Z") == ["rent"]
    assert await titles(client, organized, due_before="2026-12-03T09:00") == ["rent", "report"]  # UTC


async def test_sorts_with_tasks_without_a_due_date_last(client: httpx.AsyncClient, organized: str) -> None:
    assert await titles(client, organized, sort="priority") == ["plants", "ideas", "report", "call", "rent"]
    assert await titles(client, organized, sort="-priority") == ["rent", "call", "report", "ideas", "plants"]
    assert await titles(client, organized, sort="due_date") == ["rent", "report", "plants", "call", "ideas"]
    assert await titles(client, organized, sort="-due_date") == ["plants", "report", "rent", "ideas", "call"]
    peer = await titles(client, organized, sort_by="due_date", sort_order="desc")
    assert peer == await titles(client, organized, sort="-due_date")
    assert await titles(client, organized, sort_by="priority", order="desc") == await titles(
        client, organized, sort="-priority"
    )
    assert (await titles(client, organized, sort="title", sort_by="title", sort_order="asc"))[:1] == ["call"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"priority": "critical"}, "priority"),
        ({"priority": ""}, "priority"),
        ({"tag": ","}, "tag"),
        ({"tag": "a" * 33}, "tag"),
        ({"tags": ",".join(f"t{n}" for n in range(21))}, "tags"),
        ({"due_before": "2026-02-30"}, "due_before"),
        ({"due_after": "soon"}, "due_after"),
        ({"overdue": "maybe"}, "overdue"),
        ({"status": "open"}, "status"),
        ({"sort": "-priority", "sort_by": "priority", "sort_order": "asc"}, "sort_by"),
        ({"sort": "-title", "order": "asc"}, "sort_order"),
        ({"sort_order": "asc", "order": "desc"}, "order"),
        ({"sort_by": "urgency"}, "sort_by"),
        ({"q": "a", "search": "b"}, "search"),
        ({"status": "pending", "status_filter": "completed"}, "status_filter"),
        ({"tag": "a", "tags": "b"}, "tags"),
    ],
)
async def test_bad_values_are_422_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, str], parameter: str
) -> None:
    user = new_user()
    response = await client.get(f"/api/{user}/tasks", params=params, headers=auth(user))
    assert response.status_code == 422, response.text
    assert ["query", parameter] in [error["loc"] for error in response.json()["detail"]]


async def overdue(repository: TaskRepository, user: str, now: datetime) -> list[str]:
    page = await repository.page(user, ListQuery(overdue=True, now=now))
    return [task["title"] for task in json.loads(page.json)]


async def test_an_all_day_task_is_overdue_when_its_day_ends_in_its_zone(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """Honolulu (UTC-10) ends its 4th at 10:00 UTC on the 5th; Auckland (UTC+13) its 5th at 11:00 UTC."""
    user = new_user()
    await create_task(client, user, title="auckland 5th", due_date="2026-12-05", time_zone="Pacific/Auckland")
    await create_task(client, user, title="honolulu 4th", due_date="2026-12-04", time_zone="Pacific/Honolulu")
    await create_task(client, user, title="utc 4th", due_date="2026-12-04", time_zone="UTC")
    repository = app.state.repository
    # Honolulu's 4th still runs though UTC's has ended...
    assert await overdue(repository, user, datetime(2026, 12, 5, 9, 59, tzinfo=UTC)) == ["utc 4th"]
    assert await overdue(repository, user, datetime(2026, 12, 5, 10, 0, tzinfo=UTC)) == [
        "honolulu 4th",
        "utc 4th",
    ]
    # ... and Auckland's 5th has ended though UTC's has not.
    assert await overdue(repository, user, datetime(2026, 12, 5, 10, 59, tzinfo=UTC)) == [
        "honolulu 4th",
        "utc 4th",
    ]
    assert await overdue(repository, user, datetime(2026, 12, 5, 11, 0, tzinfo=UTC)) == [
        *["auckland 5th", "honolulu 4th", "utc 4th"]
    ]


async def test_tags_lists_each_tag_once_with_its_count(client: httpx.AsyncClient, organized: str) -> None:
    response = await client.get(f"/api/{organized}/tags", headers=auth(organized))
    assert response.status_code == 200
    assert response.json() == [
        {
            "name": "home",
            "count": 2,
        },  # "Home" and "home": one tag; the spelling most tasks use (a tie: the first)
        {"name": "money", "count": 1},
        {"name": "phone", "count": 1},
        {"name": "work", "count": 2},
    ]
    assert (await client.get(f"/api/{new_user()}/tags", headers=auth(organized))).status_code == 403
    assert (await client.get(f"/api/{organized}/tags")).status_code == 401
    empty = new_user()
    assert (await client.get(f"/api/{empty}/tags", headers=auth(empty))).content == b"[]"


@pytest.mark.parametrize("sort", ["priority", "-priority", "due_date", "-due_date"])
async def test_cursor_pages_over_ties_skip_and_repeat_nothing_while_tasks_change(
    client: httpx.AsyncClient, sort: str
) -> None:
    """30 tasks in 3 priorities and 4 due dates (and none): every page boundary falls in a tie."""
    user = new_user()
    created = []
    for n in range(30):
        body: dict[str, Any] = {"title": f"t{n:02}", "priority": ["low", "high", "urgent"][n % 3]}
        if n % 5:
            body["due_date"] = f"2026-12-0{1 + n % 4}"
        created.append(await create_task(client, user, **body))
    seen: list[int] = []
    params: dict[str, str] = {"sort": sort, "limit": "4"}
    extra = 0
    while True:
        page = await client.get(f"/api/{user}/tasks", params=params, headers=auth(user))
        seen += [task["id"] for task in page.json()]
        # Between pages: one new task, and one task not yet seen deleted.
        extra += 1
        await create_task(client, user, title=f"new{extra}", priority="medium")
        unseen = [t["id"] for t in created if t["id"] not in seen]
        if unseen:
            await client.delete(f"/api/{user}/tasks/{unseen[-1]}", headers=auth(user))
            created = [t for t in created if t["id"] != unseen[-1]]
        link = page.headers.get("link")
        if link is None:
            break
        params = {key: values[0] for key, values in parse_qs(urlsplit(link[1:].split(">")[0]).query).items()}
    assert len(seen) == len(set(seen)), "a task was repeated"
    survivors = {t["id"] for t in created}
    assert survivors <= set(seen), "a task that was there all along was skipped"


@pytest.fixture(scope="module")
def big_user(database_url: URL, app: FastAPI) -> str:
    """A user with 5 000 tasks (a tenth tagged work, an eighth overdue), vacuumed and analyzed."""
    user = new_user()
    with psycopg.connect(libpq_dsn(database_url), autocommit=True) as conn:
        conn.execute(
            """INSERT INTO tasks (user_id, title, priority, tags, due_at, due_day, overdue_at)
            SELECT %(user)s, 'Task ' || g, g %% 4, CASE WHEN g %% 10 = 0 THEN ARRAY['work'] ELSE '{}' END,
                   due, due::date, due
            FROM generate_series(1, 5000) g,
                 LATERAL (SELECT CASE WHEN g %% 8 = 0 THEN now() - interval '1 day'
                                      ELSE now() + g * interval '1 hour' END AS due) d""",
            {"user": user},
        )
        conn.execute("VACUUM ANALYZE tasks")  # as autovacuum soon would: counts become index-only scans
    return user


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (ListQuery(tags=("work",), limit=50), "ix_tasks_tag_keys"),
        (ListQuery(overdue=True, limit=50), "ix_tasks_user_id_overdue"),
        (ListQuery(sort="due_date", limit=50), "ix_tasks_user_id_due_first"),
        (ListQuery(sort="-due_date", limit=50), "ix_tasks_user_id_due_last"),
        (ListQuery(priorities=(3,), sort="priority", limit=50), "ix_tasks_user_id_priority_id"),
    ],
)
def test_each_new_filter_and_sort_reads_its_index(
    database_url: URL, big_user: str, query: ListQuery, index: str
) -> None:
    """The plans PostgreSQL picks on its own for a user with thousands of tasks (bench/ shows 100 000)."""
    with psycopg.connect(libpq_dsn(database_url)) as conn:
        plan = "\n".join(
            str(row[0]) for row in conn.execute("EXPLAIN " + list_sql(query), list_params(big_user, query))
        )
    assert index in plan, plan
    assert "Seq Scan" not in plan, plan
