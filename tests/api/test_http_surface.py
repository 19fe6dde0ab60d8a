"""CORS (FR-019) and the OpenAPI document."""

import httpx
import pytest

from todo_api.main import openapi_document

from ..support.apps import FRONTEND
from ..support.auth import auth, new_user


async def test_preflight_from_the_frontend_origin_is_allowed(client: httpx.AsyncClient) -> None:
    response = await client.options(
        f"/api/{new_user()}/tasks",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == FRONTEND
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "PUT" in response.headers["access-control-allow-methods"]


async def test_actual_request_from_frontend_gets_cors_headers(client: httpx.AsyncClient) -> None:
    user = new_user()
    response = await client.get(f"/api/{user}/tasks", headers=auth(user) | {"Origin": FRONTEND})
    assert response.headers["access-control-allow-origin"] == FRONTEND


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost:3001", "https://localhost:3000"])
async def test_other_origins_are_not_allowed(client: httpx.AsyncClient, origin: str) -> None:
    preflight = await client.options(
        f"/api/{new_user()}/tasks", headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    user = new_user()
    actual = await client.get(f"/api/{user}/tasks", headers=auth(user) | {"Origin": origin})
    assert "access-control-allow-origin" not in actual.headers


# Every task operation can also answer 401, 403, 413 (any body over the limit), 500 and 503.
_ANY = {"401", "403", "413", "422", "429", "500", "503"}
EXPECTED_STATUSES = {
    ("get", "/api/{user_id}/tasks"): {"200"} | _ANY,
    ("post", "/api/{user_id}/tasks"): {"201", "400", "409"} | _ANY,
    ("get", "/api/{user_id}/tasks/{task_id}"): {"200", "304", "404"} | _ANY,
    ("put", "/api/{user_id}/tasks/{task_id}"): {"200", "400", "404", "412"} | _ANY,
    ("patch", "/api/{user_id}/tasks/{task_id}"): {"200", "400", "404", "412"} | _ANY,
    ("delete", "/api/{user_id}/tasks/{task_id}"): {"204", "404", "412"} | _ANY,
    ("patch", "/api/{user_id}/tasks/{task_id}/complete"): {"200", "404", "412"} | _ANY,
    ("get", "/api/{user_id}/tags"): {"200"} | _ANY,
    ("get", "/api/{user_id}/notifications"): {"200"} | _ANY,
    ("post", "/api/{user_id}/notifications/{notification_id}/read"): {"200", "404"} | _ANY,
    ("post", "/api/{user_id}/notifications/read"): {"204"} | _ANY,
    ("get", "/api/{user_id}/events"): {"200"} | _ANY,
    ("delete", "/api/{user_id}"): {"204"} | _ANY,
}


async def test_openapi_documents_every_task_route_exactly(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    operations = {
        (method, path): op
        for path, item in spec["paths"].items()
        if path.startswith("/api/")
        for method, op in item.items()
    }
    assert set(operations) == set(EXPECTED_STATUSES)
    for key, operation in operations.items():
        assert operation["security"] == [{"HTTPBearer": []}], key
        assert set(operation["responses"]) == EXPECTED_STATUSES[key], key
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")) and code != "422":
                schema = response["content"]["application/json"]["schema"]
                model = "ServerErrorResponse" if code.startswith("5") else "ErrorResponse"  # + request_id
                assert schema == {"$ref": f"#/components/schemas/{model}"}, (key, code)
    assert spec["components"]["schemas"]["TaskRead"]["examples"]


async def test_trailing_slashes_are_served_like_the_slashless_paths(client: httpx.AsyncClient) -> None:
    user = new_user()
    headers = auth(user)
    base = f"/api/{user}/tasks"
    created = await client.post(f"{base}/", json={"title": "Slash"}, headers=headers)
    assert created.status_code == 201, created.text
    task = f"{base}/{created.json()['id']}"
    for path in (base, task):
        plain, slashed = (
            await client.get(path, headers=headers),
            await client.get(f"{path}/", headers=headers),
        )
        assert slashed.status_code == plain.status_code == 200  # never a 307 redirect
        assert slashed.content == plain.content
        assert slashed.headers.get("etag") == plain.headers.get("etag")
        assert slashed.headers.get("x-total-count") == plain.headers.get("x-total-count")
    paged = await client.get(f"{base}/", params={"limit": 1}, headers=headers)
    assert paged.status_code == 200
    assert (await client.put(f"{task}/", json={"title": "Put"}, headers=headers)).json()["title"] == "Put"
    assert (await client.patch(f"{task}/", json={"title": "Patch"}, headers=headers)).json()[
        "title"
    ] == "Patch"
    assert (await client.patch(f"{task}/complete/", headers=headers)).json()["completed"] is True
    forbidden = await client.get(f"/api/{new_user()}/tasks/", headers=headers)
    assert forbidden.status_code == 403
    assert (await client.delete(f"{task}/", headers=headers)).status_code == 204
    assert (await client.get(f"{task}/", headers=headers)).status_code == 404
    assert (await client.get(f"{base}/", headers=headers)).content == b"[]"


async def test_openapi_lists_each_path_once_without_trailing_slash(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.endswith("/")]


@pytest.mark.parametrize(
    ("path", "method", "allow"),
    [
        ("/api/{user}/tasks", "OPTIONS", "GET, POST"),
        ("/api/{user}/tasks", "DELETE", "GET, POST"),
        ("/api/{user}/tasks/", "PUT", "GET, POST"),
        ("/api/{user}/tasks/1", "OPTIONS", "GET, PUT, PATCH, DELETE"),
        ("/api/{user}/tasks/1", "POST", "GET, PUT, PATCH, DELETE"),
        ("/api/{user}/tasks/1/complete", "GET", "PATCH"),
        ("/api/{user}/tasks/1/complete", "OPTIONS", "PATCH"),
    ],
)
async def test_405_allow_lists_every_method_of_the_path(
    client: httpx.AsyncClient, path: str, method: str, allow: str
) -> None:
    user = new_user()
    # A plain OPTIONS (no CORS preflight headers) and an unsupported method, with or without a token.
    for headers in ({}, auth(user)):
        response = await client.request(method, path.format(user=user), headers=headers)
        assert response.status_code == 405
        assert response.headers["allow"] == allow
        assert response.json() == {"detail": "Method Not Allowed"}


async def test_the_service_serves_the_same_document(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.json")).json() == openapi_document()
