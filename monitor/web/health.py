"""GET /healthz: 200 while the process and its database answer."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route


async def healthz(request: Request) -> JSONResponse:
    db = request.app.state.db
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        return JSONResponse({"status": "error", "database": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok"})


def routes() -> list[BaseRoute]:
    return [Route("/healthz", healthz, methods=["GET"])]
