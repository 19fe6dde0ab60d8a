"""Alembic environment: migrations run on a connection handed over by `todo_api.storage.migrate`."""

from alembic import context
from sqlalchemy import text

from todo_api.models import metadata

# Any fixed number, the same for every process: one migrator at a time, the rest wait.
MIGRATION_LOCK_ID = 7_020_240_601


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `make migrate` (python -m todo_api.cli.migrate)")
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        # A transaction-level lock: released at commit, and safe behind PgBouncer in
        # transaction mode, unlike a session lock. Processes starting together queue here,
        # and the ones that follow find the schema already at head.
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
