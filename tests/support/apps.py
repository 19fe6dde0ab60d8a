"""The app in-process (ASGI) on a real PostgreSQL, with its lifespan running, and a client for it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.engine import URL

from todo_api.config import Settings
from todo_api.main import create_app

from .auth import SECRET

FRONTEND = "http://localhost:3000"


def make_settings(**overrides: object) -> Settings:
    # Rate limits off unless a test turns them on: most tests send far more than 600 requests a minute.
    values: dict[str, object] = {"better_auth_secret": SECRET, "better_auth_url": FRONTEND}
    values |= {"rate_limits_enabled": False, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@asynccontextmanager
async def lifespan_in_its_own_task(application: FastAPI) -> AsyncIterator[None]:
    """Run the app's lifespan in one task, start to end, as a server does.

    A fixture's setup and teardown run in different tasks, and the MCP SDK's task group (entered in
    the lifespan) must be left in the task that entered it.
    """
    stop = asyncio.Event()
    started = asyncio.Event()

    async def serve() -> None:
        async with application.router.lifespan_context(application):
            started.set()
            await stop.wait()

    task, waiter = asyncio.create_task(serve()), asyncio.create_task(started.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()  # start-up failed: raise its error here
    try:
        yield
    finally:
        stop.set()
        await task


def asgi_client(application: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@asynccontextmanager
async def serving(settings: Settings, url: URL) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Another app on `url`, with its lifespan running, and a client for it."""
    application = create_app(settings, url)
    async with application.router.lifespan_context(application), asgi_client(application) as http:
        yield application, http


@asynccontextmanager
async def running_app(settings: Settings, url: URL) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings, url) as (_, http):
        yield http
