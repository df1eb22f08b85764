"""The service's HTTP endpoints (``monitor run --http HOST:PORT``), a small Starlette app.

Each area adds its routes in its own module and lists them in ``ROUTE_MODULES``:
``health`` (GET /healthz) here; pushed events and subscriber links elsewhere. Handlers
answer fast and leave the work to the pipeline and the dispatcher.
"""

from __future__ import annotations

import importlib

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from monitor.config import AppConfig
from monitor.db import Database

ROUTE_MODULES: tuple[str, ...] = ("monitor.web.health", "monitor.web.metrics", "monitor.web.courtlistener",
                                  "monitor.web.subscribers")
MAX_BODY = 1024 * 1024  # request bodies above this are refused with 413


def create_app(db: Database, config: AppConfig | None = None) -> Starlette:
    routes: list[BaseRoute] = []
    for name in ROUTE_MODULES:
        routes.extend(importlib.import_module(name).routes())
    app = Starlette(routes=routes)
    app.state.db = db
    app.state.config = config
    return app


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT`` for all interfaces) -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        from monitor.errors import ConfigError

        raise ConfigError(f"--http {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host or "0.0.0.0", int(port)
