"""Every error leaves as JSON `{"detail": ...}`; nothing internal (trace, SQL, host) ever does."""

import json
from collections.abc import Mapping

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from psycopg import Error as DriverError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..db import UNAVAILABLE_ERRORS
from ..observability.request_id import current_request_id
from .database_errors import report_database_error

DATABASE_UNAVAILABLE = "The service is temporarily unavailable. Please try again shortly."
INTERNAL_ERROR = "Internal server error"
# A missing task and another user's task get the same answer: no way to probe which ids exist.
TASK_NOT_FOUND = "Task not found"


def invalid(location: str, name: str, message: str) -> RequestValidationError:
    """FastAPI's own 422, for a rule checked after validation: `location` is "body" or "query"."""
    return RequestValidationError(
        [{"type": "value_error", "loc": (location, name), "msg": f"Value error, {message}", "input": None}]
    )


class AsciiJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped: an echoed input holding half a surrogate pair still renders."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode()


async def _invalid_request(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    if any(item.get("type") == "json_invalid" for item in error.errors()):
        return JSONResponse({"detail": "Request body is not valid JSON"}, status.HTTP_400_BAD_REQUEST)
    # FastAPI's 422 shape: each error with its type, location, message and the input given.
    return AsciiJSONResponse(
        {"detail": jsonable_encoder(error.errors())}, status.HTTP_422_UNPROCESSABLE_CONTENT
    )


def server_error(detail: str, status_code: int, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A 5xx body: the message, and the request id a user can quote to whoever runs the service."""
    return JSONResponse({"detail": detail, "request_id": current_request_id()}, status_code, headers)


# Every method a route here could take, in Allow's usual order.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def _method_not_allowed(request: Request, error: Exception) -> Response:
    """405 whose `Allow` names every method the path takes (RFC 9110 §15.5.6).

    FastAPI makes one route per method, and Starlette's 405 names only the first route that
    matched the path (`Allow: GET` where POST works too). Here each method is tried against the
    routes, exactly as the router would match it.
    """
    routes = request.app.router.routes
    allow = [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]
    return JSONResponse(
        {"detail": "Method Not Allowed"}, status.HTTP_405_METHOD_NOT_ALLOWED, {"Allow": ", ".join(allow)}
    )


def internal_error() -> Response:
    return server_error(INTERNAL_ERROR, status.HTTP_500_INTERNAL_SERVER_ERROR)


async def _http_error(request: Request, error: Exception) -> Response:
    """FastAPI's own handling, plus the request id on the 5xx ones (an unready schema, the JWKS)."""
    assert isinstance(error, StarletteHTTPException)
    if error.status_code >= 500:
        return server_error(str(error.detail), error.status_code, error.headers)
    return await http_exception_handler(request, error)


async def _database_error(request: Request, error: Exception) -> Response:
    if not report_database_error(request, error):
        return internal_error()
    return server_error(DATABASE_UNAVAILABLE, status.HTTP_503_SERVICE_UNAVAILABLE, {"Retry-After": "5"})


def install_error_handlers(app: FastAPI) -> None:
    """Handlers for expected failures. They run inside the CORS middleware, so a browser can read
    these errors too; anything else becomes a 500 in `EdgeMiddleware`."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, _method_not_allowed)
    database_errors: tuple[type[Exception], ...] = (DriverError, *UNAVAILABLE_ERRORS)
    for database_error in database_errors:
        app.add_exception_handler(database_error, _database_error)
