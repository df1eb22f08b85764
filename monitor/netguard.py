"""Connect-time SSRF guard: resolve a host once, require every address to be allowed
(``monitor.urls.address_allowed``) and connect to the address checked, so a name that resolves
to a private address later, or differently on a second lookup (DNS rebinding), gets nowhere.
``GuardedTransport`` serves every client that reaches a URL from outside the code (source fetches,
channel posts, every redirect hop); ``check_request`` checks the name for fetches through a proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from typing import Any

import httpx

from monitor.errors import ConfigError
from monitor.redact import mask_url
from monitor.urls import HINT, address_allowed


class BlockedAddress(ConfigError):
    """A URL whose host is, or resolves to, a loopback/private/link-local/multicast/reserved address."""


class Unresolvable(BlockedAddress):
    """A name that does not resolve (now): refused like a private one, but a DNS failure may pass."""


async def resolve_public(host: str, port: int) -> str:
    """Resolve ``host`` once and return an allowed address to connect to, or raise BlockedAddress."""
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            infos = []
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise Unresolvable(f"{host}: the name does not resolve")
    if not all(address_allowed(address) for address in addresses):
        raise BlockedAddress(f"{host}: resolves to a private or reserved address {HINT}")
    return addresses[0]


async def checked_address(url: httpx.URL) -> str:
    """The address to connect to for an http(s) ``url`` (see ``resolve_public``)."""
    if url.scheme not in ("http", "https"):
        raise BlockedAddress(f"{mask_url(str(url))}: only http(s) URLs are allowed")
    return await resolve_public(url.host, url.port or (443 if url.scheme == "https" else 80))


class GuardedTransport(httpx.AsyncBaseTransport):
    """Connects only to checked addresses, with one pool per name: a TLS connection verified for
    one name must never carry the requests of another name behind the same address (a CDN). The
    request sent is a copy aimed at the address; the caller's keeps the name, so a redirect
    resolves against the name."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.by_name: dict[str, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        address = await checked_address(request.url)
        host = request.url.host
        transport = self.by_name.get(host)
        if transport is None:
            transport = self.by_name[host] = httpx.AsyncHTTPTransport(**self.options)
        if address == host:
            return await transport.handle_async_request(request)
        pinned = httpx.Request(request.method, request.url.copy_with(host=address), headers=request.headers,
                               stream=request.stream, extensions={**request.extensions, "sni_hostname": host})
        return await transport.handle_async_request(pinned)

    async def aclose(self) -> None:
        for transport in self.by_name.values():
            await transport.aclose()


def guarded_client(*, verify: ssl.SSLContext | bool = True, **kwargs: Any) -> httpx.AsyncClient:
    """An AsyncClient for user-supplied targets: guarded transport, redirects not followed.
    ``verify`` goes to the transport: httpx ignores a client's ``verify`` once it has one."""
    return httpx.AsyncClient(transport=GuardedTransport(verify=verify), follow_redirects=False, **kwargs)


async def check_request(request: httpx.Request) -> None:
    """Request hook: refuse a non-http(s) URL, or a host that resolves to a private address. A
    name that does not resolve here is left to the proxy (split DNS is why proxies exist)."""
    with contextlib.suppress(Unresolvable):
        await checked_address(request.url)
