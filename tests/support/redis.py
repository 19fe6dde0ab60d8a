"""A throwaway `redis-server` on a free loopback port, for outages: the machine's own is never touched."""

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .ports import free_port
from .tools import require_tool


@contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Its URL and process (kill it for an outage); stopped at the end."""
    binary = require_tool("redis-server", "REDIS", "Debian: apt-get install redis-server")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(10)
