"""Tokens from the real Better Auth jwt plugin, verified against its JWKS over HTTP (RFC 8725)."""

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import URL

from ..support.apps import make_settings, running_app
from ..support.auth import SECRET, auth, new_user
from ..support.better_auth import Issuer, better_auth, decode_segment

pytestmark = pytest.mark.slow


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def with_header(token: str, **changes: object) -> str:
    """The same payload and signature under an edited header (what an attacker can do)."""
    header, payload, signature = token.split(".")
    edited = decode_segment(header) | changes
    return f"{b64(json.dumps(edited).encode())}.{payload}.{signature}"


@asynccontextmanager
async def api_for(issuer: Issuer, database_url: URL, **settings: object) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(
        make_settings(better_auth_url=issuer.base_url, **settings), database_url
    ) as client:
        yield client


@pytest.fixture(scope="module")
def eddsa_issuer() -> Iterator[Issuer]:
    with better_auth("EdDSA") as issuer:
        yield issuer


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "ES512", "RS256", "PS256"])
async def test_real_better_auth_tokens_are_accepted(alg: str, database_url: URL) -> None:
    with better_auth(alg) as issuer:
        token, user_id = issuer.mint()
        assert decode_segment(token.split(".")[0])["alg"] == alg
        async with api_for(issuer, database_url) as client:
            created = await client.post(f"/api/{user_id}/tasks", json={"title": alg}, headers=bearer(token))
            assert created.status_code == 201, created.text
            assert created.json()["user_id"] == user_id
            listed = await client.get(f"/api/{user_id}/tasks", headers=bearer(token))
            assert [t["title"] for t in listed.json()] == [alg]


async def test_both_paths_work_side_by_side(eddsa_issuer: Issuer, database_url: URL) -> None:
    token, user_id = eddsa_issuer.mint()
    async with api_for(eddsa_issuer, database_url) as client:
        assert (await client.get(f"/api/{user_id}/tasks", headers=bearer(token))).status_code == 200
        other = new_user()
        assert (await client.get(f"/api/{other}/tasks", headers=auth(other))).status_code == 200


async def test_real_token_for_another_users_url_is_403(eddsa_issuer: Issuer, database_url: URL) -> None:
    token, _ = eddsa_issuer.mint()
    _, someone_else = eddsa_issuer.mint()
    async with api_for(eddsa_issuer, database_url) as client:
        response = await client.get(f"/api/{someone_else}/tasks", headers=bearer(token))
    assert response.status_code == 403


