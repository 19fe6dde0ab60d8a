"""Bad input gets a clear JSON error and changes nothing (FR-007, FR-008, FR-015, SC-008)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from ..support.auth import auth, new_user
from ..support.tasks import create_task


def error_fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert all({"loc", "msg", "type"} <= set(item) for item in detail)
    return [item["loc"][-1] for item in detail]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"description": "no title"}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   \t\n "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": None}, "title"),
        ({"title": 123}, "title"),
        ({"title": "ok", "description": "d" * 1001}, "description"),
        ({"title": "ok", "description": 5}, "description"),
        ({"title": "ok", "completed": "yes"}, "completed"),
        ({"title": "nul\x00byte"}, "title"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_invalid_bodies_are_422_naming_the_field(
    client: httpx.AsyncClient, method: str, body: dict[str, object], field: str
) -> None:
    user = new_user()
    task = await create_task(client, user, title="Original", description="D")
    url = f"/api/{user}/tasks" if method == "POST" else f"/api/{user}/tasks/{task['id']}"

    response = await client.request(method, url, json=body, headers=auth(user))

    assert field in error_fields(response)
    assert (await client.get(f"/api/{user}/tasks", headers=auth(user))).json() == [task]  # nothing changed


async def test_title_is_trimmed_before_validation_and_storage(client: httpx.AsyncClient) -> None:
    user = new_user()
    padded = "  " + "x" * 200 + "  "
    response = await client.post(f"/api/{user}/tasks", json={"title": padded}, headers=auth(user))
    assert response.status_code == 201
    assert response.json()["title"] == "x" * 200


async def test_limits_are_inclusive_and_count_characters(client: httpx.AsyncClient) -> None:
    user = new_user()
    body = {"title": "é" * 200, "description": "✓" * 1000}
    response = await client.post(f"/api/{user}/tasks", json=body, headers=auth(user))
    assert response.status_code == 201
    assert response.json()["title"] == body["title"]
    assert response.json()["description"] == body["description"]


@pytest.mark.parametrize("body", [b"{not json", b'{"title": "x",}', b"\xff\xfe"])
async def test_body_that_is_not_json_is_400(client: httpx.AsyncClient, body: bytes) -> None:
    user = new_user()
    response = await client.post(
        f"/api/{user}/tasks", content=body, headers=auth(user) | {"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Request body is not valid JSON"}


async def test_json_that_is_not_an_object_is_422(client: httpx.AsyncClient) -> None:
    user = new_user()
    response = await client.post(f"/api/{user}/tasks", json=["title"], headers=auth(user))
    assert response.status_code == 422


async def test_body_over_64kb_is_413(client: httpx.AsyncClient) -> None:
    user = new_user()
    body = b'{"title": "' + b"x" * 70_000 + b'"}'
    response = await client.post(
        f"/api/{user}/tasks", content=body, headers=auth(user) | {"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large"}


async def test_streamed_body_over_64kb_is_413(client: httpx.AsyncClient) -> None:
    user = new_user()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: a chunked upload
        yield b'{"title": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    response = await client.post(
        f"/api/{user}/tasks", content=chunks(), headers=auth(user) | {"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert (await client.get(f"/api/{user}/tasks", headers=auth(user))).json() == []


@pytest.mark.parametrize("task_id", ["abc", "1.5", "0", "-1", str(2**63)])
async def test_bad_task_ids_are_422(client: httpx.AsyncClient, task_id: str) -> None:
    user = new_user()
    response = await client.get(f"/api/{user}/tasks/{task_id}", headers=auth(user))
    assert response.status_code == 422
    assert "task_id" in error_fields(response)


async def test_unknown_routes_and_methods_answer_json(client: httpx.AsyncClient) -> None:
    user = new_user()
    missing = await client.get("/nope")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not Found"}
    wrong_method = await client.post(f"/api/{user}/tasks/1", headers=auth(user))
    assert wrong_method.status_code == 405
    assert "detail" in wrong_method.json()


@pytest.mark.parametrize(
    "body", [b'{"title": "a\\ud800b"}', b'{"title": "ok", "description": "\\udfff"}', b'{"title": "\\u0000"}']
)
async def test_text_that_cannot_be_stored_is_422_not_500(client: httpx.AsyncClient, body: bytes) -> None:
    user = new_user()
    response = await client.post(
        f"/api/{user}/tasks", content=body, headers=auth(user) | {"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


@pytest.mark.parametrize("q", ["a\x00b"])
async def test_search_text_with_nul_is_422(client: httpx.AsyncClient, q: str) -> None:
    user = new_user()
    response = await client.get(f"/api/{user}/tasks", params={"q": q}, headers=auth(user))
    assert response.status_code == 422
