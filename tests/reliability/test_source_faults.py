"""Every way a source can misbehave on the wire: the other sources carry on, the failing one
shows a clear error in its health (what ``monitor status`` prints), nothing already stored is
lost, and the next poll after the fault ends succeeds by itself.

Each fault is a named case; the healthy sources come from ``HttpServer`` and the faulty one
from ``FaultServer`` (raw sockets), polled together by ``run_once``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import gzip
import json
import os
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

import monitor.drivers.service
from monitor.errors import FetchError
from monitor.fetch import Fetcher, PollClient
from monitor.models import Delivery, Item, utcnow
from tests.conftest import run_cli
from tests.fakes import socket_faults as fs
from tests.fakes.http_server import HttpServer
from tests.fakes.socket_faults import Blackhole, FaultServer
from tests.reliability.conftest import QUICK
from tests.reliability.helpers import health, item_keys, poll, rss, write_sources

BODY = rss(("b1", "Bad source one"), ("b2", "Bad source two")).encode()


@dataclass
class Env:
    faults: FaultServer
    blackhole: Blackhole
    feeds: HttpServer
    monkeypatch: pytest.MonkeyPatch

    def fault(self, fault: fs.Fault) -> str:
        self.faults.set("/bad.xml", fault)
        return self.faults.url("/bad.xml")


def _redirect_to(target: str) -> Callable[[Env], str]:
    def setup(env: Env) -> str:
        env.monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", ENV_HOST)  # the test's servers, nothing else
        return env.fault(fs.respond(302, b"", {"Location": target}))
    return setup


def _redirect_loop(env: Env) -> str:
    env.faults.set("/loop-a", fs.respond(302, b"", {"Location": "/loop-b"}))
    env.faults.set("/loop-b", fs.respond(302, b"", {"Location": "/loop-a"}))
    return env.fault(fs.respond(302, b"", {"Location": "/loop-a"}))


def _closed_port(env: Env) -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/bad.xml"


def _roomy(env: Env) -> None:
    """Streaming 20 MB to the cap can outlast the short test deadline on a loaded machine."""
    env.monkeypatch.setattr(monitor.drivers.service, "Fetcher",
                            functools.partial(Fetcher, **(QUICK | {"total_timeout": 30.0})))


def _endless(env: Env) -> str:
    _roomy(env)
    return env.fault(fs.endless(env.faults.endless_sent.append))


def _gzip_bomb(env: Env) -> str:
    _roomy(env)
    return env.fault(fs.gzip_bomb())


def _declaring(encoding: str) -> bytes:
    """BODY declaring ``encoding``, with bytes that are not UTF-8 in a title."""
    return BODY.replace(b'<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>'.encode()).replace(
        b"Bad source one", b"Bad source \xff\xfe one")


HTML_PAGE = (b"<!DOCTYPE html><html><head><title>Maintenance</title></head>"
             b"<body><p>Down for maintenance</p></body></html>")

# name -> (set the fault up, a fragment the recorded error must contain)
FAILURES: dict[str, tuple[Callable[[Env], str], str]] = {
    "http_500": (lambda e: e.fault(fs.respond(500, b"oops", {"Content-Type": "text/plain"})), "HTTP 500"),
    "http_502": (lambda e: e.fault(fs.respond(502, b"bad gateway", {"Content-Type": "text/html"})), "HTTP 502"),
    "http_503_no_retry_after": (lambda e: e.fault(fs.respond(503, b"")), "HTTP 503"),
    "http_503_long_retry_after": (lambda e: e.fault(fs.respond(503, b"", {"Retry-After": "3600"})), "HTTP 503"),
    "http_503_retry_after_date": (lambda e: e.fault(fs.respond(503, b"",
                                                              {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})),
                                 "HTTP 503"),
    "http_429": (lambda e: e.fault(fs.respond(429, b"slow down", {"Retry-After": "120"})), "HTTP 429"),
    "http_429_no_retry_after": (lambda e: e.fault(fs.respond(429, b"slow down")), "HTTP 429"),
    "http_429_retry_after_not_a_number": (lambda e: e.fault(fs.respond(429, b"slow down", {"Retry-After": "\u00b2"})),
                                          "HTTP 429"),
    "http_404": (lambda e: e.fault(fs.respond(404, b"gone")), "HTTP 404"),
    "http_410": (lambda e: e.fault(fs.respond(410, b"gone for good")), "HTTP 410"),
    # rss sends no key: a 401/403 is a server's or firewall's passing refusal, not a verdict on a key
    "http_401": (lambda e: e.fault(fs.respond(401, b"who are you")), "fetch: HTTP 401"),
    "http_403": (lambda e: e.fault(fs.respond(403, b"forbidden")), "fetch: HTTP 403"),
    "connect_timeout": (lambda e: e.blackhole.url(), "ConnectTimeout"),
    "connection_refused": (_closed_port, "ConnectError"),
    "no_answer_after_request": (lambda e: e.fault(fs.hang_before_headers(5)), "ReadTimeout"),
    "timeout_mid_body": (lambda e: e.fault(fs.hang_mid_body(BODY, 5)), "ReadTimeout"),
    "slow_drip": (lambda e: e.fault(fs.drip(BODY, every=0.2)), "timeout"),
    "reset_before_response": (lambda e: e.fault(fs.reset()), "network error"),
    "reset_mid_body": (lambda e: e.fault(fs.reset(after_headers=True)), "network error"),
    "truncated_body": (lambda e: e.fault(fs.truncated(BODY)), "network error"),
    "tls_bytes_on_plain_http": (lambda e: e.fault(fs.raw(fs.TLS_GARBAGE)), "network error"),
    "garbage_status_line": (lambda e: e.fault(fs.raw(b"SSH-2.0-OpenSSH_9.6\r\n")), "network error"),
    "gzip_bomb": (_gzip_bomb, "exceeds the 20971520-byte cap"),
    "stacked_gzip_gzip": (lambda e: e.fault(fs.encoded(BODY, ["gzip", "gzip"])), "stacked content encodings"),
    "stacked_deflate_gzip": (lambda e: e.fault(fs.encoded(BODY, ["deflate", "gzip"])), "stacked content encodings"),
    "encoding_not_asked_for": (lambda e: e.fault(fs.respond(200, BODY, {"Content-Encoding": "br"})), "'br'"),
    "gzip_cut_short": (lambda e: e.fault(fs.respond(200, gzip.compress(BODY)[:-12], {"Content-Encoding": "gzip"})),
                       "undecodable body"),
    "endless_body": (_endless, "exceeds the 20971520-byte cap"),
    "declared_huge_content_length": (lambda e: e.fault(fs.respond(200, b"", {"Content-Length": str(5 * 1024 ** 3)})),
                                    "exceeds the 20971520-byte cap"),
    "redirect_loop": (_redirect_loop, "redirects"),
    "redirect_to_metadata_address": (_redirect_to("http://169.254.169.254/latest/meta-data/"),
                                    "private or reserved address"),
    "redirect_to_private_network": (_redirect_to("http://10.0.0.1/feed.xml"), "private or reserved address"),
    "redirect_to_loopback_name": (_redirect_to("http://localhost:9/feed.xml"), "private or reserved address"),
    "source_url_octal_ipv4": (lambda e: e.faults.url("/bad.xml").replace(ENV_HOST, "0177.0.0.2"),
                              "not a URL httpx can fetch"),
    "redirect_to_non_http_scheme": (_redirect_to("file:///etc/passwd"), "only http(s) URLs are allowed"),
    "empty_200": (lambda e: e.fault(fs.respond(200, b"")), "parse: not an RSS/Atom feed"),
    "html_error_page_as_200": (lambda e: e.fault(fs.respond(200, HTML_PAGE, {"Content-Type": "text/html"})), "parse:"),
    "json_instead_of_feed": (lambda e: e.fault(fs.respond(200, b'{"error": "moved"}',
                                                          {"Content-Type": "application/json"})),
                             "parse:"),
    "declared_idna_invalid_bytes": (lambda e: e.fault(fs.respond(200, _declaring("idna"))),
                                   "parse: the feed declares encoding 'idna'"),
    "declared_undefined_invalid_bytes": (lambda e: e.fault(fs.respond(200, _declaring("undefined"))),
                                        "parse: the feed declares encoding 'undefined'"),
    "binary_garbage": (lambda e: e.fault(fs.respond(200, bytes(range(256)) * 4,
                                                    {"Content-Type": "application/octet-stream"})),
                       "parse:"),
}


ENV_HOST = "127.0.0.2"  # not 127.0.0.1, so a redirect to localhost is a redirect elsewhere


@pytest.fixture
def env(blackhole: Blackhole, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    faults, feeds = FaultServer(host=ENV_HOST), HttpServer(host=ENV_HOST)
    yield Env(faults, blackhole, feeds, monkeypatch)
    faults.close()
    feeds.close()


DEFERRING = {"http_503_long_retry_after", "http_503_retry_after_date", "http_429"}


@pytest.mark.parametrize("name", list(FAILURES))
def test_source_fault_is_isolated_recorded_and_recovers(name: str, env: Env, db, tmp_path) -> None:
    setup, expected = FAILURES[name]
    config = tmp_path / "sources.yaml"
    healthy = {"good": env.feeds.url("/good.xml"), "bad": env.faults.url("/bad.xml")}
    env.feeds.set("/good.xml", rss(("g1", "Good one")))
    env.faults.heal("/bad.xml", BODY)
    poll(db, write_sources(config, healthy))
    assert item_keys(db) == {"rss:good:g1", "rss:bad:b1", "rss:bad:b2"}

    env.feeds.set("/good.xml", rss(("g2", "Good two"), ("g1", "Good one")))
    bad_url = setup(env)
    result = poll(db, write_sources(config, healthy | {"bad": bad_url}))
    outcomes = {p.source_id: p.outcome for p in result.polls}
    if name in DEFERRING:
        # The server asked us to wait: this source fails (status shows it failing), the other goes
        # on, nothing is lost, and no request is sent to that host before the wait is over.
        assert outcomes == {"good": "changed", "bad": "failed"}
        state = health(db, "bad")
        assert expected in state["last_error"] and "asked us to wait" in state["last_error"]
        assert state["consecutive_failures"] == 1
        sent = sum(env.faults.counts.values())
        again = poll(db, write_sources(config, healthy | {"bad": bad_url}))
        assert ({p.source_id: p.outcome for p in again.polls}["bad"] == "deferred"
                and sum(env.faults.counts.values()) == sent)
        assert item_keys(db) == {"rss:good:g1", "rss:good:g2", "rss:bad:b1", "rss:bad:b2"}
        return
    assert outcomes == {"good": "changed", "bad": "failed"}
    state = health(db, "bad")
    assert expected in state["last_error"] and state["consecutive_failures"] == 1
    assert "Traceback" not in state["last_error"] and "\n" not in state["last_error"]
    assert item_keys(db) == {"rss:good:g1", "rss:good:g2", "rss:bad:b1", "rss:bad:b2"}  # nothing lost

    env.monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "1")
    env.faults.heal("/bad.xml", rss(("b3", "Bad source three"), ("b1", "Bad source one"), ("b2", "Bad source two")))
    result = poll(db, write_sources(config, healthy))
    assert {p.source_id: p.outcome for p in result.polls}["bad"] == "changed"
    assert health(db, "bad") == {"last_error": None, "consecutive_failures": 0, "last_outcome": "changed"}
    assert "rss:bad:b3" in item_keys(db, "bad")


def admin_notices(db) -> list[str]:
    with db.session() as s:
        return [d.payload["text"] for d in s.scalars(select(Delivery).where(Delivery.kind == "admin"))]


def test_keyless_feed_refused_403_three_times_opens_an_incident_and_recovers(env: Env, db, tmp_path) -> None:
    """A court site's firewall answering 403 to a feed that sends no key: each poll is an ordinary
    failure (retried within the poll), the third in a row opens an incident with one admin notice,
    and the next good answer is polled and closes it. Nothing holds the source back."""
    env.monkeypatch.setenv("MONITOR_ADMIN_TARGET", "slack:https://hooks.slack.com/services/T/B/ADMIN")
    config = write_sources(tmp_path / "sources.yaml", {"court": env.fault(fs.respond(403, b"Access denied"))})
    for attempt in range(1, 4):
        assert poll(db, config).polls[0].outcome == "failed"
        assert health(db, "court")["consecutive_failures"] == attempt
    assert env.faults.counts["/bad.xml"] == 3 * (1 + QUICK["retries"])  # retried with backoff, never blocked
    assert [t for t in admin_notices(db) if "is silent" in t and "HTTP 403" in t] != []
    env.faults.heal("/bad.xml", BODY)
    assert poll(db, config).polls[0].outcome == "changed"
    assert health(db, "court")["consecutive_failures"] == 0
    assert any("has recovered" in t for t in admin_notices(db))


def test_keyed_source_refused_403_is_held_with_an_incident_and_an_admin_notice(env: Env, db, tmp_path) -> None:
    """A 403 to a request with an API key is about the key: one request (no retry), the source
    held until its key or config changes, and the admin told at once, not after three passes."""
    env.monkeypatch.setenv("CONGRESS_API_KEY", "k-123")
    env.monkeypatch.setenv("MONITOR_ADMIN_TARGET", "slack:https://hooks.slack.com/services/T/B/ADMIN")
    env.faults.set("/v3/bill/117", fs.respond(403, b'{"error": "API_KEY_INVALID"}',
                                              {"Content-Type": "application/json"}))
    config = tmp_path / "sources.yaml"
    config.write_text("sources:\n  - id: bills\n    kind: congress_recent\n    congress: 117\n    filter: more\n"
                      f"    base_url: {env.faults.url('/v3')}\n")
    assert poll(db, config).polls[0].outcome == "failed"
    assert "auth: HTTP 403" in health(db, "bills")["last_error"] and env.faults.counts["/v3/bill/117"] == 1
    notices = admin_notices(db)
    assert len(notices) == 1 and "refused its API key" in notices[0] and "k-123" not in notices[0]
    assert poll(db, config).polls[0].outcome == "skipped" and env.faults.counts["/v3/bill/117"] == 1
    assert len(admin_notices(db)) == 1


def test_one_item_dated_years_ahead_does_not_fail_the_feed(env: Env, db, tmp_path, caplog) -> None:
    """A court's typo (2099 for 2025) on one entry: the poll succeeds, both new entries are new
    changes (so they alert), the typo'd one is stored without the impossible date (kept in its
    data), and the poll's log names the item."""
    config = write_sources(tmp_path / "sources.yaml", {"court": env.feeds.url("/court.xml")})
    env.feeds.set("/court.xml", rss(("c1", "Known opinion")))
    poll(db, config)
    typo = rss(("c3", "Typo opinion"), ("c2", "New opinion"), ("c1", "Known opinion")).replace(
        "<pubDate>Mon, 02 Feb 2026 10:00:00 GMT</pubDate>", "<pubDate>Thu, 01 Jan 2099 10:00:00 GMT</pubDate>", 1)
    env.feeds.set("/court.xml", typo)
    summary = poll(db, config).polls[0]
    assert (summary.outcome, summary.new) == ("changed", 2), summary
    assert health(db, "court")["consecutive_failures"] == 0
    with db.session() as s:
        item = s.scalars(select(Item).where(Item.key == "rss:court:c3")).one()
        assert item.published_at is None and item.data["impossible_dates"]["published_at"].startswith("2099-01-01")
    assert any("court" in r.getMessage() and "rss:court:c3" in r.getMessage() and "2099-01-01" in r.getMessage()
               for r in caplog.records)