async def test_token_from_another_better_auth_deployment_is_401(
    eddsa_issuer: Issuer, database_url: URL
) -> None:
    with better_auth("EdDSA") as other_deployment:
        token, user_id = other_deployment.mint()
    async with api_for(eddsa_issuer, database_url) as client:
        response = await client.get(f"/api/{user_id}/tasks", headers=bearer(token))
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("setting", "reason"), [("better_auth_issuer", "issuer"), ("better_auth_audience", "audience")]
)
async def test_issuer_and_audience_must_match_configuration(
    eddsa_issuer: Issuer, database_url: URL, setting: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    token, user_id = eddsa_issuer.mint()
    async with api_for(eddsa_issuer, database_url, **{setting: "https://other.example"}) as client:
        with caplog.at_level(logging.WARNING, logger="todo_api.security"):
            response = await client.get(f"/api/{user_id}/tasks", headers=bearer(token))
    assert response.status_code == 401
    assert [r.__dict__.get("reason") for r in caplog.records if r.name == "todo_api.security"] == [reason]


async def test_expired_real_token_is_401_saying_so(database_url: URL) -> None:
    with better_auth("EdDSA", JWT_EXPIRATION="-1h") as issuer:
        token, user_id = issuer.mint()
        assert jwt.decode(token, options={"verify_signature": False})["exp"] < time.time() - 60
        async with api_for(issuer, database_url) as client:
            response = await client.get(f"/api/{user_id}/tasks", headers=bearer(token))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"].lower()


async def test_rotated_key_is_accepted_and_old_keys_keep_working(database_url: URL) -> None:
    with better_auth("EdDSA", ROTATION_INTERVAL="2") as issuer:
        old_token, user_id = issuer.mint()
        async with api_for(issuer, database_url) as client:
            assert (await client.get(f"/api/{user_id}/tasks", headers=bearer(old_token))).status_code == 200
            await asyncio.sleep(2.5)
            new_token, new_user_id = issuer.mint()
            old_kid = decode_segment(old_token.split(".")[0])["kid"]
            new_kid = decode_segment(new_token.split(".")[0])["kid"]
            assert new_kid != old_kid, "Better Auth should have rotated its key"

            started = time.monotonic()
            response = await client.get(f"/api/{new_user_id}/tasks", headers=bearer(new_token))
            assert response.status_code == 200
            assert time.monotonic() - started < 10
            assert (await client.get(f"/api/{user_id}/tasks", headers=bearer(old_token))).status_code == 200


async def test_jwks_down_cached_keys_work_unknown_kid_is_503(database_url: URL) -> None:
    with better_auth("EdDSA") as issuer:
        token, user_id = issuer.mint()
        with better_auth("EdDSA") as other:
            foreign_token, foreign_user = other.mint()
        async with api_for(issuer, database_url) as client:
            assert (await client.get(f"/api/{user_id}/tasks", headers=bearer(token))).status_code == 200
            issuer.stop()

            started = time.monotonic()
            for _ in range(5):
                assert (await client.get(f"/api/{user_id}/tasks", headers=bearer(token))).status_code == 200
            assert time.monotonic() - started < 1, "a cached key must not wait for the JWKS"

            response = await client.get(f"/api/{foreign_user}/tasks", headers=bearer(foreign_token))
            assert response.status_code == 503
            assert "detail" in response.json()


async def test_jwks_fetch_never_blocks_other_requests(database_url: URL) -> None:
    """A JWKS that accepts connections but never answers: only the request that needs it waits."""

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        key = Ed25519PrivateKey.generate()
        user = new_user()
        token = jwt.encode(
            {"sub": user, "exp": int(time.time()) + 600}, key, algorithm="EdDSA", headers={"kid": "k1"}
        )
        settings = make_settings(better_auth_jwks_url=f"http://127.0.0.1:{port}/jwks")
        async with running_app(settings, database_url) as client:
            pending = asyncio.create_task(client.get(f"/api/{user}/tasks", headers=bearer(token)))
            await asyncio.sleep(0.2)
            started = time.monotonic()
            other = new_user()
            results = await asyncio.gather(
                *(client.get(f"/api/{other}/tasks", headers=auth(other)) for _ in range(5))
            )
            assert {r.status_code for r in results} == {200}
            assert time.monotonic() - started < 1
            assert not pending.done()
            assert (await pending).status_code == 503  # after the bounded fetch timeout
    finally:
        server.close()


def attack_tokens(issuer: Issuer) -> dict[str, str]:
    token, user_id = issuer.mint()
    header, payload, signature = token.split(".")
    jwk = issuer.jwks()["keys"][0]
    public_key = jwt.PyJWK(jwk).key
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    claims = jwt.decode(token, options={"verify_signature": False})
    hs256 = {"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]}

    def hmac_with(secret: bytes) -> str:
        # jwt.encode refuses PEM/JWK-looking HMAC keys, so sign by hand as an attacker would.
        import hashlib
        import hmac

        signing_input = f"{b64(json.dumps(hs256).encode())}.{payload}".encode()
        return f"{signing_input.decode()}.{b64(hmac.new(secret, signing_input, hashlib.sha256).digest())}"

    own_key = Ed25519PrivateKey.generate()
    return {
        "alg_none": f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{payload}.",
        "alg_none_with_kid": with_header(token, alg="none"),
        "unknown_alg_ES384": with_header(token, alg="ES384"),
        "unknown_alg_HS384": with_header(token, alg="HS384"),
        "hs256_with_public_pem": hmac_with(pem),
        "hs256_with_raw_public_key": hmac_with(raw),
        "hs256_with_jwk_x": hmac_with(jwk["x"].encode()),
        "hs256_with_jwk_json": hmac_with(json.dumps(jwk).encode()),
        "kid_not_in_jwks": jwt.encode(claims, own_key, algorithm="EdDSA", headers={"kid": "not-a-real-kid"}),
        "own_key_with_real_kid": jwt.encode(claims, own_key, algorithm="EdDSA", headers={"kid": jwk["kid"]}),
        "jwk_alg_disagrees_ES256": with_header(token, alg="ES256"),
        "jwk_alg_disagrees_RS256": with_header(token, alg="RS256"),
        "missing_kid": with_header(token, kid=None),
        "tampered_payload": f"{header}.{b64(json.dumps(claims | {'sub': 'admin'}).encode())}.{signature}",
        "oversized": f"{header}.{payload}{'A' * 9000}.{signature}",
        "_user": user_id,
    }


async def test_every_attack_is_401(
    eddsa_issuer: Issuer, database_url: URL, caplog: pytest.LogCaptureFixture
) -> None:
    attacks = attack_tokens(eddsa_issuer)
    user_id = attacks.pop("_user")
    results = {}
    async with api_for(eddsa_issuer, database_url) as client:
        with caplog.at_level(logging.WARNING, logger="todo_api.security"):
            for name, token in attacks.items():
                response = await client.get(f"/api/{user_id}/tasks", headers=bearer(token))
                results[name] = (response.status_code, response.json()["detail"])
    assert results == dict.fromkeys(attacks, (401, "Invalid authentication token")), results
    reasons = [r.__dict__.get("reason") for r in caplog.records if r.name == "todo_api.security"]
    assert len(reasons) == len(attacks)
    assert {"alg_not_allowed", "unknown_kid", "bad_signature", "key_mismatch", "oversized"} <= set(reasons)
    logged = " ".join(str(r.__dict__) for r in caplog.records)
    assert not any(token in logged for token in attacks.values())


async def test_cached_verification_never_outlives_exp(database_url: URL) -> None:
    user = new_user()
    token = jwt.encode({"sub": user, "exp": int(time.time()) + 2}, SECRET.encode(), algorithm="HS256")
    async with running_app(make_settings(jwt_leeway_seconds=0), database_url) as client:
        assert (await client.get(f"/api/{user}/tasks", headers=bearer(token))).status_code == 200
        await asyncio.sleep(3.1)
        response = await client.get(f"/api/{user}/tasks", headers=bearer(token))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"].lower()
