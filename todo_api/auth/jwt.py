"""Verify the JWTs a Better Auth frontend sends, and turn each failure into a reason code.

Two paths, chosen by the token header's `alg`, each with a fixed allowlist:
- HS256 with `BETTER_AUTH_SECRET` (tokens a frontend signs itself with `jose`);
- EdDSA, ES256, ES512, RS256, PS256 with Better Auth's published keys (its `jwt` plugin).
"""

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import jwt

from .errors import TokenError
from .jwks import ASYMMETRIC_ALGORITHMS, JwksKeySource

HS256 = "HS256"
# Reject absurd tokens before any base64 or JSON work (a Better Auth token is about 1 KB).
MAX_TOKEN_BYTES = 8192
MAX_SUBJECT_LENGTH = 255
_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    subject: str
    expires_at: float
    kid: str | None = None  # the JWKS key that verified it (None: the shared secret)


# Most specific first: several PyJWT errors subclass each other.
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.InvalidAlgorithmError, "alg_not_allowed"),
    (jwt.DecodeError, "malformed"),
    (jwt.PyJWTError, "invalid_claims"),
)


class TokenVerifier:
    def __init__(
        self,
        *,
        secret: bytes,
        keys: JwksKeySource | None,
        issuer: str,
        audience: str,
        leeway_seconds: int,
        user_id_claim: str = "sub",
    ) -> None:
        self._secret = secret
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._user_id_claim = user_id_claim
        # SHA-256 of a token -> what verifying it found. Keyed by the hash, so that the process holds
        # no bearer token after its request; a token has one subject, so no entry serves two users.
        self._verified: dict[bytes, VerifiedToken] = {}

    async def verify(self, token: str) -> VerifiedToken:
        """The token's user and expiry. A token verified before is not checked again until its
        `exp`, as long as the JWKS still publishes its key (see JwksKeySource.still_published)."""
        key = hashlib.sha256(token.encode()).digest()
        cached = self._verified.get(key)
        if cached is not None and cached.expires_at > time.time() and self._key_still_valid(cached):
            return cached
        verified = await self._verify(token)
        if len(self._verified) >= _CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # evict the oldest entry
        self._verified[key] = verified
        return verified

    def _key_still_valid(self, verified: VerifiedToken) -> bool:
        return verified.kid is None or (self._keys is not None and self._keys.still_published(verified.kid))

    async def _verify(self, token: str) -> VerifiedToken:
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenError("oversized")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("malformed") from None
        alg = header.get("alg")
        key: bytes | jwt.PyJWK
        required = ["exp", self._user_id_claim]  # a token without the claim: missing_claim
        if alg == HS256:
            key = self._secret
        elif alg in ASYMMETRIC_ALGORITHMS and self._keys is not None:
            key = await self._keys.key_for(header.get("kid"), alg)
            required += ["iss", "aud"]  # Better Auth's jwt plugin always sets both
        else:
            raise TokenError("alg_not_allowed")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                leeway=self._leeway,
                options={"require": required, "verify_aud": False, "verify_iss": False},
            )
        except jwt.PyJWTError as error:
            raise TokenError(_reason(error)) from None
        self._check_issuer_and_audience(claims)
        subject = claims[self._user_id_claim]
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH or "\x00" in subject:
            raise TokenError("invalid_subject")
        kid = header.get("kid") if alg != HS256 else None
        return VerifiedToken(subject=subject, expires_at=float(claims["exp"]), kid=kid)

    def _check_issuer_and_audience(self, claims: dict[str, Any]) -> None:
        # Required on JWKS tokens (above); on a frontend's own HS256 token, checked when present.
        if "iss" in claims and claims["iss"] != self._issuer:
            raise TokenError("issuer")
        if "aud" in claims:
            audience = claims["aud"]
            audiences = [audience] if isinstance(audience, str) else audience
            if not isinstance(audiences, list) or self._audience not in audiences:
                raise TokenError("audience")


def _reason(error: jwt.PyJWTError) -> str:
    return next(reason for kind, reason in _REASONS if isinstance(error, kind))
