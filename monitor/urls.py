"""Which URLs we may send to: public https endpoints, unless the operator says otherwise.

Loopback, private, link-local (cloud metadata at 169.254.169.254), multicast and reserved
addresses, and plain http, are refused for subscription targets unless
``MONITOR_ALLOW_PRIVATE_URLS=1`` is set (tests and private deployments). The same judgement of
an address (``address_allowed``) is what ``monitor.netguard`` applies at connect time, to
sources and deliveries alike; there ``MONITOR_ALLOW_PRIVATE_URLS`` may also name the private
addresses or networks allowed (``10.20.0.0/16,192.168.1.5``).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

from monitor.errors import ConfigError
from monitor.redact import mask_url

ALL = ("1", "true", "yes")
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
NOT_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "192.0.0.0/24",  # IETF protocol assignments (192.0.0.8 is a dummy address); Python counts it global
    "64:ff9b:1::/48",  # RFC 8215 local-use NAT64
    "::/96",  # IPv4-compatible IPv6 (deprecated): [::127.0.0.1] is not a public address
))
ALLOW_ENV = "MONITOR_ALLOW_PRIVATE_URLS"


def private_urls_allowed() -> bool:
    """``MONITOR_ALLOW_PRIVATE_URLS=1``: every private address is allowed (tests, closed networks)."""
    return os.environ.get(ALLOW_ENV, "").strip().lower() in ALL


def allowed_private_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``MONITOR_ALLOW_PRIVATE_URLS=10.20.0.0/16,127.0.0.2``: only these private addresses are allowed."""
    value = os.environ.get(ALLOW_ENV, "").strip()
    if value.lower() in (*ALL, "", "0", "false", "no"):
        return ()
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{ALLOW_ENV}={value!r}: expected 1, or addresses and networks separated by commas "
                          "(e.g. 10.20.0.0/16,192.168.1.5)") from None


def is_public_address(address: str) -> bool:
    """A globally routable unicast address; an IPv6 form that embeds an IPv4 address (mapped,
    6to4, NAT64) is judged by the IPv4 address inside it."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if any(ip in network for network in NOT_PUBLIC):
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(str(embedded))
    return ip.is_global and not ip.is_multicast


def address_allowed(address: str) -> bool:
    """Public, or private but allowed by ``MONITOR_ALLOW_PRIVATE_URLS``."""
    if private_urls_allowed() or is_public_address(address):
        return True
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return any(ip in network for network in allowed_private_networks())


LOOPBACK_NAMES = ("localhost", "ip6-localhost", "ip6-loopback")  # the usual /etc/hosts names


def legacy_ipv4(host: str) -> bool:
    """A host that C's ``inet_aton`` reads as an IPv4 address but is not a plain dotted quad:
    ``2130706433``, ``0x7f000001``, ``127.1``, ``0177.0.0.1`` (octal). Resolvers turn these into
    addresses (often 127.0.0.1); httpx refuses some of them; either way they hide an address."""
    try:
        packed = socket.inet_aton(host)
    except OSError:
        return False
    return socket.inet_ntoa(packed) != host


def check_target_url(url: str, *, allowed_hosts: tuple[str, ...] = ()) -> str:
    """Return ``url`` if it is a safe delivery target, else raise ConfigError saying why."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port
    except ValueError as exc:
        raise ConfigError(f"malformed URL {mask_url(url)}: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{mask_url(url)} is not an http(s) URL")
    if legacy_ipv4(host):
        raise ConfigError(f"{mask_url(url)}: an IPv4 address written as {host!r} is refused; write it as four "
                          "decimal numbers (a.b.c.d)")
    if private_urls_allowed():
        return url
    hint = f"(set {ALLOW_ENV}=1 to allow)"
    if parts.scheme != "https":
        raise ConfigError(f"{mask_url(url)}: plain http is refused {hint}")
    name = host.rstrip(".")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        raise ConfigError(f"{mask_url(url)}: loopback hosts are refused {hint}")
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None and not address_allowed(str(literal)):
        raise ConfigError(f"{mask_url(url)}: private or reserved address refused {hint}")
    if allowed_hosts and name not in allowed_hosts:
        raise ConfigError(f"{mask_url(url)}: expected a host among {', '.join(allowed_hosts)}")
    return url
