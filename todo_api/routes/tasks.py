"""`/api/{user_id}/tasks`: the task endpoints. Auth, validation and storage live elsewhere."""

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request, Response, status

from ..conditional import etag, if_match_versions, none_match
from ..dependencies import AuthenticatedRoute, CurrentUserId, Tasks
from ..errors import TASK_NOT_FOUND
from ..listing import QUERY_PARAMETERS_OPENAPI, list_query, pagination_headers
from ..repository import ListQuery, Task, TaskRepository, VersionMismatch
from ..schemas import ErrorResponse, ServerErrorResponse, TaskCreate, TaskPatch, TaskRead, TaskUpdate

T = TypeVar("T")
Responses = dict[int | str, dict[str, Any]]
TaskId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The task's id.")]
IfMatch = Annotated[
    str | None,
    Header(description="Apply only if the task still has this ETag (else 412). Omit for last-write-wins."),
]
IfNoneMatch = Annotated[str | None, Header(description="Answer 304 if the task still has this ETag.")]


def _header(description: str, type_: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": type_}, "required": True}


def _error(
    description: str, headers: dict[str, Any] | None = None, model: type[ErrorResponse] = ErrorResponse
) -> dict[str, Any]:
    return {"model": model, "description": description} | ({"headers": headers} if headers else {})


_ETAG_HEADER = {"ETag": _header("The task's version, for If-Match / If-None-Match")}
_NOT_FOUND: Responses = {status.HTTP_404_NOT_FOUND: _error("No such task for this user")}
_STALE: Responses = {
    status.HTTP_412_PRECONDITION_FAILED: _error(
        "If-Match names an older version; nothing changed. ETag is the current version.", _ETAG_HEADER
    )
}
_BODY: Responses = {status.HTTP_400_BAD_REQUEST: _error("The body is not valid JSON")}


def _with_etag(status_code: int) -> Responses:
    return {status_code: {"headers": _ETAG_HEADER}}


_UPDATE_RESPONSES = _with_etag(status.HTTP_200_OK) | _NOT_FOUND | _STALE | _BODY

router = APIRouter(
    prefix="/api/{user_id}/tasks",
    tags=["tasks"],
    route_class=AuthenticatedRoute,
    # What any task operation can answer, whatever it does.
    responses={
        status.HTTP_401_UNAUTHORIZED: _error(
            "Missing, expired or invalid token",
            {"WWW-Authenticate": _header('`Bearer` (with `error="invalid_token"` when it expired)')},
        ),
        status.HTTP_403_FORBIDDEN: _error("The URL's user is not the token's"),
        status.HTTP_413_CONTENT_TOO_LARGE: _error("The request body is over MAX_BODY_BYTES (64 KB)"),
        status.HTTP_500_INTERNAL_SERVER_ERROR: _error(
            "Unexpected error (details in the server log only)", model=ServerErrorResponse
        ),
        status.HTTP_503_SERVICE_UNAVAILABLE: _error(
            "The database (or Better Auth's JWKS) is unreachable",
            {"Retry-After": _header("Seconds to wait before retrying", "integer")},
            ServerErrorResponse,
        ),
    },
)


def _task_response(task: Task | None, status_code: int = status.HTTP_200_OK) -> Response:
    # Someone else's task is "not found" too: no way to probe which ids exist.
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, TASK_NOT_FOUND)
    # The repository hands over finished JSON in TaskRead's shape: no second serialisation.
    return Response(task.json, status_code, {"ETag": etag(task.version)}, media_type="application/json")


async def _conditionally(write: Awaitable[T]) -> T:
    """The write's result, or 412 if its If-Match named an older version."""
    try:
        return await write
    except VersionMismatch as stale:
        raise HTTPException(
            status.HTTP_412_PRECONDITION_FAILED,
            "The task was changed since you loaded it; reload it and try again",
            {"ETag": etag(stale.current.version)},
        ) from None


