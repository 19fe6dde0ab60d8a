"""The process's one reader of new events, fanning them out to the streams open in it.

However many streams are open, a process reads the log with one query every `POLL_SECONDS`, on the
shared pool: never a connection per stream, and no `LISTEN` (behind Neon's pooler there is none). It
polls only while a stream is open.

Ids are assigned as events are written, and transactions commit in any order, so a later id can be
visible before an earlier one. The hub keeps each id it skipped as a gap and asks for it again with
the next polls (until the statement deadline has long passed: then it was rolled back). For one user
that cannot happen (their events commit in id order, migration 0006), so a stream, which dedupes by id,
sees its user's events in order.
"""

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..db import Database, is_unavailable
from ..observability.metrics import EVENTS_WRITTEN, STREAMS_OPEN
from .log import EVENT_FIELDS, Event

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
GAP_SECONDS = 30.0  # longer than any transaction may run: a gap older than this was rolled back
# Where the hub starts: below every event whose transaction may still be open.
START_SQL = "SELECT coalesce(max(id), 0) FROM events WHERE created_at < now() - interval '30 seconds'"
QUEUE_SIZE = 1000  # events waiting for one slow stream; past that it re-reads the log instead
# Two index ranges, not `id > after OR id = ANY(gaps)`: PostgreSQL reads an OR by filtering the whole
# primary key, a scan that grows with the log.
NEW_SQL = f"""(SELECT {EVENT_FIELDS} FROM events WHERE id > %(after)s ORDER BY id LIMIT 1000)
    UNION ALL (SELECT {EVENT_FIELDS} FROM events WHERE id = ANY(%(gaps)s) AND id <= %(after)s)
    ORDER BY id LIMIT 1000"""  # noqa: S608 (the module's constants)


class Subscription:
    """The user's new events for one stream. When the stream falls `QUEUE_SIZE` behind, the hub stops
    queueing and sets `behind`: the stream then catches up from the log, which keeps everything."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self.behind = False

    def offer(self, event: Event) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.behind = True

    def catch_up(self) -> None:
        """Forget what is queued: the stream reads everything after its cursor from the log instead."""
        self.behind = False
        while not self.queue.empty():
            self.queue.get_nowait()


class EventHub:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._subscriptions: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._open = 0
        self._wake = asyncio.Event()
        self._after: int | None = None  # None while no stream is open: start over at the next one
        self._gaps: dict[int, float] = {}  # id -> when it was first missed

    @asynccontextmanager
    async def subscribe(self, user_id: str) -> AsyncIterator[Subscription]:
        """The user's new events while the block runs."""
        subscription = Subscription()
        self._subscriptions[user_id].add(subscription)
        self._open += 1
        STREAMS_OPEN.inc()
        self._wake.set()
        try:
            yield subscription
        finally:
            self._open -= 1
            STREAMS_OPEN.dec()
            self._subscriptions[user_id].discard(subscription)
            if not self._subscriptions[user_id]:
                del self._subscriptions[user_id]

    async def run(self) -> None:
        """Poll while streams are open, until cancelled; a failed poll is retried at the next one."""
        while True:
            if not self._open:
                self._after, self._gaps = None, {}
                self._wake.clear()
                await self._wake.wait()
            try:
                await self._poll()
            except Exception as error:
                (logger.warning if is_unavailable(error) else logger.exception)(
                    "reading new events failed; retrying", extra={"error": type(error).__name__}
                )
            await asyncio.sleep(POLL_SECONDS)

    async def _poll(self) -> None:
        if self._after is None:
            self._after = int((await self._database.execute(START_SQL, read=True))[0][0])
        params = {"after": self._after, "gaps": list(self._gaps)}
        events = [Event(*row) for row in await self._database.execute(NEW_SQL, params, read=True)]
        now = time.monotonic()
        for event in events:
            self._gaps.pop(event.id, None)
            for subscription in self._subscriptions.get(event.user_id, ()):
                subscription.offer(event)
        if events and events[-1].id > self._after:
            seen = {event.id for event in events}
            self._gaps |= {n: now for n in range(self._after + 1, events[-1].id) if n not in seen}
            self._after = events[-1].id
            EVENTS_WRITTEN.set(self._after)
        self._gaps = {n: at for n, at in self._gaps.items() if now - at < GAP_SECONDS}
