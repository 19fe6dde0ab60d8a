"""Liveness and readiness probes for load balancers and orchestrators."""

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import JSONResponse

from ..db import is_unavailable
from ..dependencies import require_schema
from ..web.errors import server_error
from ..web.responses import ServerErrorResponse
from . import operation_id

router = APIRouter(tags=["health"], generate_unique_id_function=operation_id)

NOT_READY = "The database is not reachable yet"


@router.get("/health", summary="Liveness: the process is serving (no database involved)")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: the database answers and the schema is current",
    responses={
        status.HTTP_503_SERVICE_UNAVAILABLE: {
            "model": ServerErrorResponse,
            "description": "Not ready",
            "content": {"application/json": {"example": {"detail": NOT_READY, "request_id": "4bf92f35"}}},
        }
    },
)
async def ready(request: Request) -> JSONResponse:
    try:
        require_schema(request)
        await request.app.state.database.ping()
    except HTTPException:
        return server_error(NOT_READY, status.HTTP_503_SERVICE_UNAVAILABLE)
    except Exception as error:
        if not is_unavailable(error):
            raise
        return server_error(NOT_READY, status.HTTP_503_SERVICE_UNAVAILABLE)
    return JSONResponse({"status": "ready"})
