"""The connection pool, and the single place that knows how to talk to PostgreSQL."""

import logging
import time
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from .config import Settings

logger = logging.getLogger(__name__)

APPLICATION_NAME = "todo-api"


class ConnectionLost(Exception):
    """The database connection died under a statement (server restarted, compute suspended)."""


# Errors meaning "the database cannot be reached right now" (refused, dropped, timed out,
# pool exhausted, statement timeout), as opposed to a bug in a query: 503, everything else 500.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    psycopg.OperationalError,  # includes QueryCanceled: the statement timeout
    psycopg.InterfaceError,
    ConnectionLost,
    ConnectionError,
)


def connect_args(url: URL, settings: Settings) -> dict[str, Any]:
    """Driver options. Behind PgBouncer in transaction mode, nothing may rely on session state."""
    args: dict[str, Any] = {
        "connect_timeout": settings.database_connect_timeout,
        "application_name": APPLICATION_NAME,
    }
    if settings.behind_transaction_pooler(url):
        # Server-side prepared statements live in one server session; through a transaction
        # pooler the next statement may run in another ("_pg3_0 already exists", or worse,
        # another query's rows). A startup `options` parameter is refused there too, so the
        # statement timeout has to be set on the role (see README).
        args["prepare_threshold"] = None
    else:
        # Added to the URL's own `options` (e.g. Neon's `endpoint=...`), which stay as given.
        given = url.query.get("options", ())
        timeout = f"-c statement_timeout={int(settings.database_statement_timeout * 1000)}"
        args["options"] = " ".join([*([given] if isinstance(given, str) else given), timeout])
    return args


def create_engine(url: URL, settings: Settings) -> AsyncEngine:
    args = connect_args(url, settings)
    engine = create_async_engine(
        url.difference_update_query(["options"]) if "options" in args else url,
        # Each task operation is a single statement, so autocommit makes it atomic and
        # saves the BEGIN and COMMIT round trips.
        isolation_level="AUTOCOMMIT",
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        # Retire connections before a server or proxy would drop them while idle.
        pool_recycle=settings.database_pool_recycle,
        connect_args=args,
    )
    _check_idle_connections(engine, settings.database_idle_check)
    return engine


def _check_idle_connections(engine: AsyncEngine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only if it sat idle for `idle_seconds`.

    Neon suspends idle computes and drops their connections; a ping on such a connection fails
    and the pool silently replaces it, so the request never sees it. Busy connections skip the
    ping: no extra round trip on the hot path (unlike `pool_pre_ping`).
    """
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _mark_idle(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            logger.info("replacing a dropped idle connection", extra={"error": type(error).__name__})
            raise sa_exc.DisconnectionError() from error  # the pool retries with a new connection


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, UNAVAILABLE_ERRORS)


async def ping(engine: AsyncEngine) -> None:
    """One round trip to the database; raises if it cannot be reached."""
    async with engine.connect() as conn:
        await conn.exec_driver_sql("SELECT 1")
