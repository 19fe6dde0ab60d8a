"""Request ids and Prometheus metrics: what the person on call needs to find one request, and trends.

- Every request gets an id (the client's `X-Request-ID` when it is safe to log, else a fresh one). It
  is echoed in the response, carried by every log line written while serving the request, and put in
  5xx bodies so a user can quote it.
- Metrics use `prometheus_client`. Labels hold only bounded values: methods, route templates from the
  route table (never a raw path), status codes and fixed reason codes. With several workers,
  `python -m todo_api` points `PROMETHEUS_MULTIPROC_DIR` at a folder shared by the workers, and
  `/metrics` adds them all up.

The edge middleware (`web/edge.py`) does both, outermost, so it sees every answer (CORS preflights
and errors too). The metric children are cached per label set: on the hot path a request costs two
dict lookups, a counter increment and a histogram observation.
"""

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response

from .. import __version__

METRICS_PATH = "/metrics"
UNMATCHED_ROUTE = "unmatched"
_KNOWN_METHODS = {
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "OPTIONS",
}  # any other is "other"  # no route took the request (404s, CORS preflights answered early)

REQUESTS = Counter("todo_api_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "todo_api_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0),
)
POOL_CONNECTIONS = Gauge(
    "todo_api_db_pool_connections",
    "Database connections held by the pool, by state",
    ["state"],
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "todo_api_db_pool_requests_waiting",
    "Requests queued for a database connection",
    multiprocess_mode="livesum",
)
POOL_WAIT = Histogram(
    "todo_api_db_pool_wait_seconds",
    "Time a request waited for a pooled database connection",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DATABASE_ERRORS = Counter(
    "todo_api_db_errors_total", "Requests answered 503 because of the database, by kind", ["kind"]
)
AUTH_FAILURES = Counter(
    "todo_api_auth_failures_total", "Requests refused by authentication or authorization", ["reason"]
)
JWKS_FETCHES = Counter("todo_api_jwks_fetches_total", "Fetches of Better Auth's JWKS", ["outcome"])
REMINDERS_FIRED = Counter("todo_api_reminders_fired_total", "Reminders turned into notifications")
EVENTS_WRITTEN = Gauge(
    "todo_api_events_written", "Events written to the log so far (its latest id)", multiprocess_mode="max"
)
STREAMS_OPEN = Gauge("todo_api_event_streams_open", "Event streams open", multiprocess_mode="livesum")
RELAY_PUBLISHED = Counter("todo_api_relay_published_total", "Events the relay published to NATS JetStream")
RATE_LIMITED = Counter("todo_api_rate_limited_total", "Requests refused with 429", ["limit"])
RATE_LIMITER_FAILURES = Counter(
    "todo_api_rate_limiter_failures_total", "Checks that failed (Redis away): served unlimited"
)
RELAY_FAILED = Counter("todo_api_relay_failures_total", "Relay batches that failed (NATS away, no ack)")
RELAY_LAG_EVENTS = Gauge(
    "todo_api_relay_lag_events", "Events written but not yet published to NATS", multiprocess_mode="max"
)
RELAY_LAG_SECONDS = Gauge(
    "todo_api_relay_lag_seconds", "Age of the oldest event not yet published to NATS", multiprocess_mode="max"
)
NOTIFICATIONS_PURGED = Counter(
    "todo_api_notifications_purged_total", "Notifications deleted after NOTIFICATION_RETENTION_DAYS"
)
BUILD_INFO = Gauge(
    "todo_api_build_info", "The running version (always 1)", ["version"], multiprocess_mode="max"
)
BUILD_INFO.labels(__version__).set(1)


class RequestMetrics:
    """Counts and times answered requests (the edge middleware calls `record` once per request)."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def record(self, method: str, route: str | None, status: int, seconds: float) -> None:
        """`route` is the template of the route that took the request (None: none did)."""
        method = method if method in _KNOWN_METHODS else "other"
        template = route or UNMATCHED_ROUTE
        key = (method, template, status)  # bounded by the route table: so is this cache
        children = self._children.get(key)
        if children is None:
            children = (REQUESTS.labels(method, template, str(status)), LATENCY.labels(method, template))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def metrics_response(_: Request) -> Response:
    """`GET /metrics`: this process's metrics, or every worker's in multiprocess mode."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@asynccontextmanager
async def pool_gauges(stats: Callable[[], dict[str, int]], every: float = 1.0) -> AsyncIterator[None]:
    """Keep the pool gauges current (each worker writes its own; Prometheus sees their sum)."""

    async def refresh() -> None:
        while True:
            current = stats()
            idle = current.get("pool_available", 0)
            POOL_CONNECTIONS.labels("idle").set(idle)
            POOL_CONNECTIONS.labels("in_use").set(current.get("pool_size", 0) - idle)
            POOL_WAITING.set(current.get("requests_waiting", 0))
            await asyncio.sleep(every)

    task = asyncio.create_task(refresh())
    try:
        yield
    finally:
        task.cancel()
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # leave the sum
