"""Keyset cursors: opaque to clients, checked key by key before anything reaches PostgreSQL."""

import base64
import binascii
import json
from datetime import datetime

from fastapi.exceptions import RequestValidationError

from ..tasks.queries import SORTS


def invalid(parameter: str, message: str) -> RequestValidationError:
    """FastAPI's own 422 shape, naming the query parameter."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", parameter), "msg": message, "input": None}]
    )


def encode_cursor(sort: str, keys: list[str]) -> str:
    """The sort and the last task's sort keys, base64url-encoded JSON."""
    return base64.urlsafe_b64encode(json.dumps([sort, *keys]).encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: str) -> list[str]:
    """The cursor's key values, or a 422 for a cursor we did not issue for this sort."""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        valid = (
            isinstance(value, list)
            and value[:1] == [sort]
            and len(value) == 1 + len(SORTS[sort].keys)
            and all(_valid_key(key, raw) for key, raw in zip(SORTS[sort].keys, value[1:], strict=True))
        )
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        valid = False
    if not valid:
        raise invalid("cursor", "Invalid cursor: use the one from the Link header, with the same sort")
    keys: list[str] = value[1:]
    return keys


def _valid_key(key: str, raw: object) -> bool:
    if not isinstance(raw, str) or "\x00" in raw:
        return False
    if key == "id":
        return raw.isascii() and raw.isdigit() and int(raw) < 2**63
    if key == "priority":
        return raw in {"0", "1", "2", "3"}
    if key in {"due_first", "due_last"} and raw in {"infinity", "-infinity"}:
        return raw == ("infinity" if key == "due_first" else "-infinity")
    if key in {"updated_at", "due_first", "due_last"}:
        return datetime.fromisoformat(raw).tzinfo is not None  # ValueError when malformed
    return True  # title: any text
