"""Notifications: a user's list, newest first, and marking them read; each statement scoped by owner."""

from ..db import Database

# The JSON of each row is rendered by a trigger when it is written (migration 0005).
LIST_SQL = """SELECT '[' || coalesce(string_agg(document, ',' ORDER BY id DESC), '') || ']' FROM (
        SELECT id, document FROM notifications
        WHERE user_id = %(user_id)s AND (NOT %(unread)s OR read_at IS NULL)
        ORDER BY id DESC LIMIT %(limit)s) newest"""
READ_ONE_SQL = """UPDATE notifications SET read_at = coalesce(read_at, now())
    WHERE user_id = %(user_id)s AND id = %(id)s RETURNING document"""
READ_ALL_SQL = "UPDATE notifications SET read_at = now() WHERE user_id = %(user_id)s AND read_at IS NULL"


class NotificationRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def list(self, user_id: str, *, unread: bool = False, limit: int | None = None) -> str:
        """The user's notifications (or the unread ones), newest first, as a JSON array."""
        params = {"user_id": user_id, "unread": unread, "limit": limit}
        return str((await self._database.execute(LIST_SQL, params, read=True))[0][0])

    async def mark_read(self, user_id: str, notification_id: int) -> str | None:
        """The notification, now read; None when the user has no such notification."""
        rows = await self._database.execute(READ_ONE_SQL, {"user_id": user_id, "id": notification_id})
        return str(rows[0][0]) if rows else None

    async def mark_all_read(self, user_id: str) -> None:
        await self._database.execute(READ_ALL_SQL, {"user_id": user_id})
