"""`python -m todo_api`: run the API, on the embedded PostgreSQL when NEON_DATABASE_URL is unset.

The embedded server belongs to this process, not to the app: it starts before uvicorn and is
stopped after uvicorn returns, however the server was asked to stop (SIGTERM, Ctrl-C).
"""

import os
import signal

import uvicorn

from .config import exit_on_config_error, load_settings
from .embedded_db import database
from .logging_config import configure_logging, logging_config
from .main import DATABASE_URL_VARIABLE


def _exit_cleanly(_signum: int, _frame: object) -> None:
    # uvicorn re-raises the signal it handled once it has shut down gracefully. As SystemExit
    # it lets the `finally` blocks run (stopping the embedded PostgreSQL) instead of killing
    # the process on the spot (SIGTERM) or printing a KeyboardInterrupt trace (Ctrl-C).
    raise SystemExit(0)


def main() -> None:
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _exit_cleanly)
    with exit_on_config_error():
        settings = load_settings()
        configure_logging(settings.log_level)
        settings.check()  # any unusable setting stops us here, in one line
        with database(settings) as url:
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


if __name__ == "__main__":
    main()
