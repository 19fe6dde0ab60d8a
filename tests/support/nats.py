"""A throwaway `nats-server -js` on a free loopback port, and what a test reads back from its stream."""

import asyncio
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.js.errors import NotFoundError

from .ports import free_port
from .tools import require_tool

STREAM = "TODO_EVENTS"  # the service's default EVENTS_NATS_STREAM


class NatsServer:
    """One server with its JetStream store in `folder`: stopped and started again on the same port
    and store, it comes back with every message it had."""

    def __init__(self, folder: Path) -> None:
        self._binary = require_tool("nats-server", "NATS", "Debian: apt-get install nats-server")
        self._folder = folder
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [self._binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self._folder)]
        log = (self._folder / "nats.log").open("ab")
        self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not _answers(self.port):
            assert self._process.poll() is None, "nats-server exited"
            assert time.monotonic() < deadline, "nats-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(15)
        self._process = None


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            return sock.recv(4).startswith(b"INFO")
    except OSError:
        return False


@contextmanager
def nats_server(folder: Path) -> Iterator[NatsServer]:
    folder.mkdir(parents=True, exist_ok=True)
    server = NatsServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Message:
    subject: str
    headers: dict[str, str]
    event: dict[str, Any]  # the CloudEvent, as JSON


async def read_stream(url: str, stream: str) -> list[Message]:
    client = await nats.connect(url, connect_timeout=2, allow_reconnect=False)
    try:
        jetstream = client.jetstream()
        try:
            state = (await jetstream.stream_info(stream)).state
        except NotFoundError:
            return []
        found = []
        for sequence in range(state.first_seq, state.last_seq + 1):
            raw = await jetstream.get_msg(stream, sequence)
            found.append(Message(raw.subject or "", dict(raw.headers or {}), json.loads(raw.data or b"")))
        return found
    finally:
        await client.close()


def stored(url: str, stream: str = STREAM) -> list[Message]:
    """Every message of the stream, in the order JetStream stored them."""
    return asyncio.run(read_stream(url, stream))


def wait_for_messages(url: str, count: int, within: float = 30, stream: str = STREAM) -> list[Message]:
    """The stream's messages once it holds `count` (or what it holds after `within` seconds), after
    a second more in which any duplicate would have arrived."""
    deadline = time.monotonic() + within
    while len(stored(url, stream)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    return stored(url, stream)
