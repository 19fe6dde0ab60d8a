"""List queries: paging (offset and cursor), filters, search and sort, with the plain list unchanged."""

from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import URL

from todo_api.storage.urls import libpq_dsn

from ..support.auth import auth, new_user
from ..support.tasks import create_tasks


def next_link(response: httpx.Response) -> str | None:
    link: str | None = response.headers.get("link")
    if link is None:
        return None
    target, rel = link.split(";")
    assert rel.strip() == 'rel="next"'
    return target.strip()[1:-1]


async def test_plain_list_is_unchanged_and_counts(client: httpx.AsyncClient) -> None:
    user = new_user()
    tasks = await create_tasks(client, user, ["a", "b", "c"])
    response = await client.get(f"/api/{user}/tasks", headers=auth(user))
    assert response.json() == tasks
    assert response.headers["x-total-count"] == "3"
    assert "link" not in response.headers


@pytest.mark.parametrize(
    "sort", ["created_at", "-created_at", "updated_at", "-updated_at", "title", "-title"]
)
@pytest.mark.parametrize("mode", ["cursor", "offset"])
async def test_following_next_links_visits_every_task_once_in_order(
    client: httpx.AsyncClient, sort: str, mode: str
) -> None:
    user = new_user()
    tasks = await create_tasks(
        client, user, ["pear", "Apple", "fig", "apple", "kiwi", "date", "fig", "banana"]
    )
    # Touch some so updated_at order differs from creation order.
    for task in (tasks[3], tasks[0]):
        await client.patch(f"/api/{user}/tasks/{task['id']}/complete", headers=auth(user))
    everything = (await client.get(f"/api/{user}/tasks", params={"sort": sort}, headers=auth(user))).json()

    url: str | None = f"/api/{user}/tasks?limit=3&sort={sort}" + ("&offset=0" if mode == "offset" else "")
    seen: list[dict[str, object]] = []
    for _ in range(10):  # 8 tasks, 3 a page: 3 pages; more means the links go round in circles
        if url is None:
            break
        response = await client.get(url, headers=auth(user))
        assert response.status_code == 200
        assert response.headers["x-total-count"] == "8"
        page = response.json()
        assert len(page) <= 3
        seen += page
        url = next_link(response)
    assert url is None
    assert seen == everything
    assert len({t["id"] for t in seen}) == 8


async def test_sort_orders(client: httpx.AsyncClient) -> None:
    user = new_user()
    tasks = await create_tasks(client, user, ["b", "c", "a"])

    async def listed(sort: str, field: str = "title") -> list[object]:
        response = await client.get(f"/api/{user}/tasks", params={"sort": sort}, headers=auth(user))
        return [task[field] for task in response.json()]

    assert await listed("title") == ["a", "b", "c"]
    assert await listed("-title") == ["c", "b", "a"]
    assert await listed("-created_at", "id") == [t["id"] for t in reversed(tasks)]
    await client.put(f"/api/{user}/tasks/{tasks[0]['id']}", json={"title": "b2"}, headers=auth(user))
    assert (await listed("-updated_at"))[0] == "b2"


async def test_completed_filter_and_search(client: httpx.AsyncClient) -> None:
    user = new_user()
    await client.post(f"/api/{user}/tasks", json={"title": "Buy MILK"}, headers=auth(user))
    await client.post(
        f"/api/{user}/tasks", json={"title": "Call", "description": "about the milkman"}, headers=auth(user)
    )
    await client.post(
        f"/api/{user}/tasks", json={"title": "100% done_x", "completed": True}, headers=auth(user)
    )
    base = f"/api/{user}/tasks"

    def titles(response: httpx.Response) -> list[str]:
        return [t["title"] for t in response.json()]

    assert titles(await client.get(base, params={"q": "milk"}, headers=auth(user))) == ["Buy MILK", "Call"]
    assert titles(await client.get(base, params={"completed": "true"}, headers=auth(user))) == ["100% done_x"]
    assert titles(await client.get(base, params={"completed": "false", "q": "MILK"}, headers=auth(user))) == [
        "Buy MILK",
        "Call",
    ]
    # LIKE wildcards in q are literal characters.
    assert titles(await client.get(base, params={"q": "100%"}, headers=auth(user))) == ["100% done_x"]
    assert titles(await client.get(base, params={"q": "%"}, headers=auth(user))) == ["100% done_x"]
    assert titles(await client.get(base, params={"q": "e_x"}, headers=auth(user))) == ["100% done_x"]
    response = await client.get(base, params={"q": "milk", "limit": "1"}, headers=auth(user))
    assert response.headers["x-total-count"] == "2"
    assert next_link(response) is not None


async def test_search_never_reaches_other_users(client: httpx.AsyncClient) -> None:
    me, other = new_user(), new_user()
    await client.post(f"/api/{other}/tasks", json={"title": "secret plan"}, headers=auth(other))
    response = await client.get(f"/api/{me}/tasks", params={"q": "secret"}, headers=auth(me))
    assert response.json() == []
    assert response.headers["x-total-count"] == "0"


