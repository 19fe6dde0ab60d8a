"""`/api/{user_id}/events`: every change of the user's tasks and notifications, live, as Server-Sent Events.

The token is the same bearer header as everywhere (a browser reads the stream with `fetch()`, since
`EventSource` cannot send one; never a token in the URL, which ends up in logs). Each message has the
event's id, type and JSON; `Last-Event-ID` (or `?last_event_id=`) resumes after that event. FastAPI's
own `fastapi.sse` sends a comment every 15 s while idle, and `Cache-Control: no-cache` and
`X-Accel-Buffering: no`.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ..auth.bearer import AuthenticatedRoute
from ..dependencies import CurrentUserId, EventSources
from ..events.stream import user_events
from ..web.responses import AUTHENTICATED, as_json
from . import operation_id

router = APIRouter(
    prefix="/api/{user_id}/events",
    tags=["events"],
    route_class=AuthenticatedRoute,
    responses=as_json(AUTHENTICATED),
    generate_unique_id_function=operation_id,
)
_CURSOR = "The `id` of the last event received: the stream first sends every later one."
_ID = r"^[0-9]{1,18}$"  # the ids this stream sends


def event_cursor(
    last_event_id: Annotated[
        str | None, Query(pattern=_ID, description=f"{_CURSOR} For clients that cannot set headers.")
    ] = None,
    header: Annotated[str | None, Header(alias="Last-Event-ID", pattern=_ID, description=_CURSOR)] = None,
) -> int | None:
    """The cursor to resume after, from the header or the query (the pattern refuses anything else)."""
    given = header if header is not None else last_event_id
    if given is None:
        return None
    return int(given)


@router.get(
    "",
    response_class=EventSourceResponse,
    summary="Stream my task and notification events (Server-Sent Events)",
    description=(
        "Messages: `id` (a cursor), `event` (`task.created`, `task.updated`, `task.completed`,"
        " `task.reopened`, `task.deleted`, `notification.created`, `notification.read`, `user.erased`)"
        ' and `data` (the task or notification as the REST API returns it, `{"id": ...}` for a deletion,'
        ' `{"user_id": ...}` for an erasure). When the'
        " cursor is older than the kept events, the stream starts with `event: reset`: reload the list."
        " The stream ends when the token expires; reconnect with a fresh one and `Last-Event-ID`."
    ),
)
async def stream_events(
    request: Request,
    user_id: CurrentUserId,
    sources: EventSources,
    cursor: Annotated[int | None, Depends(event_cursor)],
) -> AsyncIterator[ServerSentEvent]:
    log, hub = sources
    async for message in user_events(log, hub, user_id, cursor, request.state.token_expires_at):
        yield message
