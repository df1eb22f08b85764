"""httpcore's network layer on plain asyncio streams, for the sources' shared HTTP client.

httpx reaches sockets through httpcore, which by default goes through anyio: every read and
write opens a cancel scope, and every idle-connection check builds anyio's socket-attribute
table (a ``getpeername`` call included) before it polls the socket. For a monitor whose usual
answer is a tiny 304, that bookkeeping was about a third of the CPU of a request. httpcore
takes a network backend as a documented extension point; this one maps its five operations
onto asyncio's own streams (TLS included, through ``StreamWriter.start_tls``) and keeps
httpx, httpcore's pool, h11 and every timeout as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

READ_ERRORS: dict[type[BaseException], type[Exception]] = {
    TimeoutError: httpcore.ReadTimeout, OSError: httpcore.ReadError}
WRITE_ERRORS: dict[type[BaseException], type[Exception]] = {
    TimeoutError: httpcore.WriteTimeout, OSError: httpcore.WriteError}
CONNECT_ERRORS: dict[type[BaseException], type[Exception]] = {
    TimeoutError: httpcore.ConnectTimeout, OSError: httpcore.ConnectError}  # ssl.SSLError is an OSError
HAPPY_EYEBALLS_DELAY = 0.25  # RFC 8305's recommended head start for the first address, as anyio uses


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS) connection as an asyncio reader/writer pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with httpcore_errors(READ_ERRORS):
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with httpcore_errors(WRITE_ERRORS):
            self._writer.write(buffer)
            async with asyncio.timeout(timeout):
                await self._writer.drain()

    async def aclose(self) -> None:
        transport = self._writer.transport
        if not transport.is_closing():  # a failed TLS handshake has closed it already
            transport.close()
        # close() releases the socket in a callback of the loop's next turn: take that turn, so
        # a loop that ends right after (``asyncio.run``) does not leave the socket open; then
        # abort() drops a TLS close_notify the peer never answers, as anyio does.
        await asyncio.sleep(0)
        transport.abort()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        try:
            with httpcore_errors(CONNECT_ERRORS):
                async with asyncio.timeout(timeout):
                    await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except Exception:
            await self.aclose()
            raise
        return self  # the same reader and writer now speak TLS

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # httpcore asks this of idle connections: anything arriving on one means the server
            # closed it. asyncio reads eagerly, so a close shows as EOF or a closing transport.
            return self._reader.at_eof() or self._writer.is_closing()
        if info in ("ssl_object", "socket"):
            return self._writer.get_extra_info(info)
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> AsyncioStream:
        with httpcore_errors(CONNECT_ERRORS):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(local_address, 0) if local_address else None,
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY)
        sock = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@contextlib.contextmanager
def httpcore_errors(mapping: dict[type[BaseException], type[Exception]]) -> Iterator[None]:
    """Raise httpcore's exception for a socket-level one, as httpcore's own backends do, so httpx
    maps it to the ``httpx.TransportError`` the fetcher classifies."""
    try:
        yield
    except Exception as exc:
        for source, target in mapping.items():  # TimeoutError first: it is an OSError too
            if isinstance(exc, source):
                raise target(str(exc) or type(exc).__name__) from exc
        raise


class AsyncioTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with its connection pool on ``AsyncioBackend``. Not used when the
    environment names a proxy: httpx then builds its own transports, and those honour it."""

    def __init__(self, *, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        super().__init__(verify=ssl_context, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context, max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend())
