"""The id of the request being served, for log lines, error bodies and the `X-Request-ID` header."""

import contextvars
import os
import re

from starlette.types import Scope

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served (None outside a request)."""
    return _current.get()


def request_id_from(scope: Scope) -> str:
    """The client's `X-Request-ID` when it cannot forge or break a log line; otherwise a fresh id."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SAFE.fullmatch(candidate):
                return candidate
            break
    return os.urandom(16).hex()  # 128 random bits, as a UUID has, cheaper than building a uuid4


def set_request_id(request_id: str) -> contextvars.Token[str | None]:
    return _current.set(request_id)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _current.reset(token)
