"""The service's HTTP endpoints (``monitor run --http HOST:PORT``), a small Starlette app.

Each area adds its routes in its own module and lists them in ``ROUTE_MODULES``:
``health`` (GET /healthz) here; pushed events and subscriber links elsewhere. Handlers
answer fast and leave the work to the pipeline and the dispatcher.
"""

from __future__ import annotations

import importlib
import socket

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from monitor.config import AppConfig
from monitor.db import Database
from monitor.errors import ConfigError

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
    """``HOST:PORT`` (or ``:PORT`` for all interfaces, ``[::1]:PORT`` for IPv6) -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--http {value!r}: expected HOST:PORT with a port from 1 to 65535, "
                          "e.g. 127.0.0.1:8080")
    return host.removeprefix("[").removesuffix("]") or "0.0.0.0", int(port)


def listen(value: str) -> socket.socket:
    """The listening socket for ``--http HOST:PORT``, bound before the service starts, so a bad
    value, a port in use or an address this machine does not have is one line and exit 1 at
    start (not a service running without its endpoint)."""
    host, port = parse_listen(value)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"--http {value!r}: {host!r} is not an address of this machine "
                          f"({getattr(exc, 'strerror', None) or exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart within TIME_WAIT
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"--http {value}: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock
