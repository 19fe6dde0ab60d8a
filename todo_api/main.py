"""The application factory: `create_app` puts the pieces together, in a few named steps."""

import asyncio
import gc
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from fastapi import FastAPI
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from sqlalchemy.engine import URL, make_url

from . import __version__
from .auth.jwks import JwksKeySource
from .auth.jwt import TokenVerifier
from .config import DATABASE_URL_VARIABLE, Settings
from .db import Database, is_unavailable
from .events.hub import EventHub
from .events.log import EventLog
from .events.relay import Relay
from .events.upkeep import run_upkeep
from .mcp import endpoint as mcp_endpoint
from .observability.metrics import METRICS_PATH, metrics_response, pool_gauges
from .observability.request_id import REQUEST_ID_HEADER
from .reminders.notifications import NotificationRepository
from .reminders.scheduler import run_scheduler
from .routes import account, events, health, notifications, tags, tasks
from .storage.migrate import upgrade_to_head
from .tasks.backfill import keep_documents_current
from .tasks.limits import Quotas
from .tasks.repository import TaskRepository
from .web.edge import EdgeMiddleware
from .web.errors import install_error_handlers
from .web.rate_limits import RateLimits
from .web.responses import without_item_schemas

logger = logging.getLogger("todo_api")
STOP_TIMEOUT_SECONDS = 5  # at shutdown, for each background task to end its statement

# What MCP clients send besides Authorization and Content-Type (a browser asks in its preflight).
MCP_REQUEST_HEADERS = ["Mcp-Protocol-Version", "Mcp-Session-Id", "Last-Event-ID"]
CORS_REQUEST_HEADERS = [
    *["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key"],
    *MCP_REQUEST_HEADERS,
]
# Readable by a page: the task headers, the rate limits, the request id, and for MCP clients the
# 401's WWW-Authenticate (it names the resource metadata) and the session id.
CORS_EXPOSED_HEADERS = [
    *["ETag", "Link", "X-Total-Count", "Retry-After", "RateLimit", "RateLimit-Policy", REQUEST_ID_HEADER],
    *["WWW-Authenticate", "Mcp-Session-Id"],
]
GC_YOUNG_THRESHOLD = 10_000  # allocations between two young collections (CPython's default: 700)
_PLACEHOLDER_SECRET = "placeholder-secret-only-to-build-the-document"  # noqa: S105 (never verifies anything)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def app_from_environment() -> FastAPI:
    """uvicorn's factory in each worker process."""
    return create_app(Settings(), make_url(os.environ[DATABASE_URL_VARIABLE]))


def create_app(settings: Settings, database_url: URL) -> FastAPI:
    """Build the API for one database. The caller decides which (see `cli/serve.py`)."""
    jwks = JwksKeySource(settings.jwks_url)
    # None when MCP is off: no tool server is built, no task group runs, no route is added.
    mcp_sessions = mcp_endpoint.session_manager(__version__) if settings.mcp_enabled else None
    app = FastAPI(
        title="Todo API",
        version=__version__,
        summary="Per-user tasks for a Next.js + Better Auth frontend, stored in PostgreSQL.",
        lifespan=_lifespan(settings, database_url, jwks, mcp_sessions),
        # No OpenTelemetry here (metrics are Prometheus', `/metrics`): skip FastAPI's per-request
        # check for a configured provider.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # Accept JSON bodies sent without a Content-Type (some fetch wrappers omit it). Bearer
        # tokens, not cookies, authenticate, so this opens no CSRF path.
        strict_content_type=False,
        # Never answer 307: EdgeMiddleware serves `/tasks/` as `/tasks` instead.
        redirect_slashes=False,
    )
    app.state.token_verifier = _token_verifier(settings, jwks)
    if settings.rate_limits_enabled:
        redis = settings.redis_url.get_secret_value() if settings.redis_url else None
        app.state.request_gate = RateLimits(settings.rate_limit, settings.unauthenticated_rate_limit, redis)
    fastapi_document = app.openapi
    app.openapi = lambda: without_item_schemas(fastapi_document())  # type: ignore[method-assign]
    _add_routes(app, settings, mcp_sessions)
    install_error_handlers(app)
    _add_middleware(app, settings)
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, built by the factory without a database: it depends on no setting."""
    settings = Settings(_env_file=None, better_auth_secret=_PLACEHOLDER_SECRET)  # type: ignore[call-arg, arg-type]
    return create_app(settings, make_url("postgresql+psycopg://unused@localhost/unused")).openapi()


def _token_verifier(settings: Settings, jwks: JwksKeySource) -> TokenVerifier:
    return TokenVerifier(
        secret=settings.require_secret(),
        keys=jwks,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
        user_id_claim=settings.jwt_user_id_claim,
    )


def _lifespan(
    settings: Settings,
    database_url: URL,
    jwks: JwksKeySource,
    mcp_sessions: StreamableHTTPSessionManager | None,
) -> Lifespan:
    """Open the pool, migrate (in the background while the database is down), run what runs beside
    the requests (pool gauges, MCP's task group), and close it all at the end."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(database_url, settings)
        await database.open()
        app.state.database = database
        quotas = Quotas(settings.max_tasks_per_user, settings.max_reminders_per_user)
        app.state.repository = TaskRepository(database, quotas)
        app.state.notifications = NotificationRepository(database)
        app.state.event_log, app.state.event_hub = EventLog(database), EventHub(database)
        migrator = await _start_migrating(app, database_url, settings)
        background = _beside_requests(app, database, settings)
        try:
            gauges = pool_gauges(database.stats) if settings.metrics_enabled else nullcontext()
            mcp_tasks = mcp_sessions.run() if mcp_sessions is not None else nullcontext()
            async with gauges, mcp_tasks:
                _settle_the_heap()
                yield
        finally:
            await _stop(migrator, *background)
            await database.close()
            await jwks.aclose()

    return lifespan


async def _stop(*tasks: asyncio.Task[None]) -> None:
    """Cancel, then wait (bounded) until each has finished: psycopg cancels a statement in flight on
    the server, and a task left pending would be cancelled again at the loop's end, interrupting that
    and closing the connection with a warning."""
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=STOP_TIMEOUT_SECONDS)


