"""Re-render the stored JSON of tasks written before the document had its current fields.

Migrations add columns with defaults (no table rewrite) and leave old rows at an older
`document_version`; reads render those on the fly (`queries.TASK_JSON`) until this has re-rendered
them, a small batch per transaction so that no request waits long on a row lock. Every instance
runs it after start-up: `SKIP LOCKED` shares the batches out, and it ends at once when nothing is
left. Re-rendering changes no field and no version (`updated_at` stays).
"""

# ruff: noqa: S608  (the SQL below is assembled from this module's constants, never from input)

import asyncio
import logging
import time

from ..db import Database, is_unavailable
from .queries import DOCUMENT_VERSION

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
# The trigger renders the document (NULL here) from the row; the partial index finds the old rows.
RERENDER_SQL = f"""WITH batch AS (
        UPDATE tasks SET document = NULL WHERE id IN (
            SELECT id FROM tasks WHERE document_version < {DOCUMENT_VERSION}
            ORDER BY id LIMIT {BATCH_SIZE} FOR UPDATE SKIP LOCKED)
        RETURNING 1)
    SELECT count(*) FROM batch"""


async def rerender_old_documents(database: Database) -> int:
    """Re-render every old document; how many this instance did."""
    done = 0
    while count := (await database.execute(RERENDER_SQL))[0][0]:
        done += count
    return done


async def keep_documents_current(database: Database, schema_ready: asyncio.Event, retry: float = 5.0) -> None:
    """Once the schema is current, re-render old documents; retried while the database is away."""
    await schema_ready.wait()
    started = time.monotonic()
    while True:
        try:
            done = await rerender_old_documents(database)
        except Exception as error:
            (logger.warning if is_unavailable(error) else logger.exception)(
                "re-rendering task documents failed; retrying", extra={"error": type(error).__name__}
            )
            await asyncio.sleep(retry)
            continue
        if done:
            seconds = round(time.monotonic() - started, 1)
            logger.info("re-rendered old task documents", extra={"tasks": done, "seconds": seconds})
        return
