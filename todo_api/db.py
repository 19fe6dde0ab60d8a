"""The connection pool, and the single place that knows how to talk to PostgreSQL.

Requests run on psycopg's own async pool (`psycopg_pool`); SQLAlchemy and Alembic only manage the
schema. Neon drops every connection of a compute at once (restart, scaling, failover, PgBouncer
restart), so a connection is checked before each use, at no round trip's cost:

- A server that ends a session sends its FATAL message and closes the socket. We never `LISTEN`,
  so an idle connection whose socket is readable has been closed by the server: it is discarded
  and the next one is taken, before any statement is sent. A write is therefore never sent on a
  connection known to be dead, and never retried.
- A connection idle longer than `DATABASE_IDLE_CHECK` is pinged: drops that send nothing (NAT or
  load-balancer timeouts) leave no readable socket. TCP keepalives notice a peer that vanished.
- Every statement runs against a deadline (the statement timeout plus a second) that the client
  enforces too, because a frozen server enforces nothing: the wait for a pooled connection counts
  against it, and at the deadline the socket is shut down, so the request ends with a 503.
"""

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy.engine import URL

from .config import Settings
from .observability.metrics import POOL_WAIT
from .storage.connections import connection_options, is_readable, sever
from .storage.errors import (
    UNAVAILABLE_ERRORS,
    ConnectionLost,
    DatabaseUnavailable,
    UnavailableKind,
    is_unavailable,
)
from .storage.urls import libpq_dsn

# What the rest of the service imports from here: the pool, and the failures (storage/errors.py).
__all__ = [
    "UNAVAILABLE_ERRORS",
    "ConnectionLost",
    "Database",
    "DatabaseUnavailable",
    "Rows",
    "Transaction",
    "is_unavailable",
]

logger = logging.getLogger(__name__)

# Beyond the statement timeout, how long the client waits before giving up on a silent server.
DEADLINE_GRACE_SECONDS = 1.0
# How often a request waiting for a connection checks whether connection attempts are failing;
# then it gives up (503) instead of waiting out its deadline.
DOWN_WAIT_SECONDS = 1.0

Rows = list[tuple[Any, ...]]


class Database:
    """The request path's pool; `execute` is the one way statements reach PostgreSQL."""

    def __init__(self, url: URL, settings: Settings) -> None:
        self._statement_deadline = settings.database_statement_timeout + DEADLINE_GRACE_SECONDS
        self._pool_timeout = settings.database_pool_timeout
        self._connect_timeout = float(settings.database_connect_timeout)
        self._idle_check = settings.database_idle_check
        self._returned_at: weakref.WeakKeyDictionary[AsyncConnection[Any], float] = (
            weakref.WeakKeyDictionary()
        )
        # Connection attempts that had failed when the last one succeeded (see `_looks_down`).
        self._errors_at_last_connect = 0
        self.pool = AsyncConnectionPool(
            libpq_dsn(url),
            kwargs=connection_options(url, settings),
            min_size=min(settings.database_pool_min_size, settings.database_pool_size),
            max_size=settings.database_pool_size + settings.database_max_overflow,
            timeout=settings.database_pool_timeout,
            # Retire connections before a server or proxy would drop them while idle.
            max_lifetime=settings.database_pool_recycle,
            # Give up on a slot soon while the database is down: a waiting request then starts a
            # fresh attempt at once, instead of one scheduled ever further away by the backoff.
            reconnect_timeout=max(5.0, 2 * self._connect_timeout),
            configure=self._connected,
            open=False,
            name="todo-api",
        )

    async def open(self) -> None:
        """Start connecting in the background: the service starts even while the database is down."""
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close(timeout=5)

    async def execute(self, sql: str, params: dict[str, Any] | None = None, *, read: bool = False) -> Rows:
        """The statement's rows, in one round trip on a pooled connection.

        A read (`read=True`) whose connection dies under it runs once more on another connection,
        within the same deadline. A write never does: it may have been applied.
        """
        deadline = time.monotonic() + self._statement_deadline
        try:
            return await self._run(sql, params, deadline)
        except ConnectionLost:
            if not read:
                raise
            return await self._run(sql, params, deadline)

    async def ping(self) -> None:
        """One round trip, bounded by the connect timeout; raises DatabaseUnavailable."""
        await self._run("SELECT 1", None, time.monotonic() + self._connect_timeout)

    def stats(self) -> dict[str, int]:
        """psycopg_pool's counters and gauges (`pool_size`, `pool_available`, `requests_waiting`...)."""
        return self.pool.get_stats()

    async def _run(self, sql: str, params: dict[str, Any] | None, deadline: float) -> Rows:
        async with _Guarded(self, deadline) as conn:
            return await _fetch(await conn.execute(sql, params))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["Transaction"]:
        """Statements on one connection, committed together when the block ends (rolled back if it
        raises), all within one request's deadline. Never retried: it writes."""
        deadline = time.monotonic() + self._statement_deadline
        async with _Guarded(self, deadline) as conn, conn.transaction():
            yield Transaction(conn)

    async def _give_back(self, conn: AsyncConnection[Any]) -> None:
        self._returned_at[conn] = time.monotonic()
        await self.pool.putconn(conn)  # a broken one is discarded and replaced by the pool

    async def _checkout(self, deadline: float) -> AsyncConnection[Any]:
        """A pooled connection not known to be dead, waiting at most until the request's deadline
        or `DATABASE_POOL_TIMEOUT`, and only `DOWN_WAIT_SECONDS` once connection attempts fail."""
        started = time.monotonic()
        give_up_at = min(deadline, started + self._pool_timeout)
        while (remaining := give_up_at - time.monotonic()) > 0:
            try:
                conn = await self.pool.getconn(timeout=min(remaining, DOWN_WAIT_SECONDS))
            except PoolTimeout:
                if self._looks_down():
                    raise DatabaseUnavailable("unavailable") from None
                continue  # slow, not down (a compute waking up, or every connection busy)
            if await self._alive(conn):
                POOL_WAIT.observe(time.monotonic() - started)
                return conn
            # One dead connection means its siblings are likely dead too (the server dropped
            # them together); each is found the same way, at no round trip's cost.
            await conn.close()
            await self.pool.putconn(conn)
        raise DatabaseUnavailable(self._why_no_connection())

    async def _alive(self, conn: AsyncConnection[Any]) -> bool:
        if conn.closed or is_readable(conn.pgconn.socket):
            logger.info("replacing a connection the server closed", extra={"event": "db_connection_dropped"})
            return False
        returned_at = self._returned_at.get(conn)
        if returned_at is None or time.monotonic() - returned_at < self._idle_check:
            return True
        try:  # idle for a while: a drop may have sent nothing, so ask
            await conn.execute("")
        except psycopg.Error as error:
            logger.info("replacing a dropped idle connection", extra={"error": type(error).__name__})
            return False
        return True

    async def _connected(self, conn: AsyncConnection[Any]) -> None:
        self._errors_at_last_connect = self.pool.get_stats().get("connections_errors", 0)

    def _looks_down(self) -> bool:
        """Whether the latest connection attempt failed (no success since the last failure)."""
        return self.pool.get_stats().get("connections_errors", 0) > self._errors_at_last_connect

    def _why_no_connection(self) -> UnavailableKind:
        stats = self.pool.get_stats()
        if self._looks_down() or stats.get("pool_size", 0) < stats.get("pool_max", 0):
            return "unavailable"  # the pool could not even fill up
        return "saturated"