def _settle_the_heap() -> None:
    """Keep the garbage collector off what start-up built (modules, routes, schemas: most of the
    heap), which lives as long as the process: each full collection walked all of it, stalling every
    request for the duration (docs/performance.md has the figures). Collect young objects less often
    too: requests allocate fast, and most of it is freed by reference counting anyway."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _beside_requests(app: FastAPI, database: Database, settings: Settings) -> list[asyncio.Task[None]]:
    """What every instance runs beside the requests, each waiting for the schema first."""
    ready: asyncio.Event = app.state.schema_ready
    relayed = settings.events_nats_url is not None
    jobs = [
        keep_documents_current(database, ready),
        app.state.event_hub.run(),
        run_upkeep(database, app.state.event_log, ready, settings.event_retention_hours, relayed=relayed),
    ]
    if settings.reminders_enabled:
        jobs.append(
            run_scheduler(
                database, ready, settings.reminder_poll_interval, settings.notification_retention_days
            )
        )
    if settings.events_nats_url is not None:
        url = settings.events_nats_url.get_secret_value()
        jobs.append(Relay(database, url, settings.events_nats_stream, settings.events_source).run(ready))
    return [asyncio.create_task(job) for job in jobs]


async def _start_migrating(app: FastAPI, url: URL, settings: Settings) -> asyncio.Task[None]:
    """Migrate in the background, after waiting for the first attempt: that one usually succeeds,
    and requests then never see a missing schema. Until one succeeds, the service reports not-ready."""
    app.state.schema_ready = asyncio.Event()
    first_attempt = asyncio.Event()
    migrator = asyncio.create_task(_migrate_until_done(url, settings, app.state.schema_ready, first_attempt))
    await first_attempt.wait()
    return migrator


async def _migrate_until_done(
    url: URL, settings: Settings, done: asyncio.Event, attempted: asyncio.Event
) -> None:
    """Apply migrations, retrying with capped exponential backoff while the database is away."""
    delay = 0.5
    while True:
        try:
            await upgrade_to_head(url, settings.database_connect_timeout)
        except Exception as error:
            log = logger.warning if is_unavailable(error) else logger.exception
            log(
                "migrations not applied yet; retrying in %.1f s", delay, extra={"error": type(error).__name__}
            )
        else:
            done.set()
            return
        finally:
            attempted.set()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


def _add_routes(app: FastAPI, settings: Settings, mcp_sessions: StreamableHTTPSessionManager | None) -> None:
    # The routers' routes themselves, in this order (the task routes match first), rather than
    # `include_router`: since FastAPI 0.13x an included router stays a live view that every request
    # walks (checking it for changes, then each route), which the profile showed. These routers
    # are complete and never change once built; the OpenAPI document is the same either way.
    for module in (tasks, tags, notifications, events, account, health):
        app.router.routes.extend(module.router.routes)
    if settings.metrics_enabled:
        app.add_route(METRICS_PATH, metrics_response, include_in_schema=False)
    if mcp_sessions is not None:
        mcp_endpoint.install(
            app,
            mcp_sessions,
            authorization_server=settings.better_auth_url.strip().rstrip("/"),
            allowed_origins=settings.allowed_origins,
        )


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    cors = {
        "allow_origins": settings.allowed_origins,
        "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
        "allow_headers": CORS_REQUEST_HEADERS,
        "expose_headers": CORS_EXPOSED_HEADERS,
        # Bearer tokens need no cookies, but a frontend that fetches with `credentials: "include"`
        # everywhere must keep working (SC-005); the origin list is explicit, never "*".
        "allow_credentials": True,
        "max_age": 600,
    }
    app.add_middleware(
        EdgeMiddleware, max_body_bytes=settings.max_body_bytes, metrics=settings.metrics_enabled, cors=cors
    )
