"""The connection pool, and the single place that knows how to talk to PostgreSQL."""

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .config import Settings

# Errors meaning "the database cannot be reached right now" (refused, dropped, timed out,
# pool exhausted), as opposed to a bug in a query. They become 503, everything else 500.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    ConnectionError,
)


def create_engine(url: URL, settings: Settings) -> AsyncEngine:
    return create_async_engine(
        url,
        # Each task operation is a single statement, so autocommit makes it atomic and
        # saves the BEGIN and COMMIT round trips.
        isolation_level="AUTOCOMMIT",
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        # Retire connections before a server or proxy would drop them while idle.
        pool_recycle=settings.database_pool_recycle,
        connect_args={"connect_timeout": settings.database_connect_timeout},
    )


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, UNAVAILABLE_ERRORS)
