"""What "the database cannot serve this request" means, for the pool (`db.py`) and its callers, who
import it from `db`."""

from typing import Literal

import psycopg
from sqlalchemy import exc as sa_exc

UnavailableKind = Literal["unavailable", "timeout", "saturated"]


class DatabaseUnavailable(Exception):
    """The database cannot serve this request right now: answered 503, never 500.

    `kind` says why, for logs and metrics: `unavailable` (unreachable, or the connection died),
    `timeout` (the statement ran past its deadline), `saturated` (every pooled connection stayed
    busy until the request's deadline).
    """

    def __init__(self, kind: UnavailableKind) -> None:
        super().__init__(kind)
        self.kind = kind


class ConnectionLost(DatabaseUnavailable):
    """The connection died under a statement: a read may be retried once, a write never."""

    def __init__(self) -> None:
        super().__init__("unavailable")


# Besides DatabaseUnavailable: a refused or dropped connection (psycopg's OperationalError, which
# includes the statement timeout's QueryCanceled), and SQLAlchemy's wrappers of them (migrations).
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    DatabaseUnavailable,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    ConnectionError,
)


def is_unavailable(error: BaseException) -> bool:
    """Errors meaning "the database cannot be reached right now" (503), as opposed to a bug (500).

    Migrations go through SQLAlchemy, requests through psycopg; both count.
    """
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, UNAVAILABLE_ERRORS)