async def _update(
    repository: TaskRepository, user_id: str, task_id: int, task: TaskUpdate, if_match: str | None
) -> Response:
    write = repository.update(user_id, task_id, task.changes(), if_match_versions(if_match))
    return _task_response(await _conditionally(write))


@router.get(
    "",
    response_model=list[TaskRead],
    summary="List my tasks (every task in creation order, unless filtered, sorted or paged)",
    openapi_extra={"parameters": QUERY_PARAMETERS_OPENAPI},
    responses={
        status.HTTP_200_OK: {
            "headers": {
                "X-Total-Count": _header("Tasks matching the filters, all pages", "integer"),
                "Link": {
                    "description": 'RFC 8288 `<...>; rel="next"` when more follow (paged lists only)',
                    "schema": {"type": "string"},
                },
            }
        }
    },
)
async def list_tasks(
    request: Request,
    user_id: CurrentUserId,
    repository: Tasks,
    query: Annotated[ListQuery | None, Depends(list_query)],
) -> Response:
    page = await (repository.list_all(user_id) if query is None else repository.page(user_id, query))
    return Response(
        page.json, headers=pagination_headers(request, query, page), media_type="application/json"
    )


@router.post(
    "",
    response_model=TaskRead,
    status_code=status.HTTP_201_CREATED,
    responses=_with_etag(status.HTTP_201_CREATED) | _BODY,
    summary="Create a task",
)
async def create_task(user_id: CurrentUserId, task: TaskCreate, repository: Tasks) -> Response:
    return _task_response(await repository.create(user_id, task.model_dump()), status.HTTP_201_CREATED)


@router.get(
    "/{task_id}",
    response_model=TaskRead,
    responses=_with_etag(status.HTTP_200_OK)
    | {
        status.HTTP_304_NOT_MODIFIED: {
            "description": "If-None-Match matched: your copy is current",
            "headers": _ETAG_HEADER,
        }
    }
    | _NOT_FOUND,
    summary="Get one task",
)
async def get_task(
    user_id: CurrentUserId, task_id: TaskId, repository: Tasks, if_none_match: IfNoneMatch = None
) -> Response:
    task = await repository.get(user_id, task_id)
    if task is not None and none_match(if_none_match, task.version):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag(task.version)})
    return _task_response(task)


@router.put(
    "/{task_id}",
    response_model=TaskRead,
    responses=_UPDATE_RESPONSES,
    summary="Update a task (title required; description and completed when sent)",
)
async def update_task(
    user_id: CurrentUserId, task_id: TaskId, task: TaskUpdate, repository: Tasks, if_match: IfMatch = None
) -> Response:
    return await _update(repository, user_id, task_id, task, if_match)


@router.patch(
    "/{task_id}",
    response_model=TaskRead,
    responses=_UPDATE_RESPONSES,
    summary="Change some fields of a task",
)
async def patch_task(
    user_id: CurrentUserId, task_id: TaskId, task: TaskPatch, repository: Tasks, if_match: IfMatch = None
) -> Response:
    return await _update(repository, user_id, task_id, task, if_match)


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_NOT_FOUND | _STALE,
    summary="Delete a task",
)
async def delete_task(
    user_id: CurrentUserId, task_id: TaskId, repository: Tasks, if_match: IfMatch = None
) -> Response:
    if await _conditionally(repository.delete(user_id, task_id, if_match_versions(if_match))) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, TASK_NOT_FOUND)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch(
    "/{task_id}/complete",
    response_model=TaskRead,
    responses=_with_etag(status.HTTP_200_OK) | _NOT_FOUND | _STALE,
    summary="Toggle a task between done and not done",
)
async def toggle_task(
    user_id: CurrentUserId, task_id: TaskId, repository: Tasks, if_match: IfMatch = None
) -> Response:
    return _task_response(
        await _conditionally(repository.toggle_completed(user_id, task_id, if_match_versions(if_match)))
    )
