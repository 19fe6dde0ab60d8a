"""`/api/{user_id}/tasks`: the task endpoints. Auth, validation and storage live elsewhere."""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response, status

from ..dependencies import AuthenticatedRoute, CurrentUserId, Tasks
from ..schemas import ErrorResponse, TaskCreate, TaskRead, TaskUpdate

Responses = dict[int | str, dict[str, Any]]
TaskId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The task's id.")]

router = APIRouter(
    prefix="/api/{user_id}/tasks",
    tags=["tasks"],
    route_class=AuthenticatedRoute,
    responses={
        status.HTTP_401_UNAUTHORIZED: {
            "model": ErrorResponse,
            "description": "Missing, expired or invalid token",
        },
        status.HTTP_403_FORBIDDEN: {
            "model": ErrorResponse,
            "description": "The URL's user is not the token's",
        },
        status.HTTP_503_SERVICE_UNAVAILABLE: {"model": ErrorResponse, "description": "Database unreachable"},
    },
)
_NOT_FOUND: Responses = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorResponse, "description": "No such task for this user"}
}
_INVALID: Responses = {
    status.HTTP_400_BAD_REQUEST: {"model": ErrorResponse, "description": "Body is not valid JSON"},
    status.HTTP_413_CONTENT_TOO_LARGE: {"model": ErrorResponse, "description": "Body too large"},
}


def _json(task: str | None, status_code: int = status.HTTP_200_OK) -> Response:
    # Someone else's task is "not found" too: no way to probe which ids exist.
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Task not found")
    # The repository hands over finished JSON in TaskRead's shape: no second serialisation.
    return Response(task, status_code, media_type="application/json")


@router.get("", response_model=list[TaskRead], summary="List my tasks, oldest first")
async def list_tasks(user_id: CurrentUserId, repository: Tasks) -> Response:
    return _json(await repository.list(user_id))


@router.post(
    "",
    response_model=TaskRead,
    status_code=status.HTTP_201_CREATED,
    responses=_INVALID,
    summary="Create a task",
)
async def create_task(user_id: CurrentUserId, task: TaskCreate, repository: Tasks) -> Response:
    created = await repository.create(user_id, task.title, task.description, task.completed)
    return _json(created, status.HTTP_201_CREATED)


@router.get("/{task_id}", response_model=TaskRead, responses=_NOT_FOUND, summary="Get one task")
async def get_task(user_id: CurrentUserId, task_id: TaskId, repository: Tasks) -> Response:
    return _json(await repository.get(user_id, task_id))


@router.put("/{task_id}", response_model=TaskRead, responses=_NOT_FOUND | _INVALID, summary="Update a task")
async def update_task(
    user_id: CurrentUserId, task_id: TaskId, task: TaskUpdate, repository: Tasks
) -> Response:
    return _json(await repository.update(user_id, task_id, task.title, task.changes()))


@router.delete(
    "/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_NOT_FOUND,
    summary="Delete a task",
)
async def delete_task(user_id: CurrentUserId, task_id: TaskId, repository: Tasks) -> Response:
    if not await repository.delete(user_id, task_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Task not found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch(
    "/{task_id}/complete",
    response_model=TaskRead,
    responses=_NOT_FOUND,
    summary="Toggle a task between done and not done",
)
async def toggle_task(user_id: CurrentUserId, task_id: TaskId, repository: Tasks) -> Response:
    return _json(await repository.toggle_completed(user_id, task_id))
