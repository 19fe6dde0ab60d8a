"""The relay: every event of the log, published to NATS JetStream as a CloudEvent, at least once and in
order per user, by one instance at a time.

Each batch is one transaction: it takes the `event_log` row's lock (`FOR UPDATE SKIP LOCKED`: the
instance that gets it relays, the others skip), reads the oldest unpublished events, publishes each
and waits for JetStream's ack, and only then marks them published. A publish that timed out although
JetStream stored it, or a relay killed before its commit, publishes again: `Nats-Msg-Id` is the event
id, so JetStream drops the copy (within its duplicate window, two minutes by default). While NATS is
away nothing is marked; requests never wait for the relay, and the backlog goes out, in order, when
NATS is back.
"""

import asyncio
import json
import logging
from typing import Any

import nats
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from ..db import Database
from ..observability.metrics import RELAY_FAILED, RELAY_LAG_EVENTS, RELAY_LAG_SECONDS, RELAY_PUBLISHED
from .log import EVENT_FIELDS, Event

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
IDLE_SECONDS = 0.2
LAG_EVERY_SECONDS = 1.0
SUBJECT_PREFIX = "todo"  # todo.task.completed, todo.notification.created, todo.user.erased
LEASE_SQL = "SELECT 1 FROM event_log FOR UPDATE SKIP LOCKED"
UNPUBLISHED_SQL = f"""SELECT {EVENT_FIELDS} FROM events
    WHERE published_at IS NULL ORDER BY id LIMIT %(batch)s"""  # noqa: S608 (the module's constants)
MARK_SQL = "UPDATE events SET published_at = now() WHERE id = ANY(%(ids)s)"
LAG_SQL = """SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
    FROM events WHERE published_at IS NULL"""


def cloud_event(event: Event, source: str) -> bytes:
    """The event as a structured-mode CloudEvent 1.0 (JSON): its id, type, time, subject, user, data."""
    attributes: dict[str, Any] = {
        "id": str(event.id),
        "source": source,
        "type": f"{SUBJECT_PREFIX}.{event.type}",
        "time": event.created_at,
        "datacontenttype": "application/json",
        "userid": event.user_id,  # an extension attribute
    }
    if event.subject is not None:
        attributes["subject"] = event.subject
    body: bytes = JSONFormat().write(CloudEvent(attributes, _json(event.data)))
    return body


def _json(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text)
    return data


class Relay:
    def __init__(self, database: Database, url: str, stream: str, source: str) -> None:
        self._database, self._url, self._stream, self._source = database, url, stream, source

    async def run(self, schema_ready: asyncio.Event) -> None:
        """Relay, and report the lag, until cancelled."""
        await schema_ready.wait()
        await asyncio.gather(self._relay(), self._watch_lag())

    async def _relay(self) -> None:
        """Connect, publish; on any failure, count it, wait a second and start over."""
        while True:
            client = None
            try:
                client = await nats.connect(
                    self._url,
                    connect_timeout=2,
                    allow_reconnect=False,
                    max_reconnect_attempts=1,  # with 0, nats-py would retry the first connect forever
                    reconnect_time_wait=1,
                    error_cb=_nats_error,
                )
                jetstream = client.jetstream(timeout=5)
                await self._ensure_stream(jetstream)
                while True:
                    if await self.publish_batch(jetstream) < BATCH_SIZE:
                        await asyncio.sleep(IDLE_SECONDS)  # caught up: wait for more
            except asyncio.CancelledError:
                raise
            except Exception as error:
                RELAY_FAILED.inc()
                logger.warning("relaying events failed; retrying", extra={"error": type(error).__name__})
                await asyncio.sleep(1.0)
            finally:
                if client is not None and not client.is_closed:
                    await client.close()

    async def publish_batch(self, jetstream: JetStreamContext) -> int:
        """Publish the oldest unpublished events, if this instance holds the lease; how many."""
        async with self._database.transaction() as transaction:
            if not await transaction.execute(LEASE_SQL):
                return 0  # another instance relays now
            events = [
                Event(*row) for row in await transaction.execute(UNPUBLISHED_SQL, {"batch": BATCH_SIZE})
            ]
            for event in events:
                subject = f"{SUBJECT_PREFIX}.{event.type}"
                headers = {"Nats-Msg-Id": str(event.id), "Content-Type": "application/cloudevents+json"}
                await jetstream.publish(subject, cloud_event(event, self._source), headers=headers)
            if events:
                await transaction.execute(MARK_SQL, {"ids": [event.id for event in events]})
        RELAY_PUBLISHED.inc(len(events))
        return len(events)

    async def _ensure_stream(self, jetstream: JetStreamContext) -> None:
        try:
            await jetstream.stream_info(self._stream)
        except NotFoundError:
            await jetstream.add_stream(name=self._stream, subjects=[f"{SUBJECT_PREFIX}.>"])
            logger.info("created the JetStream stream", extra={"stream": self._stream})

    async def _watch_lag(self) -> None:
        """The relay lag gauges, every second, whether NATS is there or not."""
        while True:
            try:
                count, seconds = (await self._database.execute(LAG_SQL, read=True))[0]
                RELAY_LAG_EVENTS.set(count)
                RELAY_LAG_SECONDS.set(seconds)
            except Exception as error:  # the database is away: the next round retries
                logger.debug("relay lag unknown", extra={"error": type(error).__name__})
            await asyncio.sleep(LAG_EVERY_SECONDS)


async def _nats_error(error: Exception) -> None:
    """nats-py reports each failed attempt here (its default logs a traceback); the relay's own
    warning says it once per failure."""
    logger.debug("NATS client error", extra={"error": type(error).__name__})
