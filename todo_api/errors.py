"""Every error leaves as JSON `{"detail": ...}`; nothing internal (trace, SQL, host) ever does."""

import json
import logging

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from .db import is_unavailable

logger = logging.getLogger("todo_api.errors")

DATABASE_UNAVAILABLE = "The service is temporarily unavailable. Please try again shortly."
INTERNAL_ERROR = "Internal server error"


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


async def _unexpected(request: Request, error: Exception) -> Response:
    if is_unavailable(error):
        # The driver's message names the host; it goes to the log only.
        logger.error(
            "database unavailable: %s",
            type(error).__name__,
            extra={"event": "db_unavailable", "method": request.method, "path": request.url.path},
        )
        return JSONResponse(
            {"detail": DATABASE_UNAVAILABLE},
            status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    logger.exception("unhandled error", extra={"method": request.method, "path": request.url.path})
    return JSONResponse({"detail": INTERNAL_ERROR}, status.HTTP_500_INTERNAL_SERVER_ERROR)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected)
