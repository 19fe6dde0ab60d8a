"""Query parameters of the task list: filters, sort, offset or cursor paging, and the Link header."""

import base64
import binascii
import json
from datetime import datetime
from typing import Literal, get_args
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from ..tasks.fields import NO_NUL
from ..tasks.queries import SORTS, ListQuery, Page

SortParam = Literal["created_at", "-created_at", "updated_at", "-updated_at", "title", "-title"]
assert set(get_args(SortParam)) == set(SORTS)  # the documented values are exactly the allowlist
MAX_LIMIT = 500


def encode_cursor(sort: str, keys: list[str]) -> str:
    """Opaque to clients: the sort and the last task's sort keys, base64url-encoded JSON."""
    return base64.urlsafe_b64encode(json.dumps([sort, *keys]).encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: str) -> list[str]:
    """The cursor's key values, each checked here so nothing malformed reaches PostgreSQL."""
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
        raise _invalid("cursor", "Invalid cursor: use the one from the Link header, with the same sort")
    keys: list[str] = value[1:]
    return keys


def _valid_key(column: str, raw: object) -> bool:
    if not isinstance(raw, str) or "\x00" in raw:
        return False
    if column == "id":
        return raw.isascii() and raw.isdigit() and int(raw) < 2**63
    if column == "updated_at":
        return datetime.fromisoformat(raw).tzinfo is not None  # ValueError when malformed
    return True  # title: any text


def _invalid(parameter: str, message: str) -> RequestValidationError:
    # FastAPI's own 422 shape, naming the parameter.
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", parameter), "msg": message, "input": None}]
    )


class ListParameters(BaseModel):
    """The list's query parameters, validated in one pass (FastAPI documents each field)."""

    limit: int | None = Field(
        default=None, ge=1, le=MAX_LIMIT, description="Page size. Without it: every task."
    )
    offset: int | None = Field(
        default=None, ge=0, le=10_000_000, description="Tasks to skip (or use `cursor`)."
    )
    cursor: str | None = Field(
        default=None, max_length=2048, description='Opaque: from the `Link: rel="next"` header.'
    )
    completed: bool | None = Field(default=None, description="Only done (`true`) or open (`false`) tasks.")
    q: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=NO_NUL,
        description="Case-insensitive search in title and description.",
    )
    sort: SortParam = Field(
        default="created_at", description="Order; `-` for descending. `created_at` is creation order."
    )


# The parameters as the list operation documents them (its `openapi_extra`), field by field.
QUERY_PARAMETERS_OPENAPI = [
    {"name": name, "in": "query", "required": False, "schema": schema, "description": schema["description"]}
    for name, schema in ListParameters.model_json_schema()["properties"].items()
]


async def list_query(request: Request) -> ListQuery | None:
    """The parsed query, or None for the plain list (no parameters: every task, creation order).

    Validated here rather than by declaring `ListParameters` as a FastAPI query model: FastAPI
    would validate the model on every list request, query string or not, and the plain list
    (most of the traffic) skips that work (docs/performance.md has the measured share).
    """
    if not request.scope["query_string"]:
        return None
    try:
        parameters = ListParameters.model_validate(dict(request.query_params))
    except ValidationError as error:
        # FastAPI's own 422 shape: each error located in the query.
        errors = error.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in errors]) from None
    limit, offset, cursor, sort = parameters.limit, parameters.offset, parameters.cursor, parameters.sort
    if offset is not None and cursor is not None:
        raise _invalid("cursor", "Use either offset or cursor, not both")
    if cursor is not None and limit is None:
        raise _invalid("limit", "A cursor needs a limit")
    if parameters == _PLAIN_LIST:
        return None
    after = decode_cursor(cursor, sort) if cursor is not None else None
    return ListQuery(
        sort=sort,
        completed=parameters.completed,
        search=parameters.q,
        limit=limit,
        offset=offset or 0,
        after=after,
    )


_PLAIN_LIST = ListParameters()


def pagination_headers(request: Request, query: ListQuery | None, page: Page) -> dict[str, str]:
    """X-Total-Count, and an RFC 8288 Link to the next page when there is one (relative URL)."""
    headers = {"X-Total-Count": str(page.total)}
    if query is None or query.limit is None:
        return headers
    if page.next_after is not None:
        if "offset" in request.query_params:
            following = {"offset": str(query.offset + query.limit)}
        else:
            following = {"cursor": encode_cursor(query.sort, page.next_after)}
        params = dict(request.query_params) | following
        url = request.url.replace_query_params(**params)
        headers["Link"] = f'<{quote(url.path)}?{url.query}>; rel="next"'
    return headers
