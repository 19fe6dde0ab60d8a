"""Fixtures: a real PostgreSQL (TEST_DATABASE_URL, or an embedded server) and the real app."""

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import URL

from todo_api.config import Settings
from todo_api.main import create_app
from todo_api.storage.embedded import EmbeddedPostgres
from todo_api.storage.urls import to_psycopg_url

from .support.apps import asgi_client, lifespan_in_its_own_task, make_settings
from .support.databases import new_database


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """TEST_DATABASE_URL when set (CI: the machine's PostgreSQL); otherwise an embedded server."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield to_psycopg_url(url, "TEST_DATABASE_URL")
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("embedded"))
    try:
        yield embedded.start()
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
async def app(settings: Settings, database_url: URL) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database_url)
    async with lifespan_in_its_own_task(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as http:
        yield http


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def fresh_database(database_url: URL) -> Iterator[URL]:
    with new_database(database_url) as url:
        yield url
