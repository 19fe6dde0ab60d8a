"""How fast events reach open streams: across instances, and with 1 000 streams on one worker, each
event within a second (p99) of the request that made it."""

import asyncio
import contextlib
import statistics
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy.engine import URL

from ..support.auth import auth, new_user
from ..support.databases import new_database
from ..support.launcher import Service, instances
from ..support.sse import STREAM_TIMEOUT, SUBSCRIBED_SECONDS, Reader

pytestmark = pytest.mark.slow
Streams = dict[str, list[Reader]]  # each user's open streams


@asynccontextmanager
async def streams(service: Service, users: list[str], per_user: int) -> AsyncIterator[Streams]:
    """`per_user` open streams for each user, on `service`, all subscribed while the block runs."""
    readers = {user: [Reader() for _ in range(per_user)] for user in users}
    limits = httpx.Limits(max_connections=len(users) * per_user + 10)
    async with httpx.AsyncClient(base_url=service.base_url, timeout=STREAM_TIMEOUT, limits=limits) as http:
        tasks = [
            asyncio.create_task(reader.follow(http, user, auth(user), {}))
            for user, of_user in readers.items()
            for reader in of_user
        ]
        await asyncio.wait_for(asyncio.gather(*(r.opened.wait() for rs in readers.values() for r in rs)), 60)
        assert {r.status for rs in readers.values() for r in rs} == {200}
        await asyncio.sleep(SUBSCRIBED_SECONDS)
        try:
            yield readers
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)


async def write(services: list[Service], users: list[str], per_second: float) -> dict[str, float]:
    """One task for each user, at `per_second`, round-robin over `services`; when each was sent, by
    title."""
    sent: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50)) as http:

        async def create(n: int, user: str) -> None:
            title = f"task {n}"
            sent[title] = loop.time()
            url = f"{services[n % len(services)].base_url}/api/{user}/tasks"
            assert (await http.post(url, json={"title": title}, headers=auth(user))).status_code == 201

        pending = []
        for n, user in enumerate(users):
            pending.append(asyncio.create_task(create(n, user)))
            await asyncio.sleep(1 / per_second)
        await asyncio.gather(*pending)
    return sent


async def delays(readers: Streams, sent: dict[str, float], within: float) -> list[float]:
    """Seconds from each task's request to its event on each of its user's streams; every stream
    must get exactly its user's one event."""
    await asyncio.gather(*(r.take(1, within=within) for rs in readers.values() for r in rs))
    await asyncio.sleep(0.5)  # anything else, another user's event included, would show now
    found = []
    for user, of_user in readers.items():
        for reader in of_user:
            assert [m.json()["user_id"] for m in reader.received] == [user]
            message = reader.received[0]
            found.append(message.arrived - sent[message.json()["title"]])
    return sorted(found)


def summary(found: list[float]) -> str:
    p99 = found[int(len(found) * 0.99)]
    return f"median {statistics.median(found):.3f} s, p99 {p99:.3f} s, max {found[-1]:.3f} s"


def test_an_event_written_on_one_instance_reaches_a_stream_on_another_within_a_second(
    database_url: URL, tmp_path: Path
) -> None:
    users = [new_user() for _ in range(200)]

    async def scenario(services: list[Service]) -> list[float]:
        async with streams(services[0], users, 1) as readers:
            sent = await write(services[1:], users, per_second=40)
            return await delays(readers, sent, within=10)

    with new_database(database_url, "todo_events") as url, instances(3, url, tmp_path) as services:
        found = asyncio.run(scenario(services))
    print(f"\n{len(found)} events written on two instances, read on a third: {summary(found)}")
    assert found[int(len(found) * 0.99)] < 1.0


def test_a_thousand_streams_on_one_worker_each_get_their_events_within_a_second(
    database_url: URL, tmp_path: Path
) -> None:
    users = [new_user() for _ in range(250)]

    async def scenario(service: Service) -> tuple[list[float], float]:
        memory = psutil.Process(service.process.pid)
        idle = memory.memory_info().rss
        async with streams(service, users, 4) as readers:
            per_stream = (memory.memory_info().rss - idle) / 1000
            sent = await write([service], users, per_second=50)
            return await delays(readers, sent, within=15), per_stream

    with new_database(database_url, "todo_events") as url, instances(1, url, tmp_path) as [service]:
        found, per_stream = asyncio.run(scenario(service))
    memory = f"{per_stream / 1024:.1f} KiB per stream"
    print(f"\n1000 streams, {len(found)} deliveries: {summary(found)}; {memory}")
    assert len(found) == 1000
    assert found[int(len(found) * 0.99)] < 1.0
