"""Throwaway databases on the test server, and Neon's habit of dropping every connection at once."""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL

from todo_api.storage.urls import libpq_dsn


@contextmanager
def new_database(database_url: URL, prefix: str = "todo_test") -> Iterator[URL]:
    """A new, empty database on the test server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = libpq_dsn(database_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_url.set(database=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def drop_connections(url: URL) -> int:
    """What Neon does on a suspend, a compute restart or a PgBouncer restart: the server closes
    every session of ours, and we wait until they are gone (one the pool was opening meanwhile is
    terminated too). The number of terminations."""
    ours = "datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'todo-api'"
    terminated = 0
    deadline = time.monotonic() + 10
    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        while True:
            row = conn.execute(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {ours}")
            count = int(row.fetchone()[0])  # type: ignore[index]
            if count == 0:
                return terminated
            terminated += count
            assert time.monotonic() < deadline, "connections were not terminated"
            time.sleep(0.05)


def tcp_url(database_url: URL) -> URL:
    """The test database over TCP; PgBouncer and URL-option tests need one."""
    if not database_url.host:
        pytest.skip("needs TEST_DATABASE_URL pointing at a TCP PostgreSQL (CI sets it)")
    return database_url


def migration_steps() -> list[tuple[str, str]]:
    """Every (from, to) revision pair of the migrations, oldest first; from "" for the first."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from todo_api.storage.migrate import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    revisions = list(ScriptDirectory.from_config(config).walk_revisions())[::-1]
    return [(str(script.down_revision or ""), script.revision) for script in revisions]
