"""Better Auth's public keys, fetched asynchronously from its JWKS endpoint and cached.

- A token whose `kid` is cached never waits for the network, even while the JWKS is down.
- An unknown `kid` (a rotated key) triggers a refetch, at most once per `min_refetch_seconds`;
  concurrent requests share that one fetch, and a request that comes too soon waits for it.
- Keys are refreshed in the background once older than `max_age_seconds`, so a key removed from
  the JWKS stops being accepted; a failed fetch keeps the keys already known.
"""

import asyncio
import logging
import time
from typing import Any

import httpx
import jwt

from ..observability.metrics import JWKS_FETCHES
from .errors import KeysUnavailable, TokenError

logger = logging.getLogger("todo_api.security")

# What Better Auth's jwt plugin can sign with, and the JWK key type each needs.
ASYMMETRIC_ALGORITHMS = {"EdDSA": "OKP", "ES256": "EC", "ES512": "EC", "RS256": "RSA", "PS256": "RSA"}

_MAX_JWKS_BYTES = 256 * 1024
# The curve an EC algorithm implies (RFC 7518 §3.4).
_EC_CURVES = {"ES256": "P-256", "ES512": "P-521"}


class JwksKeySource:
    def __init__(
        self,
        url: str,
        *,
        min_refetch_seconds: float = 5.0,
        max_age_seconds: float = 300.0,
        timeout_seconds: float = 3.0,
    ) -> None:
        self.url = url
        self._min_refetch = min_refetch_seconds
        self._max_age = max_age_seconds
        self._client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)
        self._jwks: dict[str, dict[str, Any]] = {}
        self._keys: dict[tuple[str, str], jwt.PyJWK] = {}
        self._fetched_at = float("-inf")  # last successful fetch
        self._attempted_at = float("-inf")  # last attempt, successful or not
        self._last_fetch_failed = False
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    async def key_for(self, kid: object, alg: str) -> jwt.PyJWK:
        """The verification key for a token header, or TokenError / KeysUnavailable."""
        if not isinstance(kid, str) or not kid:
            raise TokenError("unknown_kid")
        if kid not in self._jwks:
            await self._refetch(wait_for_window=True)
            if kid not in self._jwks:
                # Our dependency is down, not the user's session: 503 rather than 401.
                raise KeysUnavailable() if self._last_fetch_failed else TokenError("unknown_kid")
        else:
            self._refresh_if_stale()
        return self._key(kid, alg)

    def still_published(self, kid: str) -> bool:
        """Whether the last JWKS fetched still lists this key. Asked for every cached token, so it
        also starts the refresh when the keys are old: a removed key stops working at the next
        fetch, whether its tokens were verified before or not."""
        self._refresh_if_stale()
        return kid in self._jwks

    async def aclose(self) -> None:
        if self._background is not None:
            self._background.cancel()
        await self._client.aclose()

    def _key(self, kid: str, alg: str) -> jwt.PyJWK:
        if (kid, alg) not in self._keys:
            jwk = self._jwks[kid]
            # The key must be meant for exactly this algorithm: an EC key never verifies an
            # EdDSA header, a P-256 key never an ES512 one.
            if jwk.get("alg", alg) != alg or jwk.get("kty") != ASYMMETRIC_ALGORITHMS[alg]:
                raise TokenError("key_mismatch")
            if alg in _EC_CURVES and jwk.get("crv") != _EC_CURVES[alg]:
                raise TokenError("key_mismatch")
            try:
                self._keys[(kid, alg)] = jwt.PyJWK(jwk, algorithm=alg)
            except jwt.PyJWTError:
                raise TokenError("key_mismatch") from None
        return self._keys[(kid, alg)]

    async def _refetch(self, *, wait_for_window: bool = False) -> None:
        """Fetch the JWKS, at most once per `min_refetch_seconds` (one fetch for all waiters).

        For an unknown `kid` (`wait_for_window`) it waits for the next allowed fetch rather than
        failing, so a key rotated moments after the last fetch is accepted on first use, a little
        late. A background refresh that comes too soon just skips.
        """
        asked_at = time.monotonic()
        async with self._lock:
            if self._attempted_at >= asked_at:
                return  # a fetch started while we waited for the lock: its result is ours too
            wait = self._attempted_at + self._min_refetch - time.monotonic()
            if wait > 0:
                if not wait_for_window:
                    return
                await asyncio.sleep(wait)
            self._attempted_at = time.monotonic()
            try:
                jwks = await self._fetch()
            except (httpx.HTTPError, ValueError) as error:
                JWKS_FETCHES.labels("error").inc()
                self._last_fetch_failed = True
                logger.warning(
                    "JWKS fetch failed",
                    extra={"event": "jwks_unavailable", "url": self.url, "error": type(error).__name__},
                )
                return
            JWKS_FETCHES.labels("ok").inc()
            self._jwks = jwks
            self._keys = {}
            self._fetched_at = time.monotonic()
            self._last_fetch_failed = False

    async def _fetch(self) -> dict[str, dict[str, Any]]:
        response = await self._client.get(self.url, headers={"Accept": "application/json"})
        response.raise_for_status()
        if len(response.content) > _MAX_JWKS_BYTES:
            raise ValueError("JWKS too large")
        document = response.json()
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise ValueError("not a JWKS: no key list")
        return {
            jwk["kid"]: jwk
            for jwk in keys
            if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str) and jwk.get("use", "sig") == "sig"
        }

    def _refresh_if_stale(self) -> None:
        if time.monotonic() - self._fetched_at > self._max_age and (
            self._background is None or self._background.done()
        ):
            self._background = asyncio.create_task(self._refetch())
