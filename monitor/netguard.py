"""Connect-time SSRF guard: resolve a host once, require every address to be public, connect there.

``monitor.urls.check_target_url`` judges a URL's text when a subscription is made; a name
can still resolve to 127.0.0.1 or 169.254.169.254 later, or differently on the second lookup
(DNS rebinding). Here the check happens at connect time, on the addresses themselves, and
the connection goes to the address that was checked (the Host header and TLS SNI keep the
name). Every hop of a redirect passes through the transport again, so redirects are
re-checked. ``MONITOR_ALLOW_PRIVATE_URLS=1`` is the only way around it.

- ``GuardedTransport``: the httpx transport of every client that reaches a URL from outside the
  code: source fetches (their URLs come from sources.yaml, their redirects from the remote
  server) and channel posts (their targets from subscribers).
- ``check_request``: a request hook for source fetches through a proxy named in the
  environment. The proxy makes the connection, so the address cannot be pinned here; the name
  is still checked, and pinning is the proxy's part.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from typing import Any

import httpx

from monitor.errors import ConfigError
from monitor.redact import mask_url
from monitor.urls import address_allowed

HINT = "(set MONITOR_ALLOW_PRIVATE_URLS=1 to allow)"


class BlockedAddress(ConfigError):
    """A URL whose host is, or resolves to, a loopback/private/link-local/multicast/reserved address."""


class Unresolvable(BlockedAddress):
    """A name that does not resolve (now): refused like a private one, but a DNS failure may pass."""


def check_addresses(host: str, addresses: list[str]) -> str:
    """The address to connect to, if every one the host resolved to is allowed (``address_allowed``)."""
    if not addresses:
        raise Unresolvable(f"{host}: the name does not resolve")
    for address in addresses:
        if not address_allowed(address):
            raise BlockedAddress(f"{host}: resolves to a private or reserved address {HINT}")
    return addresses[0]


async def resolve_public(host: str, port: int) -> str:
    """Resolve ``host`` once and return a public address to connect to, or raise BlockedAddress."""
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        return check_addresses(host, [host])
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise Unresolvable(f"{host}: the name does not resolve") from None
    return check_addresses(host, list(dict.fromkeys(str(info[4][0]) for info in infos)))


class GuardedTransport(httpx.AsyncBaseTransport):
    """Connects only to checked public addresses; the name still goes in Host and SNI.

    Each name has its own connection pool (an ``httpx.AsyncHTTPTransport`` made with
    ``options``): the pools key connections by address, and a TLS connection verified for one
    name must never carry another name's requests because both sit behind one address (a CDN).
    The request sent is a copy aimed at the address; the caller's request keeps the name, so a
    response's URL and a relative redirect resolve against the name, not the address.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.by_name: dict[str, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            raise BlockedAddress(f"{mask_url(str(request.url))}: only http(s) URLs are allowed")
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        address = await resolve_public(host, port)
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
    if request.url.scheme not in ("http", "https"):
        raise BlockedAddress(f"{mask_url(str(request.url))}: only http(s) URLs are allowed")
    try:
        await resolve_public(request.url.host, request.url.port or (443 if request.url.scheme == "https" else 80))
    except Unresolvable:
        return
