"""`/api/{user_id}/tags`: the user's tags, for a filter menu."""

from fastapi import APIRouter, Response

from ..auth.bearer import AuthenticatedRoute
from ..dependencies import CurrentUserId, Tasks
from ..tasks.schemas import TagCount
from ..web.responses import AUTHENTICATED
from . import operation_id

router = APIRouter(
    prefix="/api/{user_id}/tags",
    tags=["tasks"],
    route_class=AuthenticatedRoute,
    responses=AUTHENTICATED,
    generate_unique_id_function=operation_id,
)


@router.get(
    "",
    response_model=list[TagCount],
    summary="List my tags with their task counts (sorted by name, in any case)",
)
async def list_tags(user_id: CurrentUserId, repository: Tasks) -> Response:
    return Response(await repository.tags(user_id), media_type="application/json")
