"""`/api/{user_id}/notifications`: the reminders that fired, newest first, and marking them read."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from ..auth.bearer import AuthenticatedRoute
from ..dependencies import CurrentUserId, Notifications
from ..reminders.schemas import NotificationRead
from ..web.responses import AUTHENTICATED, error
from . import operation_id

NOTIFICATION_NOT_FOUND = "Notification not found"
router = APIRouter(
    prefix="/api/{user_id}/notifications",
    tags=["notifications"],
    route_class=AuthenticatedRoute,
    responses=AUTHENTICATED,
    generate_unique_id_function=operation_id,
)
NotificationId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The notification's id.")]


@router.get("", response_model=list[NotificationRead], summary="List my notifications, newest first")
async def list_notifications(
    user_id: CurrentUserId,
    notifications: Notifications,
    unread: Annotated[bool, Query(description="Only those not marked read yet.")] = False,
    limit: Annotated[
        int | None, Query(ge=1, le=500, description="At most this many. Without it: all.")
    ] = None,
) -> Response:
    return Response(
        await notifications.list(user_id, unread=unread, limit=limit), media_type="application/json"
    )


@router.post(
    "/{notification_id}/read",
    response_model=NotificationRead,
    responses={status.HTTP_404_NOT_FOUND: error("No such notification for this user")},
    summary="Mark one notification read",
)
async def read_notification(
    user_id: CurrentUserId, notification_id: NotificationId, notifications: Notifications
) -> Response:
    # Someone else's notification is "not found" too, as for tasks.
    if (notification := await notifications.mark_read(user_id, notification_id)) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOTIFICATION_NOT_FOUND)
    return Response(notification, media_type="application/json")


@router.post(
    "/read",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Mark all my notifications read",
)
async def read_all_notifications(user_id: CurrentUserId, notifications: Notifications) -> Response:
    await notifications.mark_all_read(user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
