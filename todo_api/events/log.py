"""Reading the event log: a user's events after a cursor, and the purge of old ones."""

# ruff: noqa: S608  (the SQL below is assembled from this module's constants, never from input)

from dataclasses import dataclass
from datetime import datetime

from ..db import Database

EVENT_FIELDS = "id, user_id, type, subject, data, created_at"  # an `Event`, in order
AFTER_SQL = (
    f"SELECT {EVENT_FIELDS} FROM events WHERE user_id = %(user_id)s AND id > %(after)s ORDER BY id LIMIT 500"
)
LATEST_SQL = "SELECT coalesce(max(id), 0) FROM events WHERE user_id = %(user_id)s"
HORIZON_SQL = "SELECT purged_through FROM event_log"
# Old events a batch at a time; with a relay, only those it has published.
PURGE_SQL = """WITH old AS (
        SELECT id FROM events WHERE created_at < now() - make_interval(hours => %(hours)s)
            AND (published_at IS NOT NULL OR NOT %(relayed)s)
        ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED),
    gone AS (DELETE FROM events USING old WHERE events.id = old.id RETURNING events.id)
    UPDATE event_log SET purged_through = greatest(purged_through, (SELECT max(id) FROM gone))
    WHERE EXISTS (SELECT 1 FROM gone) RETURNING (SELECT count(*) FROM gone)"""


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    user_id: str
    type: str
    subject: str | None
    data: str  # the task or notification in its REST JSON, or {"id": ...} for a deletion
    created_at: datetime


class EventLog:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def after(self, user_id: str, after: int) -> list[Event]:
        """The user's next events after `after`, oldest first (at most 500)."""
        rows = await self._database.execute(AFTER_SQL, {"user_id": user_id, "after": after}, read=True)
        return [Event(*row) for row in rows]

    async def latest(self, user_id: str) -> int:
        """The id of the user's latest event (0 when none): where a stream without a cursor starts."""
        return int((await self._database.execute(LATEST_SQL, {"user_id": user_id}, read=True))[0][0])

    async def purged_through(self) -> int:
        """Events up to this id may be gone: a stream resumed from before it starts over."""
        return int((await self._database.execute(HORIZON_SQL, read=True))[0][0])

    async def purge(self, retention_hours: int, *, relayed: bool) -> int:
        purged = 0
        while rows := await self._database.execute(PURGE_SQL, {"hours": retention_hours, "relayed": relayed}):
            purged += int(rows[0][0])
        return purged
