"""A failed database call, for whoever is on call: logged and counted, and told apart from a bug."""

import logging

from fastapi import Request

from ..db import DatabaseUnavailable, is_unavailable
from ..observability.metrics import DATABASE_ERRORS

logger = logging.getLogger("todo_api.errors")


def report_database_error(request: Request, error: Exception, **where: str) -> bool:
    """Log (and count) a failed database call; True when it means "unavailable" (503), not a bug.

    The driver's message names the host: it goes to the log only, and without a traceback for an
    outage, which would otherwise flood the log.
    """
    where = {"method": request.method, "path": request.url.path, **where}
    if not is_unavailable(error):
        logger.exception("unexpected error", extra=where)
        return False
    kind = error.kind if isinstance(error, DatabaseUnavailable) else "unavailable"
    DATABASE_ERRORS.labels(kind).inc()
    if kind == "saturated":  # the database is fine; this process has more work than connections
        stats = request.app.state.database.stats()
        logger.error(
            "database pool saturated: no free connection within the request's deadline",
            extra={"event": "db_saturated", **where, "pool_size": stats.get("pool_size"),
                   "requests_waiting": stats.get("requests_waiting")},
        )  # fmt: skip
    else:
        logger.error(
            "database %s: %s",
            kind,
            type(error.__cause__ or error).__name__,
            extra={"event": f"db_{kind}", **where},
        )
    return True
