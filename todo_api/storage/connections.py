"""How the pool's connections are opened: libpq options, for a direct server or a transaction pooler."""

import logging
import select
import socket
from typing import Any

from sqlalchemy.engine import URL

from ..config import Settings

# The pool's logger: these lines belong with its other ones.
logger = logging.getLogger("todo_api.db")

APPLICATION_NAME = "todo-api"
# Noticed within about a minute: a peer that vanished without closing the connection.
_KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}


def connection_options(url: URL, settings: Settings) -> dict[str, Any]:
    """libpq and psycopg options. Behind PgBouncer in transaction mode, nothing may rely on session state."""
    options: dict[str, Any] = {
        "connect_timeout": settings.database_connect_timeout,
        "application_name": APPLICATION_NAME,
        # Most operations are one statement, atomic on its own; the others open a transaction.
        "autocommit": True,
    }
    options |= {name: value for name, value in _KEEPALIVES.items() if name not in url.query}
    if settings.behind_transaction_pooler(url):
        # Server-side prepared statements live in one server session; through a transaction
        # pooler the next statement may run in another ("_pg3_0 already exists", or worse,
        # another query's rows). A startup `options` parameter is refused there too, so the
        # statement timeout has to be set on the role (see docs/neon.md).
        options["prepare_threshold"] = None
    else:
        # Added to the URL's own `options` (e.g. Neon's `endpoint=...`), which stay as given.
        given = url.query.get("options", ())
        timeout = f"-c statement_timeout={int(settings.database_statement_timeout * 1000)}"
        options["options"] = " ".join([*([given] if isinstance(given, str) else given), timeout])
    return options


def is_readable(fd: int) -> bool:
    """Bytes (or EOF) waiting on an idle connection: the server's goodbye, without a round trip."""
    # poll(), not select(): select() refuses descriptors past 1023, and a service holding a
    # thousand open event streams hands its pool connections such descriptors.
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def sever(fd: int) -> None:
    """Shut a connection's socket down (the fd stays psycopg's), failing what waits on it."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.detach()  # psycopg still owns the descriptor
    logger.warning("gave up on a database that did not answer in time", extra={"event": "db_deadline"})
