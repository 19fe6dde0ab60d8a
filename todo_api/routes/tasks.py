"""`/api/{user_id}/tasks`: the task endpoints. Auth, validation and storage live elsewhere."""

from collections.abc import Awaitable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Header, HTTPException, Path, Request, Response, status

from ..auth.bearer import AuthenticatedRoute
from ..dependencies import CurrentUserId, Tasks
from ..tasks.idempotency import IdempotencyKey, KeyInFlight, KeyReused
from ..tasks.limits import QuotaExceeded
from ..tasks.repository import Task, TaskRepository, VersionMismatch
from ..tasks.schemas import TaskCreate, TaskPatch, TaskRead, TaskUpdate
from ..tasks.timing import InvalidChange
from ..web.conditional import etag, if_match_versions, none_match
from ..web.errors import TASK_NOT_FOUND, invalid
from ..web.listing import QUERY_PARAMETERS_OPENAPI, list_query, pagination_headers
from ..web.responses import (
    AUTHENTICATED,
    BAD_BODY,
    CREATE_REFUSED,
    LIST_HEADERS,
    NOT_FOUND,
    NOT_MODIFIED,
    STALE,
    UPDATE_RESPONSES,
    with_etag,
)
from . import operation_id

T = TypeVar("T")
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r'^"?[\x21-\x7e]{1,255}"?$',
        description="Any 1-255 visible ASCII characters, unique per create: a retry with the same key"
        " and body within 24 h gets the first answer again (the same task), never a second task.",
    ),
]
KEY_IN_FLIGHT = "A request with this Idempotency-Key is still in progress; retry in a moment"
KEY_REUSED = "This Idempotency-Key was used for a different request body"
TaskId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The task's id.")]
IfMatch = Annotated[
    str | None,
    Header(description="Apply only if the task still has this ETag (else 412). Omit for last-write-wins."),
]
IfNoneMatch = Annotated[str | None, Header(description="Answer 304 if the task still has this ETag.")]

router = APIRouter(
    prefix="/api/{user_id}/tasks",
    tags=["tasks"],
    route_class=AuthenticatedRoute,
    responses=AUTHENTICATED,
    generate_unique_id_function=operation_id,
)


def _task_response(task: Task | None, status_code: int = status.HTTP_200_OK) -> Response:
    # Someone else's task is "not found" too: no way to probe which ids exist.
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, TASK_NOT_FOUND)
    # The repository hands over finished JSON in TaskRead's shape: no second serialisation.
    return Response(task.json, status_code, {"ETag": etag(task.version)}, media_type="application/json")


async def _conditionally(write: Awaitable[T]) -> T:
    """The write's result; 412 if its If-Match named an older version, 422 for fields that do not
    go together (a recurring task without a due date)."""
    try:
        return await write
    except InvalidChange as error:
        raise invalid("body", error.field, str(error)) from None
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
    responses=LIST_HEADERS,
)
async def list_tasks(request: Request, user_id: CurrentUserId, repository: Tasks) -> Response:
    # The query parameters are documented by `QUERY_PARAMETERS_OPENAPI`; parsed here rather than by
    # a dependency, which FastAPI would solve on every list request, the most frequent of all.
    query = list_query(request)
    page = await (repository.list_all(user_id) if query is None else repository.page(user_id, query))
    return Response(
        page.json, headers=pagination_headers(request, query, page), media_type="application/json"
    )


@router.post(
    "",
    response_model=TaskRead,
    status_code=status.HTTP_201_CREATED,
    responses=with_etag(status.HTTP_201_CREATED) | BAD_BODY | CREATE_REFUSED,
    summary="Create a task (retry-safe with an Idempotency-Key)",
)
async def create_task(
    user_id: CurrentUserId, task: TaskCreate, repository: Tasks, idempotency_key: IdempotencyKeyHeader = None
) -> Response:
    values = task.model_dump()
    key = None if idempotency_key is None else IdempotencyKey.of(idempotency_key.strip('"'), values)
    try:
        created = await _conditionally(repository.create(user_id, values, key))
    except QuotaExceeded as refused:
        raise HTTPException(status.HTTP_409_CONFLICT, refused.detail) from None
    except KeyInFlight:
        raise HTTPException(status.HTTP_409_CONFLICT, KEY_IN_FLIGHT) from None
    except KeyReused:
        raise invalid("header", "Idempotency-Key", KEY_REUSED) from None
    return _task_response(created, status.HTTP_201_CREATED)


@router.get(
    "/{task_id}",
    response_model=TaskRead,
    responses=with_etag(status.HTTP_200_OK) | NOT_MODIFIED | NOT_FOUND,
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
    responses=UPDATE_RESPONSES,
    summary="Update a task (title required; description and completed when sent)",
)
async def update_task(
    user_id: CurrentUserId, task_id: TaskId, task: TaskUpdate, repository: Tasks, if_match: IfMatch = None
) -> Response:
    return await _update(repository, user_id, task_id, task, if_match)


@router.patch(
    "/{task_id}",
    response_model=TaskRead,
    responses=UPDATE_RESPONSES,
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
    responses=NOT_FOUND | STALE,
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
    responses=with_etag(status.HTTP_200_OK) | NOT_FOUND | STALE,
    summary="Toggle a task between done and not done",
)
async def toggle_task(
    user_id: CurrentUserId, task_id: TaskId, repository: Tasks, if_match: IfMatch = None
) -> Response:
    return _task_response(
        await _conditionally(repository.toggle_completed(user_id, task_id, if_match_versions(if_match)))
    )
