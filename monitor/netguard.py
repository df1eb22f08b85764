"""Connect-time SSRF guard: resolve a host once, require every address to be public, connect there.

``monitor.urls.check_target_url`` judges a URL's text when a subscription is made; a name
can still resolve to 127.0.0.1 or 169.254.169.254 later, or differently on the second lookup
(DNS rebinding). Here the check happens at connect time, on the addresses themselves, and
the connection goes to the address that was checked (the Host header and TLS SNI keep the
name). Every hop of a redirect passes through the transport again, so redirects are
re-checked. ``MONITOR_ALLOW_PRIVATE_URLS=1`` is the only way around it.

- ``GuardedTransport``: an httpx transport for channels that post to user-supplied URLs.
- ``refuse_private_redirect``: an httpx response hook for source fetches, whose first URL
  comes from the operator's sources.yaml but whose redirects come from the remote server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from typing import Any

import httpx

from monitor.errors import ConfigError, FetchError
from monitor.redact import mask_url
from monitor.urls import private_urls_allowed

HINT = "(set MONITOR_ALLOW_PRIVATE_URLS=1 to allow)"


class BlockedAddress(ConfigError):
    """A URL whose host is, or resolves to, a loopback/private/link-local/multicast/reserved address."""


class Unresolvable(BlockedAddress):
    """A name that does not resolve (now): refused like a private one, but a DNS failure may pass."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_addresses(host: str, addresses: list[str]) -> str:
    """The address to connect to, if every one the host resolved to is public."""
    if not addresses:
        raise Unresolvable(f"{host}: the name does not resolve")
    if private_urls_allowed():
        return addresses[0]
    for address in addresses:
        if not is_public(address):
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


class GuardedTransport(httpx.AsyncHTTPTransport):
    """Connects only to checked public addresses; the name still goes in Host and SNI."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            raise BlockedAddress(f"{mask_url(str(request.url))}: only http(s) URLs are allowed")
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        address = await resolve_public(host, port)
        if address != host:
            request.url = request.url.copy_with(host=address)
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await super().handle_async_request(request)


def guarded_client(*, verify: ssl.SSLContext | bool = True, **kwargs: Any) -> httpx.AsyncClient:
    """An AsyncClient for user-supplied targets: guarded transport, redirects not followed.
    ``verify`` goes to the transport: httpx ignores a client's ``verify`` once it has one."""
    return httpx.AsyncClient(transport=GuardedTransport(verify=verify), follow_redirects=False, **kwargs)


async def refuse_private_redirect(response: httpx.Response) -> None:
    """Response hook: a redirect to a non-http(s) URL, or to a private address, ends the fetch."""
    if not response.has_redirect_location:
        return
    target = response.url.join(response.headers["location"])
    if target.scheme not in ("http", "https"):
        raise FetchError(f"redirect from {mask_url(str(response.url))} to a non-http(s) URL refused", retryable=False)
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        await resolve_public(target.host, port)
    except BlockedAddress:
        raise FetchError(f"redirect from {mask_url(str(response.url))} to a private or reserved address "
                         f"refused {HINT}", retryable=False) from None
