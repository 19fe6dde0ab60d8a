"""`/mcp`: the task tools over MCP's Streamable HTTP transport, behind the REST API's authentication.

Stateless (no MCP session is kept between requests, so any instance can answer any request) and
with plain JSON responses (no SSE stream: every tool answers in one response). The bearer token is
verified exactly as for REST, before the SDK sees the request; a client without one gets a 401
whose `WWW-Authenticate` points to the RFC 9728 metadata served here, naming Better Auth as the
authorization server. Only requests to these paths pass through this module.
"""

from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.types import Receive, Scope, Send

from ..auth.bearer import through_gate, verified_user_id
from .tools import create_server

MCP_PATH = "/mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource"
ORIGIN_NOT_ALLOWED = "Origin not allowed"


def session_manager(version: str) -> StreamableHTTPSessionManager:
    """The SDK's transport; its `run()` must be entered in the app's lifespan."""
    # No Host allow-list (the SDK's DNS-rebinding guard): the names this service is reached by are
    # the deployment's, and a rebinding page has no bearer token. Origin is checked below.
    return StreamableHTTPSessionManager(app=create_server(version), stateless=True, json_response=True)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


class McpEndpoint:
    """ASGI app for `/mcp`: Origin and token first, then the SDK's transport with the caller's id."""

    def __init__(self, manager: StreamableHTTPSessionManager, allowed_origins: list[str]) -> None:
        self._manager = manager
        self._allowed_origins = frozenset(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        # The MCP spec asks servers to check Origin (DNS rebinding): a browser page may call us
        # only from the origins CORS allows (or our own). Other clients send no Origin.
        origin = request.headers.get("origin")
        same_origin = f"{request.url.scheme}://{request.url.netloc}"
        if origin is not None and origin not in self._allowed_origins and origin != same_origin:
            await JSONResponse({"detail": ORIGIN_NOT_ALLOWED}, 403)(scope, receive, send)
            return
        metadata = f'resource_metadata="{_base_url(request)}{METADATA_PATH}{MCP_PATH}"'
        try:
            user_id = await through_gate(request, lambda: verified_user_id(request, (metadata,)))
        except HTTPException as refusal:
            response = JSONResponse({"detail": refusal.detail}, refusal.status_code, refusal.headers)
            await response(scope, receive, send)
            return
        if request.method != "POST":
            # Stateless: no session to stream to (GET) or to end (DELETE); the spec's answer is 405.
            await JSONResponse({"detail": "Method Not Allowed"}, 405, {"Allow": "POST"})(scope, receive, send)
            return
        request.state.user_id = user_id  # read by the tools (scope["state"]), never from arguments
        await self._manager.handle_request(scope, receive, send)


def install(
    app: FastAPI,
    manager: StreamableHTTPSessionManager,
    *,
    authorization_server: str,
    allowed_origins: list[str],
) -> None:
    """Add `/mcp` and its discovery documents after the REST routes, which therefore match first."""
    router = APIRouter(include_in_schema=False)

    def metadata(resource: str) -> dict[str, Any]:
        """RFC 9728 protected-resource metadata: where to get a token for `resource`."""
        return {
            "resource": resource,
            "authorization_servers": [authorization_server],
            "bearer_methods_supported": ["header"],
            "resource_name": app.title,
        }

    @router.get(METADATA_PATH + MCP_PATH)
    async def mcp_metadata(request: Request) -> dict[str, Any]:
        return metadata(_base_url(request) + MCP_PATH)

    @router.get(METADATA_PATH)
    async def root_metadata(request: Request) -> dict[str, Any]:
        # The whole API: every route takes the same token.
        return metadata(_base_url(request))

    app.include_router(router)
    # An ASGI app as the endpoint (Starlette passes it scope, receive, send): every method reaches
    # McpEndpoint, which answers 405 itself.
    endpoint = McpEndpoint(manager, allowed_origins)
    app.router.add_route(MCP_PATH, endpoint, include_in_schema=False)  # type: ignore[arg-type]
