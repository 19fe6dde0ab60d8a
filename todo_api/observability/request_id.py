"""The id of the request being served, for log lines, error bodies and the `X-Request-ID` header."""

import contextvars
import os
import re

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served (None outside a request)."""
    return _current.get()


def request_id_for(given: bytes | None) -> str:
    """The client's `X-Request-ID` (`given`) when it cannot forge or break a log line; otherwise a
    fresh id."""
    if given is not None:
        candidate = given.decode("latin-1")
        if _SAFE.fullmatch(candidate):
            return candidate
    return os.urandom(16).hex()  # 128 random bits, as a UUID has, cheaper than building a uuid4


def set_request_id(request_id: str) -> contextvars.Token[str | None]:
    return _current.set(request_id)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _current.reset(token)
