"""`DELETE /api/{user_id}`: erase everything this service keeps of the user (their account is going)."""

from fastapi import APIRouter, Request, Response, status

from ..accounts.erasure import erase_user
from ..auth.bearer import AuthenticatedRoute
from ..dependencies import CurrentUserId, require_schema
from ..web.responses import AUTHENTICATED
from . import operation_id

router = APIRouter(
    prefix="/api/{user_id}",
    tags=["account"],
    route_class=AuthenticatedRoute,
    responses=AUTHENTICATED,
    generate_unique_id_function=operation_id,
)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Erase all my data (tasks, reminders, notifications, events)",
    description=(
        "In one transaction: every task, pending reminder, notification, event and Idempotency-Key"
        " record of the user. Other services hear of it as one `user.erased` event. Call it from the"
        " frontend's server when the account is deleted (Better Auth's `deleteUser.beforeDelete`)."
        " Erasing again is still a 204."
    ),
)
async def erase_my_data(request: Request, user_id: CurrentUserId) -> Response:
    require_schema(request)
    await erase_user(request.app.state.database, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
