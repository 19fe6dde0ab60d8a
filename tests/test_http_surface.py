"""CORS (FR-019) and the OpenAPI document."""

import httpx
import pytest

from .conftest import FRONTEND
from .helpers import auth, new_user


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


EXPECTED_STATUSES = {
    ("get", "/api/{user_id}/tasks"): {"200", "401", "403", "422", "503"},
    ("post", "/api/{user_id}/tasks"): {"201", "400", "401", "403", "413", "422", "503"},
    ("get", "/api/{user_id}/tasks/{task_id}"): {"200", "304", "401", "403", "404", "422", "503"},
    ("put", "/api/{user_id}/tasks/{task_id}"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "412",
        "413",
        "422",
        "503",
    },
    ("patch", "/api/{user_id}/tasks/{task_id}"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "412",
        "413",
        "422",
        "503",
    },
    ("delete", "/api/{user_id}/tasks/{task_id}"): {"204", "401", "403", "404", "412", "422", "503"},
    ("patch", "/api/{user_id}/tasks/{task_id}/complete"): {"200", "401", "403", "404", "412", "422", "503"},
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
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (key, code)
    assert spec["components"]["schemas"]["TaskRead"]["examples"]