def test_a_429_from_one_feed_holds_its_host_an_hour_at_most_and_status_says_so(env: Env, db, db_url, tmp_path) -> None:
    """One feed of a court's site answers 429 asking for a day: that feed is failing in `monitor
    status`, its neighbours on the same host are deferred with "blocked" and when they may go
    again, and that is within the hour, not a day later."""
    env.faults.set("/a.xml", fs.respond(429, b"slow down", {"Retry-After": "86400"}))
    env.faults.heal("/b.xml", BODY)
    config = write_sources(tmp_path / "sources.yaml", {"a": env.faults.url("/a.xml")})
    started = utcnow()
    assert poll(db, config).polls[0].outcome == "failed"
    config = write_sources(tmp_path / "sources.yaml", {"a": env.faults.url("/a.xml"), "b": env.faults.url("/b.xml")})
    assert {p.source_id: p.outcome for p in poll(db, config).polls} == {"a": "deferred", "b": "deferred"}
    assert env.faults.counts["/b.xml"] == 0 and env.faults.counts["/a.xml"] == 1
    shown = run_cli(["status", "--json", "--config", str(config)], dict(os.environ, MONITOR_DATABASE_URL=db_url))
    rows = {row["id"]: row for row in json.loads(shown.stdout)}
    assert shown.returncode == 1 and rows["a"]["failing"] and "HTTP 429" in rows["a"]["last_error"]
    assert rows["b"]["last_outcome"] == "deferred" and "blocked" in rows["b"]["deferred_reason"]
    until = dt.datetime.strptime(rows["b"]["deferred_reason"].rsplit("next allowed at ", 1)[1],
                                 "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=dt.UTC)
    assert until <= started + dt.timedelta(hours=1, minutes=1)


def test_endless_body_is_abandoned_at_the_cap_not_buffered(env: Env, db, tmp_path) -> None:
    url = _endless(env)
    poll(db, write_sources(tmp_path / "sources.yaml", {"bad": url}))
    assert "exceeds the 20971520-byte cap" in health(db, "bad")["last_error"]
    # The server counts what it managed to send before the client hung up: near the cap, not 200 MB.
    for _ in range(50):
        if len(env.faults.endless_sent) >= 1:
            break
        __import__("time").sleep(0.1)
    assert env.faults.endless_sent and max(env.faults.endless_sent) < 40 * 1024 * 1024


def test_a_gzip_bomb_is_decoded_no_further_than_the_cap(env: Env) -> None:
    """Each network chunk of a gzip bomb (64 KiB that inflate to 64 MiB) is decoded only as far as
    the cap allows, so the fetch's peak allocation stays near the cap, not near the bomb."""
    cap = 1024 * 1024
    url = env.fault(fs.gzip_bomb())

    async def fetch() -> None:
        async with Fetcher(**QUICK) as fetcher:
            await PollClient(fetcher, "bad", max_bytes=cap).get(url)

    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match=f"exceeds the {cap}-byte cap"):
            asyncio.run(fetch())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * cap, f"peak allocation {peak} bytes for a {cap}-byte cap"


