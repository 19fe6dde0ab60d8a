"""What every HTTP request passes through, in one pure-ASGI layer (outermost of the app's own).

In the order a request meets them:
- its request id (the client's `X-Request-ID` when safe to log), echoed on the answer;
- CORS (Starlette's CORSMiddleware, for requests that carry an `Origin`);
- the body size limit: a declared length over `MAX_BODY_BYTES` is refused (413) before the app
  runs, and a streamed body as soon as it passes the limit, never read into memory first;
- one trailing slash dropped before routing (`/tasks/` is served as `/tasks`, never a 307);
- the last-resort JSON 500 for any exception no handler took, logged with its traceback;
- on the way out: the rate-limit fields of the request's verdict, and its metrics.

One layer, not a stack of six: each layer of a stack wraps `send` again and costs every request an
extra coroutine call, which the profile showed (docs/performance.md). The request headers are read
in one pass. The 413 and 500 made here still go through CORS, so a browser can read them.
"""

import logging
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..observability.metrics import METRICS_PATH, RequestMetrics
from ..observability.request_id import REQUEST_ID_HEADER, request_id_for, reset_request_id, set_request_id
from .errors import internal_error
from .rate_limits import STATE_KEY

TOO_LARGE = "Request body too large"
logger = logging.getLogger("todo_api.errors")
_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})  # methods whose body, if any, no route reads


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: bool, cors: dict[str, Any]) -> None:
        self.app = app
        self._max_body = max_body_bytes
        self._metrics = RequestMetrics() if metrics else None
        self._cors_options = cors
        self._with_cors = CORSMiddleware(app, **cors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given_id, origin, length = _scan(scope["headers"])
        exchange = _Exchange(scope, send, request_id_for(given_id))
        token = set_request_id(exchange.request_id)
        try:
            if length is not None and length > self._max_body:
                too_large = JSONResponse({"detail": TOO_LARGE}, 413, headers={"Connection": "close"})
                await self._answer(too_large, scope, receive, exchange.send, origin)
            else:
                await self._serve(scope, receive, exchange, origin, length)
        finally:
            reset_request_id(token)
            if self._metrics is not None and scope["path"] != METRICS_PATH:
                route = getattr(scope.get("route"), "path", None)
                self._metrics.record(scope["method"], route, exchange.status, time.perf_counter() - started)

    async def _serve(
        self, scope: Scope, receive: Receive, exchange: "_Exchange", origin: bool, length: int | None
    ) -> None:
        _drop_trailing_slash(scope)
        if length is not None or scope["method"] not in _BODILESS:
            receive = _limited(receive, self._max_body)
        try:
            await (self._with_cors if origin else self.app)(scope, receive, exchange.send)
        except Exception:
            logger.exception("unhandled error", extra={"method": scope["method"], "path": scope["path"]})
            if exchange.started:
                raise  # too late for a clean answer: let the server close the connection
            await self._answer(internal_error(), scope, receive, exchange.send, origin)

    async def _answer(
        self, response: Response, scope: Scope, receive: Receive, send: Send, origin: bool
    ) -> None:
        """An answer made here, with the CORS headers a browser needs to read it."""
        app: ASGIApp = CORSMiddleware(response, **self._cors_options) if origin else response
        await app(scope, receive, send)


class _Exchange:
    """One request's answer on its way out: its status, and the headers added to it."""

    __slots__ = ("_scope", "_send", "request_id", "started", "status")

    def __init__(self, scope: Scope, send: Send, request_id: str) -> None:
        self._scope, self._send, self.request_id = scope, send, request_id
        self.started = False
        self.status = 500  # what the server sends if the app fails before answering

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started, self.status = True, message["status"]
            headers = [*message.get("headers", ()), (_REQUEST_ID, self.request_id.encode())]
            fields = self._scope.get("state", {}).get(STATE_KEY)
            if fields:  # the rate-limit verdict's fields, unless the answer already has them (a 429)
                present = {name.lower() for name, _ in headers}
                added = ((name.lower().encode(), value.encode()) for name, value in fields.items())
                headers += [pair for pair in added if pair[0] not in present]
            message["headers"] = headers
        await self._send(message)


def _scan(headers: list[tuple[bytes, bytes]]) -> tuple[bytes | None, bool, int | None]:
    """In one pass: the client's request id, whether there is an `Origin`, and the declared
    Content-Length (None: not declared). ASGI servers give header names in lower case."""
    given_id, origin, length = None, False, None
    for name, value in headers:
        if name == _REQUEST_ID:
            given_id = value if given_id is None else given_id
        elif name == b"origin":
            origin = True
        elif name == b"content-length" and value.isdigit():
            length = int(value)
    return given_id, origin, length


def _drop_trailing_slash(scope: Scope) -> None:
    """Starlette's alternative is a 307 to an absolute URL built from the request's scheme: `http://`
    behind a TLS-terminating proxy, which browsers block as mixed content. Here every route, present
    and future, is served with or without it, and OpenAPI lists each path once."""
    path: str = scope["path"]
    if len(path) > 1 and path.endswith("/"):
        scope["path"] = path[:-1]  # in place: the metrics read the route the router sets in it
        raw_path = scope.get("raw_path")
        if isinstance(raw_path, bytes) and raw_path.endswith(b"/"):
            scope["raw_path"] = raw_path[:-1]


def _limited(receive: Receive, max_bytes: int) -> Receive:
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise HTTPException(413, TOO_LARGE)
        return message

    return limited_receive
