"""How the HTTP channels (Slack, webhooks) reach their targets.

Every post goes through ``monitor.netguard``'s guarded client: the target's name is resolved
once, every address must be public (no loopback, private, link-local such as 169.254.169.254,
multicast or reserved) unless ``MONITOR_ALLOW_PRIVATE_URLS=1``, the connection goes to the
address that was checked, and redirects are not followed. A refused address is a permanent
``DeliveryError`` (retrying will not make it public); a name that does not resolve is retried.

httpx's timeouts count per read, so a receiver that drips a byte just inside the read timeout
would hold a delivery (and every delivery queued behind it) forever; ``SEND_DEADLINE`` bounds
the whole exchange.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from monitor.errors import DeliveryError
from monitor.fetch import ssl_context
from monitor.netguard import BlockedAddress, Unresolvable, guarded_client
from monitor.redact import mask_url

CHANNEL_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
SEND_DEADLINE = 30.0  # seconds for one whole post, answer included


def channel_client() -> httpx.AsyncClient:
    """The client a dispatch pass posts through (one per pass, shared by its deliveries)."""
    return guarded_client(timeout=CHANNEL_TIMEOUT, verify=ssl_context())


async def post(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """POST without following redirects, within ``SEND_DEADLINE``; every way of not getting an
    answer becomes a ``DeliveryError`` that names the target only masked."""
    target = mask_url(url, secret_path=True)  # a webhook URL's path may be its credential
    try:
        async with asyncio.timeout(SEND_DEADLINE):
            return await client.post(url, follow_redirects=False, **kwargs)
    except TimeoutError:
        raise DeliveryError(f"timeout: no complete answer from {target} within {SEND_DEADLINE:g}s") from None
    except Unresolvable as exc:
        raise DeliveryError(f"refused: {exc}") from None
    except BlockedAddress as exc:
        raise DeliveryError(f"refused: {exc}", permanent=True) from None
    except httpx.InvalidURL as exc:  # e.g. 0177.0.0.1: retrying will not make it a URL
        raise DeliveryError(f"refused: {target} is not a URL httpx can send to: {exc}", permanent=True) from None
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"timeout posting to {target}: {type(exc).__name__}") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"network error posting to {target}: {type(exc).__name__}") from None
