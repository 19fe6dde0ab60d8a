"""The relay to NATS JetStream, against a throwaway `nats-server -js`: every committed change arrives
once as a CloudEvent, in order per user, through NATS outages, a killed service and several
instances."""

import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from cloudevents.core.formats.json import JSONFormat
from sqlalchemy.engine import URL

from todo_api.storage.urls import libpq_dsn

from ..support.auth import auth, new_user
from ..support.databases import new_database
from ..support.launcher import Service, instances
from ..support.nats import Message, NatsServer, nats_server, wait_for_messages

pytestmark = pytest.mark.slow


@contextmanager
def relaying(
    database_url: URL, folder: Path, count: int = 1
) -> Iterator[tuple[URL, NatsServer, list[Service]]]:
    """A new database, a NATS server, and `count` instances relaying to it."""
    with (
        nats_server(folder / "nats") as nats,
        new_database(database_url, "todo_relay") as url,
        instances(count, url, folder, EVENTS_NATS_URL=nats.url) as services,
    ):
        yield url, nats, services


def events_in_database(url: URL) -> list[tuple[int, str, str, str | None, str]]:
    """(id, user, type, subject, data) of every committed event, by id."""
    with psycopg.connect(libpq_dsn(url)) as conn:
        rows = conn.execute("SELECT id, user_id, type, subject, data FROM events ORDER BY id").fetchall()
    return [(int(row[0]), str(row[1]), str(row[2]), row[3], str(row[4])) for row in rows]


def ids_of(messages: list[Message]) -> list[int]:
    return [int(message.event["id"]) for message in messages]


def assert_in_order_per_user(messages: list[Message]) -> None:
    by_user: dict[str, list[int]] = {}
    for message in messages:
        by_user.setdefault(message.event["userid"], []).append(int(message.event["id"]))
    for user, ids in by_user.items():
        assert ids == sorted(ids), user


def relay_published(service: Service) -> float:
    text = httpx.get(f"{service.base_url}/metrics", timeout=5).text
    found = re.search(r"^todo_api_relay_published_total (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def make_every_kind_of_change(http: httpx.Client, user: str) -> None:
    task = http.post(f"/api/{user}/tasks", json={"title": "Plants", "due_date": "2026-12-01"}).json()
    path = f"/api/{user}/tasks/{task['id']}"
    http.patch(path, json={"title": "Water the plants", "recurrence": "weekly"}).raise_for_status()
    http.patch(f"{path}/complete").raise_for_status()  # and its successor is created
    http.patch(f"{path}/complete").raise_for_status()  # reopened
    http.delete(path).raise_for_status()
    http.post(f"/api/{user}/tasks", json={"title": "Now", "remind_at": "2020-01-01T00:00:00Z"})
    for _ in range(100):
        if found := http.get(f"/api/{user}/notifications").json():
            http.post(f"/api/{user}/notifications/{found[0]['id']}/read").raise_for_status()
            return
        time.sleep(0.1)
    raise AssertionError("the reminder did not fire")


def test_every_change_arrives_once_as_a_cloud_event_with_its_subject(
    database_url: URL, tmp_path: Path
) -> None:
    user = new_user()
    with relaying(database_url, tmp_path) as (url, nats, [api]):
        with httpx.Client(base_url=api.base_url, headers=auth(user), timeout=30) as http:
            make_every_kind_of_change(http, user)
        events = events_in_database(url)
        messages = wait_for_messages(nats.url, len(events))
        with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:  # as if no ack had come back
            conn.execute("UPDATE events SET published_at = NULL")
        while relay_published(api) < 2 * len(events):
            time.sleep(0.2)
        republished = wait_for_messages(nats.url, len(events) + 1, within=2)
    print(f"\nA CloudEvent as received on {messages[3].subject}:\n{json.dumps(messages[3].event, indent=2)}")
    assert [m.subject for m in messages] == [
        *["todo.task.created", "todo.task.updated", "todo.task.completed", "todo.task.created"],
        *["todo.task.reopened", "todo.task.deleted", "todo.task.created", "todo.notification.created"],
        "todo.notification.read",
    ]
    for message, (event_id, owner, kind, subject, data) in zip(messages, events, strict=True):
        parsed = JSONFormat().read(None, json.dumps(message.event).encode())  # a valid CloudEvent 1.0
        assert parsed.get_specversion() == "1.0"
        assert message.event["id"] == message.headers["Nats-Msg-Id"] == str(event_id)
        assert (message.event["type"], message.event["userid"]) == (f"todo.{kind}", owner)
        assert message.event["subject"] == subject  # the task's id, a notification's too
        assert message.event["source"] == "/todo-api"
        assert message.event["datacontenttype"] == "application/json"
        assert message.event["data"] == json.loads(data)
        assert datetime.fromisoformat(message.event["time"]).tzinfo is not None
    assert messages[-1].event["data"]["read"] is True
    assert ids_of(republished) == ids_of(messages)  # published again, stored once


class Writer(threading.Thread):
    """Creates a task every 50 ms, timing each request, until stopped."""

    def __init__(self, api: Service, user: str) -> None:
        super().__init__(daemon=True)
        self.api, self.user = api, user
        self.results: list[tuple[float, int, float]] = []  # (when, status, seconds)
        self.done = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.api.base_url, headers=auth(self.user), timeout=30) as http:
            while not self.done.is_set():
                started = time.monotonic()
                status = http.post(f"/api/{self.user}/tasks", json={"title": "busy"}).status_code
                self.results.append((started, status, time.monotonic() - started))
                time.sleep(0.05)

    def p95(self, since: float, until: float) -> float:
        seconds = sorted(s for at, _, s in self.results if since <= at < until)
        return seconds[int(len(seconds) * 0.95)]


