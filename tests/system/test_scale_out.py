"""Scale-out: three identical `python -m todo_api` instances on one database, as a platform runs them.

The test plays the load balancer: it spreads requests round-robin over the instances, and takes an
instance out of rotation when a connection to it is refused (a request that never reached a server
is safe to send elsewhere; one that did is not, so it is not retried).
"""

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import URL

from todo_api.storage.urls import libpq_dsn

from ..support.auth import auth, new_user
from ..support.databases import migration_steps, new_database
from ..support.launcher import service_env
from ..support.ports import free_port

pytestmark = pytest.mark.slow

INSTANCES = 3
USERS = 20
OPERATIONS = 50  # per user


@dataclass
class Instance:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


@dataclass
class Cluster:
    url: URL
    instances: list[Instance]
    killed: set[int] = field(default_factory=set)


@pytest.fixture(scope="module")
def cluster(database_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three instances started at the same moment on one new, empty database."""
    workdir = tmp_path_factory.mktemp("scale-out")  # no .env here: the environment configures them
    with new_database(database_url, "todo_scale") as url:
        # Small pools: 3 instances share the machine's PostgreSQL with other test runs.
        env = {"NEON_DATABASE_URL": libpq_dsn(url), "DATABASE_POOL_SIZE": "5", "DATABASE_MAX_OVERFLOW": "2"}
        instances = []
        for index in range(INSTANCES):
            port, log = free_port(), workdir / f"instance-{index}.log"
            with log.open("wb") as output:
                process = subprocess.Popen(
                    [sys.executable, "-m", "todo_api"],
                    cwd=workdir,
                    env=service_env(workdir / "unused-data", port, **env),
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            instances.append(Instance(process, f"http://127.0.0.1:{port}", log))
        try:
            for instance in instances:
                wait_ready(instance)
            yield Cluster(url, instances)
        finally:
            for instance in instances:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(instance.process.pid, signal.SIGKILL)
                instance.process.wait()


def wait_ready(instance: Instance, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert instance.process.poll() is None, instance.log.read_text()[-2000:]
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{instance.base_url}/ready", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"{instance.base_url} not ready in {timeout} s")


def problems(instance: Instance) -> list[dict[str, Any]]:
    return [line for line in instance.log_lines() if line["level"] in {"warning", "error", "critical"}]


def test_migrations_ran_once_while_the_others_waited(cluster: Cluster) -> None:
    logs = [instance.log_lines() for instance in cluster.instances]
    upgrades = [[line for line in log if line["message"].startswith("Running upgrade")] for log in logs]
    migrators = [index for index, ran in enumerate(upgrades) if ran]
    assert len(migrators) == 1, upgrades
    assert [line["message"].split(",")[0] for line in upgrades[migrators[0]]] == [
        f"Running upgrade {before} -> {after}" for before, after in migration_steps()
    ]
    # The others served only once the schema was complete: they waited on the migration lock.
    migrated_at = upgrades[migrators[0]][-1]["time"]
    for index, log in enumerate(logs):
        started = [line["time"] for line in log if line["message"] == "Application startup complete."]
        assert len(started) == 1, (index, started)
        assert started[0] >= migrated_at, (index, started, migrated_at)
    assert [problems(instance) for instance in cluster.instances] == [[]] * INSTANCES
    with psycopg.connect(libpq_dsn(cluster.url)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (migration_steps()[-1][1],)
        ]


def test_a_task_created_on_one_instance_is_read_changed_and_deleted_on_the_others(cluster: Cluster) -> None:
    one, two, three = (instance.base_url for instance in cluster.instances)
    user = new_user()
    headers = auth(user)
    created = httpx.post(f"{one}/api/{user}/tasks", json={"title": "Shared"}, headers=headers)
    assert created.status_code == 201
    path = f"/api/{user}/tasks/{created.json()['id']}"

    read = httpx.get(f"{two}{path}", headers=headers)
    assert read.json() == created.json()
    assert read.headers["etag"] == created.headers["etag"]

    changed = httpx.patch(
        f"{three}{path}", json={"title": "Changed"}, headers=headers | {"If-Match": read.headers["etag"]}
    )
    assert changed.status_code == 200
    assert changed.json()["title"] == "Changed"
    # The first instance's copy is now stale, and every instance knows it.
    stale = httpx.put(
        f"{one}{path}", json={"title": "Lost"}, headers=headers | {"If-Match": read.headers["etag"]}
    )
    assert stale.status_code == 412
    assert (
        httpx.get(f"{one}{path}", headers=headers | {"If-None-Match": changed.headers["etag"]}).status_code
        == 304
    )

    deleted = httpx.delete(f"{two}{path}", headers=headers | {"If-Match": changed.headers["etag"]})
    assert deleted.status_code == 204
    for base_url in (one, two, three):
        assert httpx.get(f"{base_url}{path}", headers=headers).status_code == 404
        assert httpx.get(f"{base_url}/api/{user}/tasks", headers=headers).json() == []


class RoundRobin:
    """The test's load balancer: each request goes to the next instance still in rotation."""

    def __init__(self, cluster: Cluster) -> None:
        self.clients = [httpx.AsyncClient(base_url=i.base_url, timeout=30) for i in cluster.instances]
        self.turn = itertools.count()
        self.ids = itertools.count()
        self.out_of_rotation: set[int] = set()
        self.in_flight: list[set[int]] = [set() for _ in cluster.instances]
        self.served = Counter[int]()
        self.failed: list[tuple[int, int, str]] = []  # (instance, request id, error)

    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        """The response, or None when the request reached an instance that died before answering."""
        while True:
            live = [i for i in range(len(self.clients)) if i not in self.out_of_rotation]
            index = live[next(self.turn) % len(live)]
            request_id = next(self.ids)
            self.in_flight[index].add(request_id)
            try:
                response = await self.clients[index].request(method, path, **kwargs)
            except httpx.ConnectError:
                self.out_of_rotation.add(index)  # refused: it never got the request, send it elsewhere
                continue
            except httpx.TransportError as error:
                self.failed.append((index, request_id, type(error).__name__))
                return None
            finally:
                self.in_flight[index].discard(request_id)
            self.served[index] += 1
            return response

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


@dataclass
class Task:
    title: str
    completed: bool
    etag: str


class User:
    """One user doing a seeded mix of operations, checking every answer against what it knows."""

    def __init__(self, balancer: RoundRobin, seed: int) -> None:
        self.balancer = balancer
        self.id = new_user()
        self.headers = auth(self.id)
        self.tasks: dict[int, Task] = {}
        self.random = random.Random(seed)
        self.errors: list[str] = []
        self.done = 0

    async def run(
        self, operations: int, halfway: asyncio.Event | None = None, total: list[int] | None = None
    ) -> None:
        for step in range(operations):
            if not await self.operate(step):
                await self.resync()  # an in-flight request died with its instance: re-read the truth
            if total is not None and halfway is not None:
                total[0] += 1
                if total[0] == USERS * operations // 2:
                    halfway.set()

    async def call(self, method: str, path: str = "", **kwargs: Any) -> httpx.Response | None:
        headers = self.headers | kwargs.pop("headers", {})
        return await self.balancer.send(method, f"/api/{self.id}/tasks{path}", headers=headers, **kwargs)

    def expect(self, response: httpx.Response, status: int) -> bool:
        if response.status_code != status:
            self.errors.append(
                f"{response.request.method} {response.request.url.path}: {response.status_code}"
            )
            return False
        return True

    async def operate(self, step: int) -> bool:
        """One operation; False when its request was lost with a killed instance."""
        kind = self.random.choices(
            ["create", "list", "get", "patch", "toggle", "delete"], weights=[25, 25, 15, 15, 10, 10]
        )[0]
        if not self.tasks:
            kind = "create"
        task_id = self.random.choice(sorted(self.tasks)) if self.tasks else 0
        task = self.tasks.get(task_id)
        if kind == "create":
            title = f"task {step}"
            response = await self.call("POST", json={"title": title})
            if response is None:
                return False
            if self.expect(response, 201):
                body = response.json()
                self.tasks[body["id"]] = Task(title, False, response.headers["etag"])
        elif kind == "list":
            response = await self.call("GET")
            if response is None:
                return False
            if self.expect(response, 200):
                seen = {t["id"]: (t["title"], t["completed"]) for t in response.json()}
                expected = {i: (t.title, t.completed) for i, t in self.tasks.items()}
                if seen != expected:
                    self.errors.append(f"inconsistent list: {seen} != {expected}")
        elif kind == "get":
            assert task is not None
            response = await self.call("GET", f"/{task_id}")
            if response is None:
                return False
            if self.expect(response, 200):
                body = response.json()
                if (body["title"], body["completed"], response.headers["etag"]) != (
                    task.title,
                    task.completed,
                    task.etag,
                ):
                    self.errors.append(f"inconsistent read of {task_id}: {body} != {task}")
        elif kind == "patch":
            assert task is not None
            title = f"renamed {step}"
            response = await self.call(
                "PATCH", f"/{task_id}", json={"title": title}, headers={"If-Match": task.etag}
            )
            if response is None:
                return False
            if self.expect(response, 200):
                self.tasks[task_id] = Task(title, task.completed, response.headers["etag"])
        elif kind == "toggle":
            assert task is not None
            response = await self.call("PATCH", f"/{task_id}/complete", headers={"If-Match": task.etag})
            if response is None:
                return False
            if self.expect(response, 200):
                if response.json()["completed"] == task.completed:
                    self.errors.append(f"toggle of {task_id} did not toggle")
                self.tasks[task_id] = Task(task.title, not task.completed, response.headers["etag"])
        else:
            assert task is not None
            response = await self.call("DELETE", f"/{task_id}", headers={"If-Match": task.etag})
            if response is None:
                return False
            if self.expect(response, 204):
                del self.tasks[task_id]
        return True

    async def resync(self) -> None:
        listed = await self.call("GET")
        assert listed is not None
        assert listed.status_code == 200
        self.tasks = {}
        for item in listed.json():
            one = await self.call("GET", f"/{item['id']}")
            assert one is not None
            assert one.status_code == 200
            self.tasks[item["id"]] = Task(item["title"], item["completed"], one.headers["etag"])

    async def check_everywhere(self, cluster: Cluster) -> None:
        """Every live instance lists exactly what this user knows."""
        expected = {i: (t.title, t.completed) for i, t in self.tasks.items()}
        for index, instance in enumerate(cluster.instances):
            if index in cluster.killed:
                continue
            async with httpx.AsyncClient(base_url=instance.base_url) as client:
                listed = (await client.get(f"/api/{self.id}/tasks", headers=self.headers)).json()
            if {t["id"]: (t["title"], t["completed"]) for t in listed} != expected:
                self.errors.append(f"instance {index} lists {listed}, expected {expected}")


async def test_twenty_users_round_robin_without_errors(cluster: Cluster) -> None:
    balancer = RoundRobin(cluster)
    users = [User(balancer, seed) for seed in range(USERS)]
    started = time.monotonic()
    try:
        await asyncio.gather(*(user.run(OPERATIONS) for user in users))
        elapsed = time.monotonic() - started
        for user in users:
            await user.check_everywhere(cluster)
    finally:
        await balancer.aclose()
    requests = sum(balancer.served.values())
    print(
        f"\nscale-out: {requests} requests, {requests / elapsed:.0f} req/s,"
        f" per instance {dict(balancer.served)}"
    )
    assert [error for user in users for error in user.errors] == []
    assert balancer.failed == []
    assert balancer.out_of_rotation == set()
    assert requests >= USERS * OPERATIONS
    # Round-robin: every instance served a third of the requests, give or take one.
    assert max(balancer.served.values()) - min(balancer.served.values()) <= 1


async def test_sigkill_fails_only_that_instances_in_flight_requests(cluster: Cluster) -> None:
    victim = 1
    balancer = RoundRobin(cluster)
    users = [User(balancer, 100 + seed) for seed in range(USERS)]
    halfway = asyncio.Event()
    done = [0]
    in_flight_at_kill: set[int] = set()

    async def kill_at_halfway() -> None:
        await halfway.wait()
        # No await between the snapshot and the kill: no request can start in between.
        in_flight_at_kill.update(balancer.in_flight[victim])
        process = cluster.instances[victim].process
        process.send_signal(signal.SIGKILL)
        process.wait()  # dead, its sockets closed, before any other request is sent
        cluster.killed.add(victim)

    try:
        await asyncio.gather(kill_at_halfway(), *(user.run(OPERATIONS, halfway, done) for user in users))
        for user in users:
            await user.check_everywhere(cluster)
    finally:
        await balancer.aclose()
    print(
        f"\nSIGKILL at halfway: {len(in_flight_at_kill)} requests in flight on it,"
        f" {len(balancer.failed)} failed,"
        f" served per instance {dict(balancer.served)}"
    )
    assert cluster.killed == {victim}
    assert in_flight_at_kill, "nothing was in flight on the instance when it was killed"
    assert [error for user in users for error in user.errors] == []
    # Only requests that were in flight on the killed instance failed; the others carried on.
    assert all(index == victim and request in in_flight_at_kill for index, request, _ in balancer.failed)
    assert balancer.out_of_rotation == {victim}
    survivors = [i for i in range(INSTANCES) if i != victim]
    assert all(balancer.served[i] > 0 for i in survivors)

    # The survivors still stop gracefully, and no log (the killed one's included) shows an error.
    for index in survivors:
        process = cluster.instances[index].process
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    assert [problems(instance) for instance in cluster.instances] == [[]] * INSTANCES
