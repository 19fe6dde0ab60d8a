"""The bearer token of an HTTP request, checked before anything else reads the request.

Every refusal is logged with a reason code and counted, never with the token. A token that cannot
be checked because Better Auth's keys are out of reach is our dependency's failure (503), not the
user's (401).
"""

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from fastapi import HTTPException, Request, Response, status
from fastapi.routing import APIRoute

from ..observability.metrics import AUTH_FAILURES
from .errors import KeysUnavailable, TokenError
from .jwt import TokenVerifier, VerifiedToken

security_log = logging.getLogger("todo_api.security")
FORBIDDEN = "You can only access your own tasks"


def _challenge(*params: str) -> dict[str, str]:
    """A `WWW-Authenticate` header (RFC 6750), with any extra auth-params (e.g. MCP's resource_metadata)."""
    return {"WWW-Authenticate": "Bearer " + ", ".join(params) if params else "Bearer"}


def _security_event(request: Request, event: str, **fields: str) -> dict[str, object]:
    """Fields of a security log line. Never the token: only what, where and from whom."""
    client = request.client.host if request.client else None
    return {"event": event, **fields, "method": request.method, "path": request.url.path, "client": client}


def _refuse(request: Request, reason: str, challenge: tuple[str, ...]) -> HTTPException:
    AUTH_FAILURES.labels(reason).inc()
    security_log.warning(
        "authentication failed", extra=_security_event(request, "auth_failed", reason=reason)
    )
    if reason == "expired":
        expired = ('error="invalid_token"', 'error_description="token expired"', *challenge)
        return HTTPException(status.HTTP_401_UNAUTHORIZED, "Token has expired", _challenge(*expired))
    if reason == "missing":
        return HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated", _challenge(*challenge))
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid authentication token", _challenge(*challenge))


async def verified_user_id(request: Request, challenge: tuple[str, ...] = ()) -> str:
    """The user id of the request's bearer token, or an HTTPException (401, or 503 without keys).

    `challenge` holds extra auth-params for the 401's `WWW-Authenticate` header.
    """
    return (await verified_token(request, challenge)).subject


async def verified_token(request: Request, challenge: tuple[str, ...] = ()) -> VerifiedToken:
    """The request's bearer token, verified: its user and when it expires."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _refuse(request, "missing", challenge)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return await verifier.verify(token)
    except TokenError as error:
        raise _refuse(request, error.reason, challenge) from None
    except KeysUnavailable:
        AUTH_FAILURES.labels("jwks_unavailable").inc()
        security_log.error("cannot verify token", extra=_security_event(request, "jwks_unavailable"))
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "Sign-in keys are temporarily unavailable. Please try again shortly.",
            {"Retry-After": "5"},
        ) from None


def log_other_user(request: Request) -> None:
    """A caller named a user id that is not their token's (in the URL, or a tool's argument)."""
    AUTH_FAILURES.labels("forbidden").inc()
    security_log.warning(
        "access to another user's tasks refused", extra=_security_event(request, "forbidden")
    )


async def authenticate(request: Request) -> str:
    """The caller's user id, from a verified bearer token that matches the `{user_id}` in the URL.
    The token's expiry is kept in `request.state.token_expires_at` (a stream ends then)."""
    token = await verified_token(request)
    if request.path_params.get("user_id") != token.subject:
        log_other_user(request)
        raise HTTPException(status.HTTP_403_FORBIDDEN, FORBIDDEN)
    request.state.token_expires_at = token.expires_at
    return token.subject


class RequestGate(Protocol):
    """What the app may check once a request's token is known (its rate limits); auth knows no more."""

    async def admitted(self, request: Request, user_id: str) -> None: ...

    async def refused(self, request: Request) -> None: ...


async def through_gate(request: Request, verify: Callable[[], Awaitable[str]]) -> str:
    """`verify()`'s user id, past the app's `request_gate` when it has one: a 401 is first counted
    against the caller's address, and an admitted user against theirs (either may answer 429)."""
    gate: RequestGate | None = getattr(request.app.state, "request_gate", None)
    try:
        user_id = await verify()
    except HTTPException as refusal:
        if gate is not None and refusal.status_code == status.HTTP_401_UNAUTHORIZED:
            await gate.refused(request)
        raise
    if gate is not None:
        await gate.admitted(request, user_id)
    return user_id


class AuthenticatedRoute(APIRoute):
    """Authenticate before FastAPI reads and validates the body.

    FastAPI parses the JSON body before it runs dependencies, so with a dependency alone an
    anonymous request with a broken body would get 400/422 and learn about our validation
    rules. Here the token and the URL's user id are checked first.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated_handler(request: Request) -> Response:
            request.state.user_id = await through_gate(request, lambda: authenticate(request))
            return await handler(request)

        return authenticated_handler
