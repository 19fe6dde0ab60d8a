"""One user's event stream: what was missed since a cursor, then every new event, until the token expires.

The cursor is the id of the last event the client got (`Last-Event-ID`). The stream subscribes to the
hub before it reads what was missed, so nothing committed meanwhile falls between the two; anything
seen twice is dropped by id, so each event is sent once and in order. A stream too slow for its queue
reads the log again from its cursor.
"""

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi.sse import ServerSentEvent

from .hub import EventHub
from .log import Event, EventLog

RESET = ServerSentEvent(event="reset", raw_data="{}")


def message(event: Event) -> ServerSentEvent:
    return ServerSentEvent(id=str(event.id), event=event.type, raw_data=event.data)


async def user_events(
    log: EventLog, hub: EventHub, user_id: str, cursor: int | None, expires_at: float
) -> AsyncIterator[ServerSentEvent]:
    """The stream's messages; it ends when the token that opened it expires (`expires_at`, epoch s)."""
    async with hub.subscribe(user_id) as subscription:
        if cursor is None:
            last = await log.latest(user_id)
        elif cursor < await log.purged_through():
            yield RESET  # what was missed is partly gone: the client reloads its list
            last = await log.latest(user_id)
        else:
            last = cursor
            subscription.behind = True
        while (remaining := expires_at - time.time()) > 0:
            if subscription.behind:
                subscription.catch_up()
                async for event in _missed(log, user_id, last):
                    yield message(event)
                    last = event.id
                continue
            try:
                event = await asyncio.wait_for(subscription.queue.get(), timeout=remaining)
            except TimeoutError:
                return
            if event.id > last:
                yield message(event)
                last = event.id


async def _missed(log: EventLog, user_id: str, last: int) -> AsyncIterator[Event]:
    while missed := await log.after(user_id, last):
        for event in missed:
            yield event
        last = missed[-1].id
