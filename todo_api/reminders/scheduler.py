"""The reminder scheduler, in every instance: due reminders become notifications exactly once.

No extra service and nothing held between polls. Every `REMINDER_POLL_INTERVAL` each instance claims
the due reminders with row locks (`FOR UPDATE SKIP LOCKED`, so instances never wait on each other or
take the same one) and writes their notifications in the same statement: claim and notification
commit together or not at all, and the notification is unique per task and reminder time besides.
Behind Neon's transaction pooler this needs nothing else: no `LISTEN`, no session lock. A reminder
that fell due while every instance was down is simply due at the next poll.
"""

import asyncio
import logging
import time

from ..db import Database, is_unavailable
from ..observability.metrics import NOTIFICATIONS_PURGED, REMINDERS_FIRED

logger = logging.getLogger(__name__)

BATCH_SIZE = 100
PURGE_EVERY_SECONDS = 60.0
_DUE_DATE = """CASE WHEN tasks.due_all_day THEN to_char(tasks.due_day, 'YYYY-MM-DD')
    ELSE to_char(tasks.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') END"""
# The partial index on pending reminders' times serves the claim, however many lie in the future.
FIRE_SQL = f"""WITH due AS (
        SELECT id FROM tasks WHERE reminder_state = 'pending' AND remind_at <= now()
        ORDER BY remind_at LIMIT {BATCH_SIZE} FOR UPDATE SKIP LOCKED),
    fired AS (
        UPDATE tasks SET reminder_state = 'fired' FROM due WHERE tasks.id = due.id
        RETURNING tasks.id, tasks.user_id, tasks.title, tasks.remind_at, {_DUE_DATE} AS due_date),
    written AS (
        INSERT INTO notifications (user_id, task_id, title, due_date, remind_at)
        SELECT user_id, id, title, due_date, remind_at FROM fired
        ON CONFLICT (task_id, remind_at) DO NOTHING RETURNING 1)
    SELECT (SELECT count(*) FROM fired), (SELECT count(*) FROM written)"""  # noqa: S608
PURGE_SQL = """WITH old AS (
        SELECT id FROM notifications WHERE created_at < now() - make_interval(days => %(days)s)
        ORDER BY created_at LIMIT 1000 FOR UPDATE SKIP LOCKED)
    DELETE FROM notifications USING old WHERE notifications.id = old.id RETURNING 1"""


async def fire_due_reminders(database: Database) -> int:
    """Claim the due reminders and write their notifications, a batch at a time; how many fired."""
    fired_total = 0
    while True:
        fired, written = (await database.execute(FIRE_SQL))[0]
        fired_total += int(fired)
        REMINDERS_FIRED.inc(written)
        if fired < BATCH_SIZE:
            return fired_total


async def purge_notifications(database: Database, retention_days: int) -> int:
    purged = 0
    while count := len(await database.execute(PURGE_SQL, {"days": retention_days})):
        purged += count
    NOTIFICATIONS_PURGED.inc(purged)
    return purged


async def run_scheduler(
    database: Database, schema_ready: asyncio.Event, poll_interval: float, retention_days: int
) -> None:
    """Poll until cancelled; a failed poll (the database away) is logged and the next one tries again."""
    await schema_ready.wait()
    purged_at = float("-inf")
    while True:
        try:
            if fired := await fire_due_reminders(database):
                logger.info("reminders fired", extra={"event": "reminders_fired", "count": fired})
            if time.monotonic() - purged_at >= PURGE_EVERY_SECONDS:
                purged_at = time.monotonic()
                await purge_notifications(database, retention_days)
        except Exception as error:
            log = logger.warning if is_unavailable(error) else logger.exception
            log("reminder poll failed; the next one retries", extra={"error": type(error).__name__})
        await asyncio.sleep(poll_interval)
