"""Bring the schema to Alembic's head (the app does it at start-up; `make migrate` on demand)."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _upgrade(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade_to_head(url: URL, connect_timeout: int, revision: str = "head") -> None:
    """Bring the schema to the newest revision (or `revision`); safe to call from many processes at once."""
    engine = create_async_engine(url, poolclass=NullPool, connect_args={"connect_timeout": connect_timeout})
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_upgrade, revision)
    finally:
        await engine.dispose()
