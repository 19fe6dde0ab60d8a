"""The upkeep, in every instance once a minute: old events and idempotency keys purged in batches, the
gauge of events written kept current."""

import asyncio
import logging

from ..db import Database, is_unavailable
from ..observability.metrics import EVENTS_WRITTEN
from ..tasks.idempotency import purge_idempotency_keys
from .log import EventLog

logger = logging.getLogger(__name__)

EVERY_SECONDS = 60.0
LATEST_SQL = "SELECT coalesce(max(id), 0) FROM events"


async def run_upkeep(
    database: Database, log: EventLog, schema_ready: asyncio.Event, retention_hours: int, *, relayed: bool
) -> None:
    await schema_ready.wait()
    while True:
        try:
            await log.purge(retention_hours, relayed=relayed)
            await purge_idempotency_keys(database)
            EVENTS_WRITTEN.set((await database.execute(LATEST_SQL, read=True))[0][0])
        except Exception as error:
            (logger.warning if is_unavailable(error) else logger.exception)(
                "event log upkeep failed; retrying", extra={"error": type(error).__name__}
            )
        await asyncio.sleep(EVERY_SECONDS)
