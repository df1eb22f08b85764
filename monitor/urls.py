"""Which addresses and URLs we may send to: public https ones, unless ``MONITOR_ALLOW_PRIVATE_URLS``
says otherwise: ``1`` allows every private address and plain http (tests, closed networks), a list
such as ``10.20.0.0/16,192.168.1.5`` only those addresses. ``check_target_url`` judges a target's
text when a subscription is made; ``monitor.netguard`` judges the addresses at connect time.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from urllib.parse import urlsplit

from monitor.errors import ConfigError
from monitor.redact import mask_url

ALLOW_ENV = "MONITOR_ALLOW_PRIVATE_URLS"
HINT = f"(set {ALLOW_ENV}=1 to allow)"
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
NOT_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "192.0.0.0/24",  # IETF protocol assignments (192.0.0.8 is a dummy address); Python counts it global
    "64:ff9b:1::/48",  # RFC 8215 local-use NAT64
    "::/96",  # IPv4-compatible IPv6 (deprecated): [::127.0.0.1] is not a public address
))
LOOPBACK_NAMES = ("localhost", "ip6-localhost", "ip6-loopback")  # the usual /etc/hosts names


def private_urls_allowed() -> bool:
    return os.environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes")


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A globally routable unicast address; an IPv6 form that embeds an IPv4 address (mapped,
    6to4, NAT64) is judged by the IPv4 address inside it."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return ip.is_global and not ip.is_multicast and not any(ip in network for network in NOT_PUBLIC)


def address_allowed(address: str) -> bool:
    """Public, or private but allowed by ``MONITOR_ALLOW_PRIVATE_URLS``."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return private_urls_allowed() or is_public(ip) or any(ip in network for network in allowed_networks())


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The private networks a ``MONITOR_ALLOW_PRIVATE_URLS`` list names (none for ``1`` or unset)."""
    value = os.environ.get(ALLOW_ENV, "").strip()
    if private_urls_allowed() or value.lower() in ("", "0", "false", "no"):
        return []
    try:
        return [ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{ALLOW_ENV}={value!r}: expected 1, or addresses and networks separated by commas "
                          "(e.g. 10.20.0.0/16,192.168.1.5)") from None


def check_target_url(url: str, *, allowed_hosts: tuple[str, ...] = ()) -> str:
    """Return ``url`` if it is a safe delivery target, else raise ConfigError saying why."""
    shown = mask_url(url)
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port
    except ValueError as exc:
        raise ConfigError(f"malformed URL {shown}: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{shown} is not an http(s) URL")
    name = host.rstrip(".")
    with contextlib.suppress(OSError):  # 2130706433, 0x7f000001, 127.1, 0177.0.0.1, 10.0.0.1. hide an address
        if socket.inet_ntoa(socket.inet_aton(name)) != host:
            raise ConfigError(f"{shown}: an IPv4 address written as {host!r} is refused; write it as four "
                              "decimal numbers (a.b.c.d)")
    if private_urls_allowed():
        return url
    if parts.scheme != "https":
        raise ConfigError(f"{shown}: plain http is refused {HINT}")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        raise ConfigError(f"{shown}: loopback hosts are refused {HINT}")
    with contextlib.suppress(ValueError):  # a name: netguard judges the addresses it resolves to
        if not address_allowed(host):
            raise ConfigError(f"{shown}: private or reserved address refused {HINT}")
    if allowed_hosts and name not in allowed_hosts:
        raise ConfigError(f"{shown}: expected a host among {', '.join(allowed_hosts)}")
    return url
