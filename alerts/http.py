"""How the HTTP channels (Slack, webhooks) reach their targets.

Every post goes through ``monitor.netguard``'s guarded client: the target's name is resolved
once, every address must be public (no loopback, private, link-local such as 169.254.169.254,
multicast or reserved) unless ``MONITOR_ALLOW_PRIVATE_URLS=1``, the connection goes to the
address that was checked, and redirects are not followed. A refused address is a permanent
``DeliveryError`` (retrying will not make it public); a name that does not resolve is retried.

httpx's timeouts count per read, so a receiver that drips a byte just inside the read timeout
would hold a delivery (and every delivery queued behind it) forever; ``SEND_DEADLINE`` bounds
the whole exchange. Of the answer only its first ``ANSWER_BYTES`` are read, and never decoded:
a receiver answering without end, or with a gzip bomb, must not fill the dispatcher's memory
(what is kept of an answer is 200 characters of its text).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from monitor.errors import DeliveryError
from monitor.fetch import ssl_context
from monitor.netguard import BlockedAddress, Unresolvable, guarded_client
from monitor.redact import mask_url

CHANNEL_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
SEND_DEADLINE = 30.0  # seconds for one whole post, answer included
ANSWER_BYTES = 64 * 1024  # of a receiver's answer; Slack says "ok", a webhook receiver little more


@dataclass(frozen=True)
class Answer:
    """What a receiver answered: its status, headers and the start of its body as text."""

    status_code: int
    headers: httpx.Headers
    text: str


def channel_client() -> httpx.AsyncClient:
    """The client a dispatch pass posts through (one per pass, shared by its deliveries)."""
    return guarded_client(timeout=CHANNEL_TIMEOUT, verify=ssl_context())


async def post(client: httpx.AsyncClient, url: str, *, headers: dict[str, str] | None = None,
               **kwargs: Any) -> Answer:
    """POST without following redirects, within ``SEND_DEADLINE``, asking for the answer
    unencoded and reading at most ``ANSWER_BYTES`` of it; every way of not getting an answer
    becomes a ``DeliveryError`` that names the target only masked."""
    target = mask_url(url, secret_path=True)  # a webhook URL's path may be its credential
    try:
        async with asyncio.timeout(SEND_DEADLINE):
            request = client.build_request("POST", url, headers={**(headers or {}), "Accept-Encoding": "identity"},
                                           **kwargs)
            response = await client.send(request, follow_redirects=False, stream=True)
            try:
                return Answer(response.status_code, response.headers, await _answer_text(response))
            finally:
                await response.aclose()
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


async def _answer_text(response: httpx.Response) -> str:
    """The first ``ANSWER_BYTES`` of the body as sent; an encoded one (asked for unencoded, a
    receiver may still gzip it) is not inflated, only named."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    kept = bytearray()
    async for chunk in response.aiter_raw():
        kept += chunk[:ANSWER_BYTES - len(kept)]
        if len(kept) >= ANSWER_BYTES:
            break
    if encoding not in ("", "identity"):
        return f"({len(kept)}+ bytes encoded {encoding!r}, not decoded)"
    return kept.decode("utf-8", errors="replace")  # a declared charset may be a codec that cannot replace
