"""Authentication (FR-001..FR-005, SC-003, SC-009): every bad token is 401, wrong user is 403."""

import base64
import json
import logging
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy.engine import URL

from ..support.apps import make_settings, running_app
from ..support.auth import SECRET, auth, make_token, new_user

ROUTES = [
    ("GET", "/api/{user}/tasks"),
    ("POST", "/api/{user}/tasks"),
    ("GET", "/api/{user}/tasks/1"),
    ("PUT", "/api/{user}/tasks/1"),
    ("PATCH", "/api/{user}/tasks/1"),
    ("DELETE", "/api/{user}/tasks/1"),
    ("PATCH", "/api/{user}/tasks/1/complete"),
]


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def bad_tokens(user: str) -> dict[str, str]:
    valid = make_token(user)
    header, payload, signature = valid.split(".")
    other_payload = b64({"sub": new_user(), "exp": 9_999_999_999})
    return {
        "garbage": "not-a-jwt",
        "two_segments": f"{header}.{payload}",
        "bad_base64": f"{header}.%%%.{signature}",
        "tampered_payload": f"{header}.{other_payload}.{signature}",
        "tampered_signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "wrong_secret": make_token(user, secret="another-secret-with-enough-bytes-0123456789"),
        "alg_none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "alg_hs512": make_token(user, algorithm="HS512"),
        "no_exp": jwt.encode({"sub": user}, SECRET.encode(), algorithm="HS256"),
        "no_sub": make_token(None),
        "empty_sub": make_token(""),
        "numeric_sub": jwt.encode({"sub": 42, "exp": 9_999_999_999}, SECRET.encode(), algorithm="HS256"),
        "not_yet_valid": make_token(user, nbf=9_999_999_999),
        "oversized": make_token(user, padding="x" * 9000),
    }


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_missing_token_is_401_on_every_route(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path.format(user=new_user()), json={"title": "x"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc", "bearer"])
async def test_non_bearer_authorization_is_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get(f"/api/{new_user()}/tasks", headers={"Authorization": header})
    assert response.status_code == 401


async def test_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient) -> None:
    user = new_user()
    token = make_token(user)
    response = await client.get(f"/api/{user}/tasks", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize("kind", list(bad_tokens("u")), ids=list(bad_tokens("u")))
async def test_invalid_tokens_are_401_without_detail(client: httpx.AsyncClient, kind: str) -> None:
    user = new_user()
    token = bad_tokens(user)[kind]
    response = await client.get(f"/api/{user}/tasks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid authentication token"}
    assert response.headers["www-authenticate"] == "Bearer"


async def test_expired_token_is_401_saying_it_expired(client: httpx.AsyncClient) -> None:
    user = new_user()
    response = await client.post(
        f"/api/{user}/tasks", json={"title": "Late"}, headers=auth(user, expires_in=-3600)
    )
    assert response.status_code == 401
    assert "expired" in response.json()["detail"].lower()
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_token_within_clock_skew_leeway_is_accepted(client: httpx.AsyncClient) -> None:
    user = new_user()
    response = await client.get(f"/api/{user}/tasks", headers=auth(user, expires_in=-5))
    assert response.status_code == 200


async def test_minimal_token_with_sub_iat_exp_is_enough(client: httpx.AsyncClient) -> None:
    user = new_user()
    token = make_token(user)
    assert set(jwt.decode(token, options={"verify_signature": False})) == {"sub", "iat", "exp"}
    response = await client.post(f"/api/{user}/tasks", json={"title": "Hi"}, headers=auth(user))
    assert response.status_code == 201


async def test_extra_claims_from_better_auth_are_tolerated(client: httpx.AsyncClient) -> None:
    user = new_user()
    headers = auth(user, iss="http://localhost:3000", aud="http://localhost:3000", email="a@b.c", name="A")
    assert (await client.get(f"/api/{user}/tasks", headers=headers)).status_code == 200


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_url_user_other_than_token_user_is_403(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(
        method, path.format(user=new_user()), json={"title": "x"}, headers=auth(new_user())
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "You can only access your own tasks"}


@pytest.mark.parametrize("body", [b"{not json", b'{"title": 12}', b"", b"[]"])
async def test_authentication_comes_before_body_parsing(client: httpx.AsyncClient, body: bytes) -> None:
    user = new_user()
    headers = {"Content-Type": "application/json"}
    anonymous = await client.post(f"/api/{user}/tasks", content=body, headers=headers)
    assert anonymous.status_code == 401
    wrong_user = await client.put(f"/api/{user}/tasks/1", content=body, headers=headers | auth(new_user()))
    assert wrong_user.status_code == 403


async def test_auth_failures_are_logged_without_the_token(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    user = new_user()
    token = make_token(user, secret="wrong-secret-wrong-secret-wrong-secret")
    with caplog.at_level(logging.WARNING, logger="todo_api.security"):
        await client.get(f"/api/{user}/tasks", headers={"Authorization": f"Bearer {token}"})
        await client.get(f"/api/{user}/tasks", headers=auth(user, expires_in=-600))

    records = [r for r in caplog.records if r.name == "todo_api.security"]
    assert [r.__dict__["reason"] for r in records] == ["bad_signature", "expired"]
    for record in records:
        assert record.__dict__["method"] == "GET"
        assert record.__dict__["path"] == f"/api/{user}/tasks"
        assert record.__dict__["client"] == "127.0.0.1"
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert token not in logged
    assert token.split(".")[2] not in logged
    assert SECRET not in logged


# --- JWT_USER_ID_CLAIM: a frontend's own HS256 token may carry the user id under another name ----


def user_id_claim_token(**claims: Any) -> dict[str, str]:
    """An HS256 token as a Next.js route signs it with jose, without `sub` unless given."""
    return {"Authorization": f"Bearer {make_token(None, expires_in=600, **claims)}"}


async def test_user_id_claim_from_settings_is_the_user(database_url: URL) -> None:
    user = new_user()
    async with running_app(make_settings(jwt_user_id_claim="user_id"), database_url) as client:
        created = await client.post(
            f"/api/{user}/tasks", json={"title": "Mine"}, headers=user_id_claim_token(user_id=user)
        )
        assert created.status_code == 201, created.text
        assert created.json()["user_id"] == user
        listed = await client.get(f"/api/{user}/tasks", headers=user_id_claim_token(user_id=user))
        assert [task["title"] for task in listed.json()] == ["Mine"]
        # The claim, not `sub`, decides: a `sub` naming someone else changes nothing...
        both = user_id_claim_token(user_id=user, sub=new_user())
        assert (await client.get(f"/api/{user}/tasks", headers=both)).status_code == 200
        # ...and a token that carries only `sub` no longer authenticates.
        only_sub = await client.get(f"/api/{user}/tasks", headers=auth(user))
        assert only_sub.status_code == 401
        assert only_sub.headers["www-authenticate"] == "Bearer"
        # Another user's URL is still 403.
        other = await client.get(f"/api/{new_user()}/tasks", headers=user_id_claim_token(user_id=user))
        assert other.status_code == 403


@pytest.mark.parametrize("value", ["", 42, None, ["user-a"], {"id": "user-a"}, True, "x" * 256, "a\x00b"])
async def test_user_id_claim_that_is_not_a_non_empty_string_is_401(database_url: URL, value: object) -> None:
    async with running_app(make_settings(jwt_user_id_claim="user_id"), database_url) as client:
        response = await client.get("/api/user-a/tasks", headers=user_id_claim_token(user_id=value))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid authentication token"}


async def test_default_claim_is_sub(client: httpx.AsyncClient) -> None:
    user = new_user()
    assert (await client.get(f"/api/{user}/tasks", headers=auth(user))).status_code == 200
    only_user_id = await client.get(f"/api/{user}/tasks", headers=user_id_claim_token(user_id=user))
    assert only_user_id.status_code == 401