# Faults the service should ride out: the poll succeeds and the items are stored.
def _transient_500(env: Env) -> str:
    answers = iter([fs.respond(500, b"blip"), fs.respond(200, BODY)])
    env.faults.set("/bad.xml", lambda conn: next(answers, fs.respond(200, BODY))(conn))
    return env.faults.url("/bad.xml")


def _bare_deflate(body: bytes) -> bytes:
    """A deflate stream without the zlib header, as some servers send for "deflate"."""
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(body) + packer.flush()


LATIN1 = ('<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>T</title>'
          '<item><guid>c1</guid><title>Décision Hernández</title></item></channel></rss>')
UTF8_DECL_LATIN1 = LATIN1.replace("iso-8859-1", "utf-8")

CUT_IN_THIRD_ITEM = BODY[:BODY.index(b"</channel>")] + b"<item><guid>b3</guid><title>cut"

TOLERATED: dict[str, tuple[Callable[[Env], str], set[str], str | None]] = {
    "transient_500_retried_within_the_poll": (_transient_500, {"rss:bad:b1", "rss:bad:b2"}, None),
    "wrong_content_type_text_plain": (lambda e: e.fault(fs.respond(200, BODY, {"Content-Type": "text/plain"})),
                                      {"rss:bad:b1", "rss:bad:b2"}, None),
    "wrong_content_type_octet_stream": (lambda e: e.fault(fs.respond(200, BODY,
                                                                     {"Content-Type": "application/octet-stream"})),
                                        {"rss:bad:b1", "rss:bad:b2"}, None),
    "missing_content_type_and_charset": (lambda e: e.fault(fs.respond(200, BODY, {"Content-Type": ""})),
                                        {"rss:bad:b1", "rss:bad:b2"}, None),
    "header_charset_contradicts_body": (
        lambda e: e.fault(fs.respond(200, LATIN1.encode("latin-1"),
                                     {"Content-Type": "application/rss+xml; charset=utf-8"})),
        {"rss:bad:c1"}, "Décision Hernández"),
    "declared_utf8_but_latin1_bytes": (lambda e: e.fault(fs.respond(200, UTF8_DECL_LATIN1.encode("latin-1"))),
                                       {"rss:bad:c1"}, "Hern"),
    "unknown_charset_label": (lambda e: e.fault(fs.respond(200, BODY,
                                                           {"Content-Type": "application/rss+xml; charset=x-klingon"})),
                              {"rss:bad:b1", "rss:bad:b2"}, None),
    "gzip": (lambda e: e.fault(fs.encoded(BODY, ["gzip"])), {"rss:bad:b1", "rss:bad:b2"}, None),
    "deflate_zlib_stream": (lambda e: e.fault(fs.encoded(BODY, ["deflate"])), {"rss:bad:b1", "rss:bad:b2"}, None),
    "deflate_bare_stream": (lambda e: e.fault(fs.respond(200, _bare_deflate(BODY), {"Content-Encoding": "deflate"})),
                            {"rss:bad:b1", "rss:bad:b2"}, None),
    "feed_broken_after_two_items": (lambda e: e.fault(fs.respond(200, CUT_IN_THIRD_ITEM)),
                                    {"rss:bad:b1", "rss:bad:b2"}, None),
}