class _Guarded:
    """A pooled connection for one request, with its deadline enforced and the driver's failures
    translated, given back at the end. A class, not a generator-based context manager: every
    statement takes this path, and a generator costs it two more frames each way."""

    __slots__ = ("_conn", "_database", "_deadline", "_watchdog")

    def __init__(self, database: Database, deadline: float) -> None:
        self._database, self._deadline = database, deadline

    async def __aenter__(self) -> AsyncConnection[Any]:
        self._conn = conn = await self._database._checkout(self._deadline)
        # A frozen server answers nothing and times nothing out: at the deadline, shut the socket
        # down so the statement fails now. (Cancelling the task instead would make psycopg wait up
        # to 10 s more for the server to acknowledge the cancel.)
        delay = self._deadline - time.monotonic()
        self._watchdog = asyncio.get_running_loop().call_later(delay, sever, conn.pgconn.socket)
        return conn

    async def __aexit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        self._watchdog.cancel()
        try:
            if isinstance(error, psycopg.Error) and (failure := self._failure(error)) is not None:
                # The server's timeout needs no cause in a traceback; a lost connection keeps it.
                raise failure from (None if isinstance(error, psycopg.errors.QueryCanceled) else error)
        finally:
            await self._database._give_back(self._conn)

    def _failure(self, error: psycopg.Error) -> DatabaseUnavailable | None:
        """What a statement's failure means, when the database is to blame: the server's statement
        timeout, or a connection that died under it (past the deadline: our watchdog)."""
        if isinstance(error, psycopg.errors.QueryCanceled):
            return DatabaseUnavailable("timeout")
        if not isinstance(error, psycopg.OperationalError) or not self._conn.broken:
            return None
        return DatabaseUnavailable("timeout") if time.monotonic() >= self._deadline else ConnectionLost()


class Transaction:
    """The connection of a `Database.transaction()` block."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: dict[str, Any] | None = None) -> Rows:
        return await _fetch(await self._conn.execute(sql, params))


async def _fetch(cursor: psycopg.AsyncCursor[Any]) -> Rows:
    # `rownumber`, not `description`: the same test (is there a result set?), without building a
    # Column object per column on every statement.
    return await cursor.fetchall() if cursor.rownumber is not None else []
