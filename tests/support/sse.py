"""Reading a Server-Sent Events stream as a browser's fetch() reader would: one message per blank line,
in the background, with when each one arrived."""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from .auth import auth

STREAM_TIMEOUT = httpx.Timeout(10, read=60)  # the heartbeat comes every 15 s
SUBSCRIBED_SECONDS = 0.3  # after the response's headers, the hub's next poll includes the stream


@dataclass(frozen=True)
class Message:
    id: str | None
    event: str | None
    data: str
    arrived: float  # time.monotonic()

    def json(self) -> Any:
        return json.loads(self.data)


async def messages(response: httpx.Response) -> AsyncIterator[Message]:
    """The stream's messages, comments (the heartbeat) skipped."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if not line:
            if "data" in fields:
                yield Message(fields.get("id"), fields.get("event"), fields["data"], time.monotonic())
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


class Reader:
    """One open stream, as a browser tab reads it."""

    def __init__(self) -> None:
        self.received: list[Message] = []
        self.opened = asyncio.Event()
        self.ended = asyncio.Event()
        self.arrived = asyncio.Event()  # set at each message, and at the end
        self.status = 0
        self.headers = httpx.Headers()

    async def follow(
        self, http: httpx.AsyncClient, user: str, headers: dict[str, str], params: dict[str, str]
    ) -> None:
        """Read `/api/{user}/events` until it ends."""
        try:
            async with http.stream("GET", f"/api/{user}/events", params=params, headers=headers) as response:
                self.status, self.headers = response.status_code, response.headers
                self.opened.set()
                if response.status_code == 200:
                    async for message in messages(response):
                        self.received.append(message)
                        self.arrived.set()
        finally:
            self.ended.set()
            self.arrived.set()

    async def take(self, count: int, within: float = 10) -> list[Message]:
        """The first `count` messages, or fewer when the stream ends or `within` seconds pass."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while len(self.received) < count and not self.ended.is_set():
                    self.arrived.clear()
                    await self.arrived.wait()
        return self.received[:count]


@asynccontextmanager
async def reading(
    base_url: str, user: str, headers: dict[str, str] | None = None, **params: str
) -> AsyncIterator[Reader]:
    """A stream of `user`'s events, open (and subscribed) while the block runs."""
    reader = Reader()
    async with httpx.AsyncClient(base_url=base_url, timeout=STREAM_TIMEOUT) as http:
        sent = auth(user) if headers is None else headers
        task = asyncio.create_task(reader.follow(http, user, sent, params))
        await asyncio.wait_for(reader.opened.wait(), 10)
        await asyncio.sleep(SUBSCRIBED_SECONDS)
        try:
            yield reader
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
