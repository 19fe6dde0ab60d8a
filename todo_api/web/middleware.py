"""ASGI middleware: body size limit, trailing slashes, and the last-resort JSON 500."""

import logging

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import internal_error

TOO_LARGE = "Request body too large"
logger = logging.getLogger("todo_api.errors")


class BodySizeLimitMiddleware:
    """Refuse request bodies over `max_bytes` (413) without reading them into memory.

    A declared Content-Length over the limit is refused before the app runs. A streamed
    (chunked) body is counted as it arrives and refused as soon as it passes the limit.
    Starlette's own limiter answers in plain text where the route does not read the body;
    this one always answers JSON.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse({"detail": TOO_LARGE}, 413, headers={"Connection": "close"})(
                scope, receive, send
            )
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, limited_receive, send)


class UnexpectedErrorMiddleware:
    """Any exception no handler took becomes a generic JSON 500, logged with its traceback here.

    It sits inside the CORS middleware (unlike Starlette's outermost error handler), so the
    browser can read the 500 too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled error", extra={"method": scope["method"], "path": scope["path"]})
            if started:
                raise  # too late for a clean answer: let the server close the connection
            await internal_error()(scope, receive, send)


class TrailingSlashMiddleware:
    """Serve `/api/u/tasks/` exactly as `/api/u/tasks`: drop one trailing slash before routing.

    Starlette's alternative is a 307 to an absolute URL built from the request's scheme, which is
    `http://` behind a TLS-terminating proxy (a downgrade browsers block as mixed content). Doing it
    here, rather than declaring each route twice, keeps one route per operation, so the OpenAPI
    document lists each path once, and covers every route, present and future.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            # In place, not a copy: the middleware outside reads the route the router sets here.
            scope["path"] = path[:-1]
            raw_path = scope.get("raw_path")
            if isinstance(raw_path, bytes) and raw_path.endswith(b"/"):
                scope["raw_path"] = raw_path[:-1]
        await self.app(scope, receive, send)
