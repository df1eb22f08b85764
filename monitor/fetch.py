"""The one place that talks HTTP to sources: ``Fetcher`` owns the process's ``httpx.AsyncClient``,
the size cap, retries and error classification; ``PollClient`` is one poll's view of it (conditional
requests from the stored validators, an unchanged body known by its hash, the new validators
collected for the poll's own transaction)."""

from __future__ import annotations

import asyncio
import email.utils
import functools
import hashlib
import logging
import os
import random
import ssl
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit
from urllib.request import getproxies
from urllib.robotparser import RobotFileParser

import certifi
import httpx

from monitor import __version__
from monitor.errors import AuthError, BudgetExceeded, FetchError
from monitor.netguard import BlockedAddress, GuardedTransport, Unresolvable, check_request
from monitor.redact import public_url, redact

if TYPE_CHECKING:
    from monitor.budget import Budgets

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 5
ACCEPT_ENCODING = "gzip, deflate"  # the codings _Inflater decodes; we ask for nothing else
DECODE_STEP = 256 * 1024  # decoded bytes per zlib call
WEB = "web"  # the provider of generic kinds (rss, html): budgeted per host unless a provider claims it


USER_AGENT_TOKEN = "remedy-monitor"  # the product token robots.txt groups are matched against


def user_agent() -> str:
    contact = os.environ.get("MONITOR_CONTACT", "").strip()
    suffix = f"; {contact}" if contact else ""
    return f"{USER_AGENT_TOKEN}/{__version__} (+https://github.com/remedy-monitor{suffix})"


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One CA bundle load per process (loading it is slow), shared by every client."""
    return ssl.create_default_context(cafile=certifi.where())


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header given in seconds or as an HTTP date; None for
    anything else (``str.isdigit`` alone passes "²", which ``float`` refuses)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class CacheEntry:
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    unchanged: bool = False  # 304, or the same body hash as last time

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


ROBOTS_TTL = 24 * 3600.0  # RFC 9309: cache robots.txt, but not for more than 24 hours
ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309: parse at least 500 KiB


class Fetcher:
    """Process-wide HTTP client with budgets, bounded retries, a streaming size cap and robots.txt.

    Errors (``monitor.errors``): ``FetchError`` (``retryable`` says whether waiting may help; a
    generic host's Retry-After longer than ``max_retry_wait`` holds the host and fails the request),
    ``AuthError`` for a 401/403 to a request with an API key (never retried), and
    ``monitor.budget.BudgetExceeded`` when a request would overspend its provider: that request is never sent.
    """

    def __init__(self, *, timeout: float = 30.0, connect_timeout: float = 10.0, total_timeout: float = 120.0,
                 retries: int = 2, retry_base: float = 1.0, max_retry_wait: float = 10.0,
                 max_connections: int = 100, budgets: Budgets | None = None) -> None:
        self.retries = retries
        self.retry_base = retry_base
        self.max_retry_wait = max_retry_wait
        self.max_connections = max_connections
        self.total_timeout = total_timeout  # whole request: a server dripping a byte a second never ends otherwise
        if budgets is None:
            # budgets need the database layer; plain fetches do not
            from monitor.budget import Budgets

            budgets = Budgets(None)
        self.budgets = budgets
        self._robots: dict[str, tuple[float, RobotFileParser | bool]] = {}
        # as many idle connections kept as may be open: with fewer, every poll past that number
        # closes its connection when done and the next one connects afresh (a TCP handshake each)
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        # Every hop goes to the address monitor.netguard checked. Through a proxy from the
        # environment, httpx builds the proxy's transports and the name is checked per hop.
        proxied = bool(getproxies())
        self.client = httpx.AsyncClient(
            headers={"User-Agent": user_agent(), "Accept-Encoding": ACCEPT_ENCODING}, verify=ssl_context(),
            timeout=httpx.Timeout(timeout, connect=connect_timeout), limits=limits, follow_redirects=True,
            transport=None if proxied else GuardedTransport(verify=ssl_context(), limits=limits),
            max_redirects=MAX_REDIRECTS, event_hooks={"request": [check_request] if proxied else []})

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def provider_for(self, declared: str, url: str) -> str:
        return self.budgets.provider_for(declared, urlsplit(url).hostname)

    async def get(self, url: str, *, headers: Mapping[str, str] | None = None,
                  max_bytes: int = DEFAULT_MAX_BYTES, provider: str = WEB, keyed: bool = False,
                  on_send: Callable[[], None] | None = None) -> tuple[int, httpx.Headers, bytes, str]:
        """GET with budget, retries on network errors and 5xx, and Retry-After honoured provider-wide.

        ``keyed``: the request carries an API key, so a 401/403 is an ``AuthError`` about that
        key; without one, a 401/403 is a firewall's or a server's passing mood, retried like a 5xx.
        ``on_send`` is called for every request actually sent (retries included, deferrals not).
        """
        provider = self.provider_for(provider, url)
        attempt = 0
        failed: FetchError | None = None  # the last attempt's error
        while True:
            try:
                slot = await self.budgets.acquire(provider)
            except BudgetExceeded as spent:
                if failed is None or failed.retry_after is not None:
                    raise  # nothing tried yet, or the server asked us to wait: a quota's deferral
                # the request failed and its retry does not fit: a failure, not a deferral
                raise FetchError(f"{failed}; not retried: {spent}", retryable=False, status=failed.status) from None
            if on_send is not None:
                on_send()
            try:
                async with asyncio.timeout(self.total_timeout):
                    return await self._get_once(url, headers=headers, max_bytes=max_bytes, keyed=keyed)
            except TimeoutError:
                exc: FetchError = FetchError(f"timeout: no complete answer within {self.total_timeout:.0f}s from "
                                             f"{public_url(url)}", retryable=True)
            except FetchError as error:
                exc = error
            finally:
                slot.release()
            attempt += 1
            failed = exc
            if exc.retry_after is not None:
                until = await self.budgets.block(provider, exc.retry_after, f"{exc} asked us to wait")
                if exc.retry_after > self.max_retry_wait or attempt > self.retries:
                    if provider.startswith(f"{WEB}:"):  # a site's refusal of this feed: a failure of its own
                        raise FetchError(f"{exc} asked us to wait {exc.retry_after:.0f} s; {provider} is held until "
                                         f"{until:%Y-%m-%d %H:%M:%S} UTC", retryable=False, status=exc.status) from None
                    raise BudgetExceeded(provider, f"{exc} asked us to wait", until) from None  # a quota: deferred
                await asyncio.sleep(exc.retry_after + random.uniform(0, self.retry_base / 2))
                continue
            if not exc.retryable or attempt > self.retries:
                raise exc
            await asyncio.sleep(self.retry_base * 2 ** (attempt - 1) + random.uniform(0, self.retry_base / 2))

    async def robots_allowed(self, url: str, provider: str = WEB) -> bool:
        """RFC 9309 for our User-Agent: cached per origin; 4xx = allowed, 5xx or unreachable = disallowed."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._robots.get(origin)
        if cached is None or cached[0] < time.monotonic():
            rules: RobotFileParser | bool
            try:
                _, _, body, _ = await self.get(origin + "/robots.txt", max_bytes=ROBOTS_MAX_BYTES,
                                               provider=provider)
                rules = RobotFileParser()
                rules.parse(body.decode("utf-8", "replace").splitlines())
            except FetchError as exc:  # 4xx (401/403 too) is "unavailable": everything is allowed
                rules = exc.status is not None and 400 <= exc.status < 500
            cached = (time.monotonic() + ROBOTS_TTL, rules)
            self._robots[origin] = cached
        rules = cached[1]
        return rules if isinstance(rules, bool) else rules.can_fetch(USER_AGENT_TOKEN, url)

    async def _get_once(self, url: str, *, headers: Mapping[str, str] | None,
                        max_bytes: int, keyed: bool) -> tuple[int, httpx.Headers, bytes, str]:
        shown = public_url(url)
        try:
            async with self.client.stream("GET", url, headers=headers) as response:
                status = response.status_code
                if status in (401, 403) and keyed:
                    raise AuthError(f"HTTP {status} from {shown}: the API key is missing or wrong", status=status)
                if status in (401, 403, 429, 503) or status >= 500:
                    retry_after = (parse_retry_after(response.headers.get("retry-after"))
                                   if status in (429, 503) else None)
                    raise FetchError(f"HTTP {status} from {shown}", retryable=True, status=status,
                                     retry_after=retry_after)
                if status >= 400:
                    raise FetchError(f"HTTP {status} from {shown}", retryable=False, status=status)
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError(f"body of {declared} bytes from {shown} exceeds the {max_bytes}-byte cap",
                                     retryable=False, status=status)
                body = await _read_capped(response, max_bytes, shown)
                return status, response.headers, body, str(response.url)
        except Unresolvable as exc:
            raise FetchError(f"{shown}: {exc}", retryable=True) from None
        except BlockedAddress as exc:
            raise FetchError(f"{shown}: refused: {exc}", retryable=False) from None
        except httpx.InvalidURL as exc:  # e.g. a redirect to 0177.0.0.1
            raise FetchError(f"{shown}: refused: not a URL httpx can fetch: {exc}", retryable=False) from None
        except httpx.TooManyRedirects:
            raise FetchError(f"more than {MAX_REDIRECTS} redirects from {shown}", retryable=False) from None
        except httpx.TimeoutException as exc:
            raise FetchError(f"timeout ({type(exc).__name__}) fetching {shown}", retryable=True) from None
        except httpx.TransportError as exc:
            raise FetchError(f"network error fetching {shown}: {type(exc).__name__}{_cause(exc)}",
                             retryable=True) from None


def _cause(exc: BaseException) -> str:
    """': Connection refused': the socket's own reason, innermost in the chain, since httpx and
    anyio wrap it in words that name none ('All connection attempts failed'); '' when there is none."""
    reason = str(exc)
    inner = exc.__cause__ or exc.__context__
    while inner is not None:
        if isinstance(inner, OSError) and (inner.errno or inner.strerror):
            reason = os.strerror(inner.errno) if inner.errno else str(inner.strerror)
        inner = inner.__cause__ or inner.__context__
    return f": {redact(reason)}" if reason else ""


class _Inflater:
    """One gzip or deflate layer, decoded at most ``room`` bytes at a time.

    httpx decodes each network chunk whole before the caller can count it, so a 64 KiB chunk
    of a gzip bomb becomes 64 MiB at once, and two stacked layers multiply again. Here zlib's
    ``max_length`` stops the output at what the size cap still allows; the input it has not
    used yet waits in ``unconsumed_tail``.
    """

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.zlib = zlib.decompressobj(16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS)
        self.started = False

    def decode(self, data: bytes, room: int) -> Iterator[bytes]:
        """The decoded pieces of ``data``, together no longer than the ``room`` left (> 0), each
        at most ``DECODE_STEP``: a piece past the cap is never larger than that."""
        while data and not self.zlib.eof:
            step = min(room, DECODE_STEP)
            try:
                piece = self.zlib.decompress(data, step)
            except zlib.error:
                if self.coding != "deflate" or self.started:
                    raise
                # "deflate" sent as a bare deflate stream without the zlib header (common)
                self.zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                piece = self.zlib.decompress(data, step)
            self.started = True
            data = self.zlib.unconsumed_tail
            room -= len(piece)
            yield piece
            if room <= 0:
                return

    def finish(self) -> bytes:
        """What zlib still holds (at most its 32 KiB window); a stream cut short is an error."""
        if not self.zlib.eof:
            raise zlib.error("the compressed body ends before its end marker")
        return self.zlib.flush()


def _inflater(content_encoding: str, shown: str) -> _Inflater | None:
    """The decoder a Content-Encoding header asks for; stacked or unasked-for codings are refused."""
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = ["gzip" if c == "x-gzip" else c for c in codings if c and c != "identity"]
    if not codings:
        return None
    if len(codings) > 1:
        raise FetchError(f"{shown} sent stacked content encodings ({', '.join(codings)}); refused, as a "
                         f"decompression bomb would be", retryable=False)
    if codings[0] not in ("gzip", "deflate"):
        raise FetchError(f"{shown} sent content encoding {codings[0]!r}, which we did not ask for", retryable=False)
    return _Inflater(codings[0])


async def _read_capped(response: httpx.Response, max_bytes: int, shown: str) -> bytes:
    """The decoded body, refused as soon as it (or what came over the wire) passes ``max_bytes``;
    nothing past the cap is ever decoded or kept."""
    inflater = _inflater(response.headers.get("content-encoding", ""), shown)
    too_big = FetchError(f"body from {shown} exceeds the {max_bytes}-byte cap", retryable=False,
                         status=response.status_code)
    chunks: list[bytes] = []
    size = received = 0
    try:
        async for raw in response.aiter_raw():
            received += len(raw)
            if received > max_bytes:
                raise too_big
            pieces = [raw] if inflater is None else inflater.decode(raw, max_bytes - size + 1)
            for piece in pieces:
                size += len(piece)
                if size > max_bytes:
                    raise too_big
                chunks.append(piece)
        if inflater is not None:
            chunks.append(inflater.finish())
            if size + len(chunks[-1]) > max_bytes:
                raise too_big
    except zlib.error as exc:
        raise FetchError(f"undecodable body from {shown}: {exc}", retryable=False) from None
    return b"".join(chunks)


def carries_key(url: str, headers: Mapping[str, str]) -> bool:
    """Whether a request sends a credential: an Authorization header, a header named for a key
    or token (``X-Api-Key``), or one in the URL (what ``public_url`` strips)."""
    names = [name.lower() for name in headers]
    return ("authorization" in names or any("key" in name or "token" in name for name in names)
            or public_url(url) != url)


@dataclass
class PollClient:
    """The HTTP view one poll of one source gets: conditional GETs and validator bookkeeping."""

    fetcher: Fetcher
    source_id: str
    cache: dict[str, CacheEntry] = field(default_factory=dict)  # keyed by public_url
    provider: str = WEB  # the source kind's declared provider; "web" resolves by host
    max_bytes: int = DEFAULT_MAX_BYTES
    requests: int = 0
    updated: dict[str, CacheEntry] = field(default_factory=dict)

    def _sent(self) -> None:
        self.requests += 1

    def forget(self, urls: set[str]) -> None:
        """Drop the validators of answers that could not be used (a bill's document that does not
        parse), so the next poll fetches and reads them again instead of calling them unchanged."""
        for url in urls:
            self.updated.pop(url, None)

    async def get(self, url: str, *, params: Mapping[str, Any] | None = None,
                  headers: Mapping[str, str] | None = None, conditional: bool = True,
                  robots: bool = False) -> Response:
        """GET ``url``; ``unchanged`` is set when the server says 304 or the body hash is the same.

        Keys belong in ``headers`` where the provider allows it; a key that must travel in the
        query string is masked in every stored or logged URL by ``public_url``. With ``robots``
        the URL is first checked against the site's robots.txt (scraping kinds ask for this).
        """
        full = str(httpx.URL(url, params=params)) if params else url
        shown = public_url(full)
        if robots and not await self.fetcher.robots_allowed(full, self.provider):
            raise FetchError(f"robots.txt of {urlsplit(full).netloc} disallows {shown}", retryable=False)
        known = self.cache.get(shown) if conditional else None
        send = dict(headers or {})
        if known and known.etag:
            send["If-None-Match"] = known.etag
        if known and known.last_modified:
            send["If-Modified-Since"] = known.last_modified
        status, resp_headers, body, final_url = await self.fetcher.get(
            full, headers=send, max_bytes=self.max_bytes, provider=self.provider, keyed=carries_key(full, send),
            on_send=self._sent)
        if status == 304 and known:
            return Response(final_url, status, resp_headers, b"", unchanged=True)
        if status == 304:
            raise FetchError(f"HTTP 304 from {shown} without a conditional request", retryable=True, status=304)
        body_hash = hashlib.sha256(body).hexdigest()
        if conditional:
            self.updated[shown] = CacheEntry(resp_headers.get("etag"), resp_headers.get("last-modified"), body_hash)
        unchanged = known is not None and known.body_hash == body_hash
        return Response(final_url, status, resp_headers, body, unchanged=unchanged)
