"""The sources' connections on asyncio streams (monitor/streams.py): HTTPS is verified, a
connection is kept for the next request, and one the server closed while idle is replaced
instead of failing the next poll. Timeouts, resets and refused connections through the same
layer are covered by tests/reliability/test_source_faults.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import monitor.fetch
from monitor.errors import FetchError
from monitor.fetch import Fetcher, PollClient, Response
from tests.fakes.feed_server import FeedServer
from tests.fakes.tls import Certificates
from tests.test_fetch import FEED


@pytest.fixture
def https_feeds(certificates: Certificates) -> Iterator[FeedServer]:
    server = FeedServer(tls=certificates.server_context())
    server.set("/f.xml", FEED, etag=True)
    yield server
    server.close()


def get_twice(url: str, *, pause: float = 0.0) -> tuple[Response, Response]:
    """Two conditional GETs of one URL by one poll client, as two polls of a source would send."""
    async def go() -> tuple[Response, Response]:
        async with Fetcher(retries=0) as fetcher:
            client = PollClient(fetcher, "s")
            first = await client.get(url)
            client.cache.update(client.updated)  # the validators the first poll stored
            await asyncio.sleep(pause)
            return first, await client.get(url)

    return asyncio.run(go())


def test_https_is_verified_and_the_304_reuses_the_connection(https_feeds: FeedServer, certificates: Certificates,
                                                             monkeypatch):
    monkeypatch.setattr(monitor.fetch, "ssl_context", certificates.client_context)  # trust the test CA
    first, second = get_twice(https_feeds.url("/f.xml"))
    assert (first.status, first.body) == (200, FEED)
    assert (second.status, second.unchanged) == (304, True)
    assert https_feeds.requests[1].headers["if-none-match"] == first.headers["etag"]
    assert len(https_feeds.connections) == 1  # one TLS handshake for both requests


def test_https_with_a_certificate_nobody_vouches_for_is_refused(https_feeds: FeedServer):
    with pytest.raises(FetchError, match="network error .*ConnectError"):
        get_twice(https_feeds.url("/f.xml"))
    assert https_feeds.requests == []  # nothing was sent over the unverified connection


def test_a_kept_connection_the_server_closed_while_idle_is_replaced():
    feeds = FeedServer(idle_timeout=0.2)  # the server hangs up on connections idle for 0.2 s
    feeds.set("/f.xml", FEED, etag=True)
    try:
        first, second = get_twice(feeds.url("/f.xml"), pause=0.6)
    finally:
        feeds.close()
    assert (first.status, second.status) == (200, 304)  # no retry allowed: the stale connection was never used
    assert len(feeds.connections) == 2
