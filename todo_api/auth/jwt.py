"""Verify the JWTs a Better Auth frontend sends, and turn each failure into a reason code."""

from dataclasses import dataclass

import jwt

HS256 = "HS256"
# Reject absurd tokens before any base64 or JSON work (a Better Auth token is well under 2 KB).
MAX_TOKEN_BYTES = 8192
MAX_SUBJECT_LENGTH = 255


class TokenError(Exception):
    """The token is not acceptable. `reason` is a short code for logs, never shown to clients."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def expired(self) -> bool:
        return self.reason == "expired"


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    subject: str
    expires_at: int


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
    """HS256 verification with the shared secret's raw UTF-8 bytes (as `jose` signs)."""

    def __init__(self, secret: bytes, leeway_seconds: int) -> None:
        self._secret = secret
        self._leeway = leeway_seconds

    def verify(self, token: str) -> VerifiedToken:
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenError("oversized")
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[HS256],  # an allowlist: `none` and every other alg are refused
                leeway=self._leeway,
                options={"require": ["exp", "sub"], "verify_aud": False},
            )
        except jwt.PyJWTError as error:
            raise TokenError(_reason(error)) from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
            raise TokenError("invalid_subject")
        return VerifiedToken(subject=subject, expires_at=int(claims["exp"]))


def _reason(error: jwt.PyJWTError) -> str:
    return next(reason for kind, reason in _REASONS if isinstance(error, kind))
