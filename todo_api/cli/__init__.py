"""Command-line entry points: `python -m todo_api` (serve), and `todo_api.cli.{token,migrate,openapi}`.

Each is a thin `main()` over library code elsewhere; a configuration problem is one line on
standard error and exit code 2.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..config import ConfigError


@contextmanager
def exit_on_config_error() -> Iterator[None]:
    """A configuration problem is one line and exit code 2."""
    try:
        yield
    except ConfigError as error:
        print(f"todo-api: {error}", file=sys.stderr)
        raise SystemExit(2) from None