@pytest.mark.parametrize("name", list(TOLERATED))
def test_tolerated_quirk_still_stores_the_items(name: str, env: Env, db, tmp_path) -> None:
    setup, keys, title_part = TOLERATED[name]
    env.feeds.set("/good.xml", rss(("g1", "Good one")))
    result = poll(db, write_sources(tmp_path / "sources.yaml", {"good": env.feeds.url("/good.xml"), "bad": setup(env)}))
    assert {p.source_id: p.outcome for p in result.polls} == {"good": "changed", "bad": "changed"}, result.polls
    assert item_keys(db, "bad") == keys
    if title_part:
        from monitor.models import Item
        with db.session() as s:
            titles = [i.title for i in s.query(Item).filter(Item.source_id == "bad")]
        assert any(title_part in t for t in titles), titles


def test_feed_that_suddenly_returns_zero_items_deletes_nothing(env: Env, db, tmp_path) -> None:
    config = write_sources(tmp_path / "sources.yaml", {"bad": env.faults.url("/bad.xml")})
    env.faults.heal("/bad.xml", BODY)
    poll(db, config)
    env.faults.heal("/bad.xml", rss())
    result = poll(db, config)
    assert result.polls[0].outcome != "changed" or result.polls[0].new == 0
    assert item_keys(db) == {"rss:bad:b1", "rss:bad:b2"}
    from monitor.models import Change
    from tests.reliability.helpers import count
    assert count(db, Change) == 0
    env.faults.heal("/bad.xml", rss(("b3", "Back"), ("b1", "Bad source one")))
    poll(db, config)
    assert "rss:bad:b3" in item_keys(db)
