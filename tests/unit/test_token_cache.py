"""The verified-token cache (auth/jwt.py): what it may skip, and what it must never."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager

import pytest

from todo_api.auth.errors import TokenError
from todo_api.auth.jwks import JwksKeySource
from todo_api.auth.jwt import TokenVerifier

from ..support.jwks import EdDSAKeys, jwks_server

ISSUER = "http://localhost:3000"


@asynccontextmanager
async def verifier_for(url: str, **key_source: float) -> AsyncIterator[TokenVerifier]:
    """A verifier of Better Auth's tokens with the keys at `url` (no leeway), closed at the end."""
    source = JwksKeySource(url, **key_source)
    try:
        yield TokenVerifier(
            secret=b"unused-here-0123456789-abcdefghijklmnop",
            keys=source,
            issuer=ISSUER,
            audience=ISSUER,
            leeway_seconds=0,
        )
    finally:
        await source.aclose()


async def test_a_removed_key_stops_working_at_the_next_refetch_even_for_a_verified_token() -> None:
    signer = EdDSAKeys(ISSUER)
    kid = signer.new_key()
    token = signer.token("user-1", kid)
    with jwks_server(signer) as url:
        async with verifier_for(url, min_refetch_seconds=0.1, max_age_seconds=0.3) as verifier:
            assert (await verifier.verify(token)).subject == "user-1"
            signer.published.discard(kid)  # the key is revoked
            assert (await verifier.verify(token)).subject == "user-1"  # cached, and the keys are fresh
            await asyncio.sleep(0.4)
            await verifier.verify(token)  # the keys are old now: this starts their refresh
            await asyncio.sleep(0.3)
            with pytest.raises(TokenError) as refused:
                await verifier.verify(token)
    assert refused.value.reason == "unknown_kid"


async def test_an_expired_token_is_refused_even_while_cached() -> None:
    signer = EdDSAKeys(ISSUER)
    token = signer.token("user-1", signer.new_key(), expires_in=1)
    with jwks_server(signer) as url:
        async with verifier_for(url) as verifier:
            assert (await verifier.verify(token)).subject == "user-1"
            await asyncio.sleep(max(0.0, int(time.time()) + 1.05 - time.time()))  # past `exp`, to the second
            with pytest.raises(TokenError) as refused:
                await verifier.verify(token)
    assert refused.value.reason == "expired"


async def test_a_cached_token_serves_only_its_own_user_even_with_the_jwks_gone() -> None:
    signer = EdDSAKeys(ISSUER)
    kid = signer.new_key()
    first, second = signer.token("user-1", kid), signer.token("user-2", kid)
    with ExitStack() as serving:
        async with verifier_for(serving.enter_context(jwks_server(signer))) as verifier:
            assert (await verifier.verify(first)).subject == "user-1"
            serving.close()
            # The JWKS is gone: a verified token is served from the cache, a new one from the cached key.
            assert (await verifier.verify(first)).subject == "user-1"
            assert (await verifier.verify(second)).subject == "user-2"
            assert (await verifier.verify(first)).subject == "user-1"
