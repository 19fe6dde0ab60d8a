"""`python -m todo_api` (`make run`): run the API, on the embedded PostgreSQL when NEON_DATABASE_URL is unset.

The embedded server belongs to this process, not to the app: it starts before uvicorn and is
stopped after uvicorn returns, however the server was asked to stop (SIGTERM, Ctrl-C).
"""

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from ..config import DATABASE_URL_VARIABLE, Settings, load_settings
from ..observability.logs import configure_logging, logging_config
from ..storage.embedded import database
from ..storage.urls import external_database_url
from . import exit_on_config_error


def _exit_cleanly(_signum: int, _frame: object) -> None:
    # uvicorn re-raises the signal it handled once it has shut down gracefully. As SystemExit
    # it lets the `finally` blocks run (stopping the embedded PostgreSQL) instead of killing
    # the process on the spot (SIGTERM) or printing a KeyboardInterrupt trace (Ctrl-C).
    raise SystemExit(0)


@contextmanager
def shared_metrics(settings: Settings) -> Iterator[None]:
    """With several workers, prometheus_client's multiprocess mode: each worker writes its metrics
    to files in one folder and `/metrics` (in whichever worker answers) adds them all up, so the
    numbers are the service's, and a restarted worker's counters are not lost. It must be set
    before any worker imports prometheus_client. A folder given in PROMETHEUS_MULTIPROC_DIR is used
    (emptied first, as prometheus_client asks); otherwise a temporary one, removed at exit."""
    if settings.workers == 1 or not settings.metrics_enabled:
        yield
        return
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = given or tempfile.mkdtemp(prefix="todo-api-metrics-")
    for stale in os.scandir(folder):
        if stale.name.endswith(".db"):
            os.unlink(stale.path)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)


def check(settings: Settings) -> None:
    """Raise ConfigError for any setting that cannot work, before anything starts."""
    settings.require_secret()
    external_database_url(settings)
    _ = settings.frontend_origin


def main() -> None:
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _exit_cleanly)
    with exit_on_config_error():
        settings = load_settings()
        configure_logging(settings.log_level)
        check(settings)  # any unusable setting stops us here, in one line
        with database(settings) as url, shared_metrics(settings):
            os.environ[DATABASE_URL_VARIABLE] = url.render_as_string(hide_password=False)
            uvicorn.run(
                "todo_api.main:app_from_environment",
                factory=True,
                workers=settings.workers,
                host=settings.host,
                port=settings.port,
                log_config=logging_config(settings.log_level),
                proxy_headers=False,
                server_header=False,
                # On SIGTERM: stop accepting, give in-flight requests this long, then close.
                timeout_graceful_shutdown=settings.shutdown_timeout,
            )
