"""Which URLs we may send to: public https endpoints, unless the operator says otherwise.

Loopback, private, link-local (cloud metadata at 169.254.169.254), multicast and reserved
addresses, and plain http, are refused for subscription targets unless
``MONITOR_ALLOW_PRIVATE_URLS=1`` is set (tests and private deployments).
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from monitor.errors import ConfigError
from monitor.redact import mask_url


def private_urls_allowed() -> bool:
    return os.environ.get("MONITOR_ALLOW_PRIVATE_URLS", "").strip().lower() in ("1", "true", "yes")


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


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
    if private_urls_allowed():
        return url
    if parts.scheme != "https":
        raise ConfigError(f"{mask_url(url)}: plain http is refused (set MONITOR_ALLOW_PRIVATE_URLS=1 to allow)")
    if host == "localhost" or host.endswith(".localhost"):
        raise ConfigError(f"{mask_url(url)}: loopback hosts are refused (set MONITOR_ALLOW_PRIVATE_URLS=1 to allow)")
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None and not is_public_address(str(literal)):
        raise ConfigError(f"{mask_url(url)}: private or reserved address refused (set MONITOR_ALLOW_PRIVATE_URLS=1 to allow)")
    if allowed_hosts and host not in allowed_hosts:
        raise ConfigError(f"{mask_url(url)}: expected a host among {', '.join(allowed_hosts)}")
    return url