async def test_offset_past_the_end_is_an_empty_page_with_the_total(client: httpx.AsyncClient) -> None:
    user = new_user()
    await create_tasks(client, user, ["a", "b"])
    response = await client.get(
        f"/api/{user}/tasks", params={"limit": "5", "offset": "10"}, headers=auth(user)
    )
    assert response.json() == []
    assert response.headers["x-total-count"] == "2"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"sort": "password"}, "sort"),
        ({"sort": "user_id"}, "sort"),
        ({"completed": "maybe"}, "completed"),
        ({"q": ""}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"limit": "2", "cursor": "not-a-cursor"}, "cursor"),
        ({"limit": "2", "cursor": "WyJ0aXRsZSIsICJhIiwgIjEiXQ"}, "cursor"),  # a cursor for sort=title
        ({"limit": "2", "offset": "2", "cursor": "x"}, "cursor"),
        ({"cursor": "WyJjcmVhdGVkX2F0IiwgIjEiXQ"}, "limit"),
    ],
)
async def test_bad_query_values_are_422_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, str], parameter: str
) -> None:
    user = new_user()
    response = await client.get(f"/api/{user}/tasks", params=params, headers=auth(user))
    assert response.status_code == 422, response.text
    assert ["query", parameter] in [error["loc"] for error in response.json()["detail"]]


async def test_cursor_of_another_user_reveals_nothing(client: httpx.AsyncClient) -> None:
    victim, attacker = new_user(), new_user()
    await create_tasks(client, victim, ["v1", "v2", "v3"])
    first = await client.get(f"/api/{victim}/tasks", params={"limit": "1"}, headers=auth(victim))
    cursor = parse_qs(urlsplit(next_link(first) or "").query)["cursor"][0]
    stolen = await client.get(
        f"/api/{attacker}/tasks", params={"limit": "5", "cursor": cursor}, headers=auth(attacker)
    )
    assert stolen.status_code == 200
    assert stolen.json() == []


async def test_cors_exposes_paging_and_etag_headers(client: httpx.AsyncClient) -> None:
    user = new_user()
    response = await client.get(
        f"/api/{user}/tasks", headers=auth(user) | {"Origin": "http://localhost:3000"}
    )
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"x-total-count", "link", "etag"} <= exposed


async def test_keyset_pages_are_index_range_scans(app: FastAPI, database_url: URL) -> None:
    """Stays fast for 100 000 tasks: every sort reads its page straight off an index, no sort."""
    from todo_api.tasks.queries import ListQuery, list_sql

    with psycopg.connect(libpq_dsn(database_url)) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        for sort, after in [("created_at", ["5"]), ("-updated_at", ["2026-01-01T00:00:00.000000+00:00", "5"]),
                            ("title", ["m", "5"])]:  # fmt: skip
            query = ListQuery(sort=sort, limit=50, after=after)
            params = {"user_id": "u", "completed": None, "offset": 0, "fetch": 51}
            params |= {f"after_{n}": value for n, value in enumerate(after)}
            plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + list_sql(query), params).fetchall())
            inner = plan.split("->  Limit")[1]
            assert "Index" in inner, plan
            assert "Sort" not in inner, plan


def crafted_cursor(*values: object) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("updated_at", crafted_cursor("updated_at", "garbage", "1")),
        ("updated_at", crafted_cursor("updated_at", "2026-01-01T00:00:00", "1")),  # no offset
        ("created_at", crafted_cursor("created_at", "99999999999999999999")),
        ("created_at", crafted_cursor("created_at", "\u0661")),  # a digit, but not an ASCII one
        ("created_at", crafted_cursor("created_at", 5)),
        ("title", crafted_cursor("title", "a\x00", "1")),
        ("created_at", crafted_cursor(*(["created_at"] * 3))),
        ("created_at", "W" * 2000),
        ("created_at", crafted_cursor("[" * 1500)),
    ],
)
async def test_crafted_cursors_are_422_not_500(client: httpx.AsyncClient, sort: str, cursor: str) -> None:
    user = new_user()
    params = {"limit": "2", "sort": sort, "cursor": cursor}
    response = await client.get(f"/api/{user}/tasks", params=params, headers=auth(user))
    assert response.status_code == 422, response.text
    assert ["query", "cursor"] in [error["loc"] for error in response.json()["detail"]]


async def test_offset_without_limit_skips_that_many(client: httpx.AsyncClient) -> None:
    user = new_user()
    tasks = await create_tasks(client, user, ["a", "b", "c", "d"])
    response = await client.get(f"/api/{user}/tasks", params={"offset": "3"}, headers=auth(user))
    assert response.json() == tasks[3:]
    assert response.headers["x-total-count"] == "4"


async def test_link_header_percent_encodes_the_path(client: httpx.AsyncClient) -> None:
    user = "odd user>;x"
    await create_tasks(client, user, ["a", "b"])
    response = await client.get(f"/api/{user}/tasks", params={"limit": "1"}, headers=auth(user))
    link = next_link(response)
    assert link is not None
    assert link.startswith("/api/odd%20user%3E%3Bx/tasks?")
    assert (await client.get(link, headers=auth(user))).json()[0]["title"] == "b"
