"""Request-scoped dependencies: who is calling, and the task repository."""

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request, Response, Security, status
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from .auth.jwt import KeysUnavailable, TokenError, TokenVerifier
from .errors import DATABASE_UNAVAILABLE
from .repository import TaskRepository
from .telemetry import AUTH_FAILURES

security_log = logging.getLogger("todo_api.security")
FORBIDDEN = "You can only access your own tasks"


class _DocumentedBearer(HTTPBearer):
    """The bearer scheme, for the OpenAPI document only.

    AuthenticatedRoute has already checked the token before dependencies run, so re-parsing the
    header into a credentials model on every request would be work for nothing.
    """

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        return None


bearer_scheme = _DocumentedBearer(
    scheme_name="HTTPBearer",
    auto_error=False,
    description=(
        "A JWT from Better Auth: from its jwt plugin (EdDSA, ES256, ES512, RS256, PS256; keys from its"
        " JWKS) or HS256 signed with BETTER_AUTH_SECRET. The user id is its `sub` claim (or the claim"
        " the service's JWT_USER_ID_CLAIM names)."
    ),
)


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

    Every failure is logged with a reason code, never the token. `challenge` holds extra
    auth-params for the 401's `WWW-Authenticate` header.
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _refuse(request, "missing", challenge)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return (await verifier.verify(token)).subject
    except TokenError as error:
        raise _refuse(request, error.reason, challenge) from None
    except KeysUnavailable:
        # The user's session may be fine; our dependency is not: 503, not 401.
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
    """The caller's user id, from a verified bearer token that matches the `{user_id}` in the URL."""
    user_id = await verified_user_id(request)
    if request.path_params.get("user_id") != user_id:
        log_other_user(request)
        raise HTTPException(status.HTTP_403_FORBIDDEN, FORBIDDEN)
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
            request.state.user_id = await authenticate(request)
            return await handler(request)

        return authenticated_handler


# Declared here, on the dependency every task route takes, so that every operation documents it.
UrlUserId = Annotated[
    str,
    Path(
        alias="user_id",
        description="The user whose tasks these are. It must equal the token's user (else 403).",
        examples=["user123"],
    ),
]


async def current_user_id(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    _url_user_id: UrlUserId,
) -> str:
    # AuthenticatedRoute has already done the work (and compared the URL's user with the token's);
    # `Security(bearer_scheme)` and `UrlUserId` only document the scheme and the path parameter in
    # OpenAPI. On a route without it, authenticate here.
    user_id: str | None = getattr(request.state, "user_id", None)
    return user_id if user_id is not None else await authenticate(request)


async def task_repository(request: Request) -> TaskRepository:
    if not request.app.state.schema_ready.is_set():  # started while the database was down
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE, {"Retry-After": "5"})
    repository: TaskRepository = request.app.state.repository
    return repository


CurrentUserId = Annotated[str, Depends(current_user_id)]
Tasks = Annotated[TaskRepository, Depends(task_repository)]
