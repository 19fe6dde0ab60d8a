"""The application factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.engine import URL

from .auth.jwks import JwksKeySource
from .auth.jwt import TokenVerifier
from .config import Settings
from .db import create_engine
from .errors import install_error_handlers
from .middleware import BodySizeLimitMiddleware
from .migrate import upgrade_to_head
from .repository import TaskRepository
from .routes import tasks


def create_app(settings: Settings, database_url: URL) -> FastAPI:
    """Build the API for one database. The caller decides which (see `__main__`)."""
    jwks = JwksKeySource(settings.jwks_url)
    token_verifier = TokenVerifier(
        secret=settings.require_secret(),
        keys=jwks,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await upgrade_to_head(database_url, settings.database_connect_timeout)
        engine = create_engine(database_url, settings)
        app.state.engine = engine
        app.state.repository = TaskRepository(engine)
        try:
            yield
        finally:
            await engine.dispose()
            await jwks.aclose()

    app = FastAPI(
        title="Todo API",
        version="1.0.0",
        summary="Per-user tasks for a Next.js + Better Auth frontend, stored in PostgreSQL.",
        lifespan=lifespan,
        # Accept JSON bodies sent without a Content-Type (some fetch wrappers omit it). Bearer
        # tokens, not cookies, authenticate, so this opens no CSRF path.
        strict_content_type=False,
    )
    app.state.token_verifier = token_verifier
    app.include_router(tasks.router)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
        allow_credentials=True,
        max_age=600,
    )
    return app
