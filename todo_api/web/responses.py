"""Error bodies, and the OpenAPI response tables the routes declare (what each operation can answer)."""

from typing import Any

from fastapi import status
from pydantic import BaseModel, Field

Responses = dict[int | str, dict[str, Any]]


class ErrorResponse(BaseModel):
    """Every error body except 422's: `detail` is a message a frontend can show."""

    detail: str = Field(examples=["Task not found"])


class ServerErrorResponse(ErrorResponse):
    """A 5xx body: the message, and the request's id to quote to whoever runs the service."""

    detail: str = Field(examples=["The service is temporarily unavailable. Please try again shortly."])
    request_id: str = Field(
        description="The same as the response's X-Request-ID; every log line of the request carries it",
        examples=["4bf92f3577b34da6a3ce929d0e0e4736"],
    )


def header(description: str, type_: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": type_}, "required": True}


def error(
    description: str, headers: dict[str, Any] | None = None, model: type[ErrorResponse] = ErrorResponse
) -> dict[str, Any]:
    return {"model": model, "description": description} | ({"headers": headers} if headers else {})


ETAG_HEADER = {"ETag": header("The task's version, for If-Match / If-None-Match")}
NOT_FOUND: Responses = {status.HTTP_404_NOT_FOUND: error("No such task for this user")}
STALE: Responses = {
    status.HTTP_412_PRECONDITION_FAILED: error(
        "If-Match names an older version; nothing changed. ETag is the current version.", ETAG_HEADER
    )
}
BAD_BODY: Responses = {status.HTTP_400_BAD_REQUEST: error("The body is not valid JSON")}
CREATE_REFUSED: Responses = {
    status.HTTP_409_CONFLICT: error(
        "A quota is reached (MAX_TASKS_PER_USER, MAX_REMINDERS_PER_USER), or a request with this"
        " Idempotency-Key is still in flight; nothing was written"
    )
}


def with_etag(status_code: int) -> Responses:
    return {status_code: {"headers": ETAG_HEADER}}


UPDATE_RESPONSES = with_etag(status.HTTP_200_OK) | NOT_FOUND | STALE | BAD_BODY
NOT_MODIFIED: Responses = {
    status.HTTP_304_NOT_MODIFIED: {
        "description": "If-None-Match matched: your copy is current",
        "headers": ETAG_HEADER,
    }
}
LIST_HEADERS: Responses = {
    status.HTTP_200_OK: {
        "headers": {
            "X-Total-Count": header("Tasks matching the filters, all pages", "integer"),
            "Link": {
                "description": 'RFC 8288 `<...>; rel="next"` when more follow (paged lists only)',
                "schema": {"type": "string"},
            },
        }
    }
}

# What any operation behind the bearer token can answer, whatever it does.
AUTHENTICATED: Responses = {
    status.HTTP_401_UNAUTHORIZED: error(
        "Missing, expired or invalid token",
        {"WWW-Authenticate": header('`Bearer` (with `error="invalid_token"` when it expired)')},
    ),
    status.HTTP_403_FORBIDDEN: error("The URL's user is not the token's"),
    status.HTTP_413_CONTENT_TOO_LARGE: error("The request body is over MAX_BODY_BYTES (64 KB)"),
    status.HTTP_429_TOO_MANY_REQUESTS: error(
        "Over RATE_LIMIT (per user) or UNAUTHENTICATED_RATE_LIMIT (per address, without a valid token)",
        {
            "Retry-After": header("Seconds until a request is allowed again", "integer"),
            "RateLimit-Policy": header(
                'The limit, e.g. `"user";q=600;w=60` (draft-ietf-httpapi-ratelimit-headers)'
            ),
            "RateLimit": header('What is left of it, e.g. `"user";r=0;t=42`'),
        },
    ),
    status.HTTP_500_INTERNAL_SERVER_ERROR: error(
        "Unexpected error (details in the server log only)", model=ServerErrorResponse
    ),
    status.HTTP_503_SERVICE_UNAVAILABLE: error(
        "The database (or Better Auth's JWKS) is unreachable",
        {"Retry-After": header("Seconds to wait before retrying", "integer")},
        ServerErrorResponse,
    ),
}


def as_json(responses: Responses) -> Responses:
    """The same table for a route whose success is not JSON (a stream): FastAPI would document each
    error `model` in the route's own media type, but errors are always JSON."""
    return {
        code: {key: value for key, value in entry.items() if key != "model"}
        | (
            {"content": {"application/json": {"schema": {"$ref": _SCHEMAS + entry["model"].__name__}}}}
            if "model" in entry
            else {}
        )
        for code, entry in responses.items()
    }


_SCHEMAS = "#/components/schemas/"


def without_item_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """The document as valid OpenAPI 3.1: FastAPI describes a stream's items with 3.2's `itemSchema`,
    which 3.1 validators and client generators refuse; a stream is a string body there."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    if media.pop("itemSchema", None) is not None:
                        media["schema"] = {"type": "string", "description": "text/event-stream messages"}
    return document
