"""Request-scoped dependencies: who is calling, and the task repository once the database is ready.

Authentication itself lives in `auth.bearer`; `AuthenticatedRoute` runs it before the body is read,
and `CurrentUserId` hands its result to the route (documenting the bearer scheme and the path's
`user_id` in OpenAPI on the way, as one dependency).
"""

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, Security, status
from fastapi.security import HTTPBearer
from starlette.requests import HTTPConnection

from .auth.bearer import authenticate
from .events.hub import EventHub
from .events.log import EventLog
from .reminders.notifications import NotificationRepository
from .tasks.repository import TaskRepository
from .web.errors import DATABASE_UNAVAILABLE

# Declared here, on the dependency every task route takes, so that every operation documents it.
UrlUserId = Annotated[
    str,
    Path(
        alias="user_id",
        description="The user whose tasks these are. It must equal the token's user (else 403).",
        examples=["user123"],
    ),
]


class _BearerUser(HTTPBearer):
    """The caller's user id, and (as a security scheme) the bearer token in the OpenAPI document.

    AuthenticatedRoute has already checked the token, and compared the URL's user with the token's,
    before dependencies run; this hands its result over. One dependency, not three (the scheme, the
    path parameter, the user): FastAPI solves each dependency on every request. On a route without
    AuthenticatedRoute, it authenticates here.
    """

    async def __call__(self, request: Request, _url_user_id: UrlUserId) -> str:  # type: ignore[override]
        user_id: str | None = getattr(request.state, "user_id", None)
        return user_id if user_id is not None else await authenticate(request)


current_user_id = _BearerUser(
    scheme_name="HTTPBearer",
    auto_error=False,
    description=(
        "A JWT from Better Auth: from its jwt plugin (EdDSA, ES256, ES512, RS256, PS256; keys from its"
        " JWKS) or HS256 signed with BETTER_AUTH_SECRET. The user id is its `sub` claim (or the claim"
        " the service's JWT_USER_ID_CLAIM names)."
    ),
)


def require_schema(request: HTTPConnection) -> None:
    """503 until the schema is current: the service starts, and migrates, while the database is down.

    The one readiness check behind every task route, every MCP tool and `/ready`.
    """
    if not request.app.state.schema_ready.is_set():
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE, {"Retry-After": "5"})


async def task_repository(request: HTTPConnection) -> TaskRepository:
    require_schema(request)
    repository: TaskRepository = request.app.state.repository
    return repository


async def notification_repository(request: HTTPConnection) -> NotificationRepository:
    require_schema(request)
    repository: NotificationRepository = request.app.state.notifications
    return repository


async def event_sources(request: HTTPConnection) -> tuple[EventLog, EventHub]:
    require_schema(request)
    return request.app.state.event_log, request.app.state.event_hub


CurrentUserId = Annotated[str, Security(current_user_id)]
Tasks = Annotated[TaskRepository, Depends(task_repository)]
Notifications = Annotated[NotificationRepository, Depends(notification_repository)]
EventSources = Annotated[tuple[EventLog, EventHub], Depends(event_sources)]