def metric(service: Service, name: str) -> float:
    text = httpx.get(f"{service.base_url}/metrics", timeout=5).text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, name
    return float(found.group(1))


def unpublished(url: URL, before: datetime) -> int:
    with psycopg.connect(libpq_dsn(url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM events WHERE published_at IS NULL AND created_at < %s", (before,)
        ).fetchone()
    return int(row[0]) if row else 0


def test_thirty_seconds_without_nats_neither_fail_nor_slow_the_api(database_url: URL, tmp_path: Path) -> None:
    user = new_user()
    with relaying(database_url, tmp_path) as (url, nats, [api]):
        writer = Writer(api, user)
        writer.start()
        time.sleep(5)
        nats.stop()
        away = time.monotonic()
        ready = []
        while time.monotonic() - away < 30:
            ready.append(httpx.get(f"{api.base_url}/ready", timeout=5).status_code)
            time.sleep(1)
        lag = (metric(api, "todo_api_relay_lag_events"), metric(api, "todo_api_relay_lag_seconds"))
        nats.start()
        back, back_at = time.monotonic(), datetime.now(UTC)
        while unpublished(url, before=back_at):
            time.sleep(0.1)
        caught_up = time.monotonic() - back
        time.sleep(2)
        writer.done.set()
        writer.join()
        events = events_in_database(url)
        messages = wait_for_messages(nats.url, len(events))
    statuses = {status for _, status, _ in writer.results}
    before, during = writer.p95(0, away), writer.p95(away, back)
    print(
        f"\n{len(writer.results)} creates, {sum(away <= at < back for at, _, _ in writer.results)}"
        f" while NATS was away; p95 before {before * 1000:.1f} ms, during {during * 1000:.1f} ms;"
        f" lag at 30 s: {lag[0]:.0f} events, {lag[1]:.1f} s; caught up {caught_up:.1f} s after NATS"
        f" returned (the backlog published); {len(messages)} messages for {len(events)} events"
    )
    assert statuses == {201}
    assert set(ready) == {200}
    assert during <= 2 * before + 0.02  # not slowed (a noisy two-core machine: a generous bound)
    assert lag[0] > 100
    assert lag[1] > 25
    assert ids_of(messages) == [event[0] for event in events]  # one writer: the backlog, in order


def burst(api: Service, user: str, count: int, kill_after: int) -> int:
    """`count` creates from 8 clients; SIGKILL the service once `kill_after` were acknowledged.
    How many were (201)."""
    acknowledged = threading.Semaphore(0)
    done = [0]

    def create(n: int) -> None:
        try:
            url = f"{api.base_url}/api/{user}/tasks"
            response = httpx.post(url, json={"title": f"burst {n}"}, headers=auth(user), timeout=10)
        except httpx.TransportError:
            return
        if response.status_code == 201:
            done[0] += 1
            acknowledged.release()

    with ThreadPoolExecutor(8) as pool:
        for n in range(count):
            pool.submit(create, n)
        for _ in range(kill_after):
            acknowledged.acquire()
        api.stop(signal.SIGKILL)
    return done[0]


def test_a_service_killed_mid_burst_leaves_every_change_in_the_stream_once(
    database_url: URL, tmp_path: Path
) -> None:
    user = new_user()
    with nats_server(tmp_path / "nats") as nats, new_database(database_url, "todo_relay") as url:
        with instances(1, url, tmp_path / "first", EVENTS_NATS_URL=nats.url) as [api]:
            acknowledged = burst(api, user, 1500, kill_after=700)
        with instances(1, url, tmp_path / "restarted", EVENTS_NATS_URL=nats.url):
            events = events_in_database(url)
            messages = wait_for_messages(nats.url, len(events))
    ids = ids_of(messages)
    missing = {event[0] for event in events} - set(ids)
    print(
        f"\n{acknowledged} creates acknowledged before the SIGKILL, {len(events)} committed,"
        f" {len(messages)} messages: {len(missing)} missing, {len(ids) - len(set(ids))} duplicated,"
        f" {len(set(ids) - {event[0] for event in events})} not committed"
    )
    assert acknowledged <= len(events)
    assert ids == sorted(ids)
    assert set(ids) == {event[0] for event in events}
    assert len(ids) == len(set(ids))


def test_three_instances_publish_each_event_once(database_url: URL, tmp_path: Path) -> None:
    users = [new_user() for _ in range(3)]
    with relaying(database_url, tmp_path, count=3) as (url, nats, services):

        def write(n: int) -> None:
            user = users[n % 3]
            response = httpx.post(
                f"{services[n % 3].base_url}/api/{user}/tasks",
                json={"title": f"task {n}"},
                headers=auth(user),
                timeout=30,
            )
            assert response.status_code == 201

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(write, range(600)))
        events = events_in_database(url)
        messages = wait_for_messages(nats.url, len(events))
        published = [relay_published(service) for service in services]
    print(f"\n{len(events)} events, {len(messages)} messages; published by each instance: {published}")
    assert sorted(ids_of(messages)) == [event[0] for event in events]
    assert sum(published) == len(events)  # each event published by one relay, once
    assert_in_order_per_user(messages)
