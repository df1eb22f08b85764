"""Polite fetching against real local servers: validators, budgets, Retry-After, limits, auth,
robots.txt, overlapping triggers and the silent-source check."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

import monitor.fetch
from monitor.budget import DEFAULT_PROVIDERS, Budgets, reserve
from monitor.config import AppConfig, ProviderLimits, load_config
from monitor.db import Database
from monitor.errors import BudgetExceeded, FetchError
from monitor.fetch import WEB, Fetcher, PollClient, Response
from monitor.models import BudgetSpend, Delivery, Item, Poll, Source, utcnow
from monitor.pipeline import Pipeline, PollSummary, sync_sources
from monitor.sources import SOURCE_KINDS
from tests.fakes.http_server import HttpServer, Reply, Request
from tests.fakes.tls import SERVER_NAME, Certificates
from tests.test_pipeline import count, rss

FEED = rss(("a1", "Bivens remedy denied"), ("a2", "Second opinion")).encode()


def config(tmp_path: Path, sources: dict[str, str], extra: str = "") -> AppConfig:
    """sources.yaml with one rss source per id -> url; ``extra`` is prepended (defaults/providers)."""
    lines = [extra, "sources:"] if extra else ["sources:"]
    for sid, url in sources.items():
        lines += [f"  - id: {sid}", "    kind: rss", f"    url: {url}"]
    path = tmp_path / "sources.yaml"
    path.write_text("\n".join(lines) + "\n")
    return load_config(path)


def poll(db: Database, cfg: AppConfig, **fetcher_args: float) -> dict[str, PollSummary]:
    """One pass over every source, as a fresh process would do it (new client, new budgets)."""
    sync_sources(db, cfg)

    async def go() -> list[PollSummary]:
        async with Fetcher(retry_base=0.01, **fetcher_args) as fetcher:
            return await Pipeline(db, cfg, fetcher).poll_many(cfg.enabled_sources())

    return {p.source_id: p for p in asyncio.run(go())}


def source(db: Database, sid: str) -> Source:
    with db.session() as s:
        row = s.get(Source, sid)
        assert row is not None
        return row


def test_etag_round_trip_and_304_is_unchanged(db, feeds: HttpServer, tmp_path):
    feeds.set("/a.xml", FEED, etag=True)
    cfg = config(tmp_path, {"a": feeds.url("/a.xml")})
    assert poll(db, cfg)["a"].new == 2
    polls_before = count(db, Poll)
    assert poll(db, cfg)["a"].outcome == "unchanged"
    sent = feeds.requests[-1].headers
    assert sent["if-none-match"].startswith('"')
    assert "remedy-monitor/" in sent["user-agent"]
    assert count(db, Poll) == polls_before  # the cheap path writes health only
    row = source(db, "a")
    assert (row.polls_total, row.polls_unchanged, row.requests_today) == (2, 1, 2)


def test_last_modified_round_trip(db, feeds: HttpServer, tmp_path):
    stamp = "Mon, 02 Feb 2026 10:00:00 GMT"
    feeds.route("/lm.xml", lambda r: Reply(304) if r.headers.get("if-modified-since") == stamp
                else Reply(200, FEED, {"Last-Modified": stamp}))
    cfg = config(tmp_path, {"lm": feeds.url("/lm.xml")})
    assert poll(db, cfg)["lm"].new == 2
    assert poll(db, cfg)["lm"].outcome == "unchanged"
    assert feeds.requests[1].headers["if-modified-since"] == stamp


def test_identical_body_without_validators_writes_nothing(db, feeds: HttpServer, tmp_path):
    feeds.set("/a.xml", FEED)  # no ETag, no Last-Modified: never assume 304 support
    cfg = config(tmp_path, {"a": feeds.url("/a.xml")})
    poll(db, cfg)
    with db.session() as s:
        seen_before = sorted(s.scalars(select(Item.last_seen)))
    polls_before = count(db, Poll)
    assert poll(db, cfg)["a"].outcome == "unchanged"
    assert "if-none-match" not in feeds.requests[-1].headers
    with db.session() as s:
        assert sorted(s.scalars(select(Item.last_seen))) == seen_before
    assert count(db, Poll) == polls_before


def test_5xx_is_retried_with_backoff_then_succeeds(db, feeds: HttpServer, tmp_path):
    feeds.sequence("/f.xml", [Reply(502), Reply(500), Reply(200, FEED)])
    cfg = config(tmp_path, {"f": feeds.url("/f.xml")})
    assert poll(db, cfg)["f"].new == 2
    assert feeds.counts["/f.xml"] == 3


def test_retry_after_seconds_is_waited_out(db, feeds: HttpServer, tmp_path):
    feeds.sequence("/r.xml", [Reply(429, headers={"Retry-After": "1"}), Reply(200, FEED)])
    cfg = config(tmp_path, {"r": feeds.url("/r.xml")})
    started = time.monotonic()
    assert poll(db, cfg)["r"].new == 2
    assert time.monotonic() - started >= 1.0
    assert feeds.counts["/r.xml"] == 2


def test_retry_after_date_blocks_the_whole_provider_across_restarts(db, feeds: HttpServer, tmp_path):
    later = email.utils.format_datetime(utcnow() + dt.timedelta(hours=2), usegmt=True)
    feeds.set("/one.xml", b"", status=503, headers={"Retry-After": later})
    feeds.set("/two.xml", FEED)
    providers = "providers:\n  local:\n    hosts: [127.0.0.1]\n    concurrency: 1\n    per_day: 100"
    cfg = config(tmp_path, {"one": feeds.url("/one.xml")}, providers)
    assert poll(db, cfg)["one"].outcome == "deferred"
    assert feeds.counts["/one.xml"] == 1  # a 2-hour wait is not slept through, and not retried
    # a new process, another source of the same provider: nothing is sent
    cfg = config(tmp_path, {"two": feeds.url("/two.xml")}, providers)
    result = poll(db, cfg)["two"]
    assert result.outcome == "deferred" and "Retry-After" in (result.error or "")
    assert feeds.counts["/two.xml"] == 0
    row = source(db, "two")
    assert row.last_outcome == "deferred" and row.consecutive_failures == 0


def test_daily_budget_survives_a_restart_and_defers_instead_of_sending(db, feeds: HttpServer, tmp_path, cli_env):
    for sid in "ab":
        feeds.set(f"/{sid}.xml", FEED)
    # daily polls of two sources fit the day's two requests (a plan over the limit is refused at load)
    providers = ("defaults:\n  interval: 1d\nproviders:\n  local:\n    hosts: [127.0.0.1]\n    concurrency: 1\n"
                 "    per_day: 2")
    cfg = config(tmp_path, {sid: feeds.url(f"/{sid}.xml") for sid in "ab"}, providers)
    first = poll(db, cfg)
    assert sorted(p.outcome for p in first.values()) == ["changed", "changed"]
    assert len(feeds.requests) == 2
    second = poll(db, cfg)  # a restart: new client, budgets read back from the database
    assert all(p.outcome == "deferred" for p in second.values())
    assert len(feeds.requests) == 2
    with db.session() as s:
        assert s.scalar(select(func.sum(BudgetSpend.spent)).where(BudgetSpend.window == "day")) == 2


def test_a_deferred_source_is_due_again_when_its_budget_reopens(db, feeds: HttpServer, tmp_path):
    for sid in "ab":
        feeds.set(f"/{sid}.xml", FEED)
    providers = "defaults:\n  interval: 1h\nproviders:\n  local:\n    hosts: [127.0.0.1]\n    per_minute: 1"
    cfg = config(tmp_path, {sid: feeds.url(f"/{sid}.xml") for sid in "ab"}, providers)
    deferred = [p.source_id for p in poll(db, cfg).values() if p.outcome == "deferred"]
    assert len(deferred) == 1 and len(feeds.requests) == 1
    row = source(db, deferred[0])
    assert row.deferred_reason is not None and "1 requests per minute spent" in row.deferred_reason
    reopens = dt.datetime.strptime(row.deferred_reason.rsplit("next allowed at ", 1)[1], "%Y-%m-%d %H:%M:%S UTC")
    # the next minute window, not the next hourly slot: the workers' dispatch polls it then
    assert row.next_run_at is not None and row.next_run_at.replace(tzinfo=None) == reopens
    assert reopens.second == 0 and reopens - row.last_attempt_at.replace(tzinfo=None) <= dt.timedelta(minutes=1)


def test_budget_reservation_is_atomic_under_concurrency(db):
    limits = ProviderLimits(per_minute=5)
    granted: list[bool] = []
    now = utcnow()

    def worker() -> None:
        try:
            with db.session() as s:
                reserve(s, "cl", limits, now)
            granted.append(True)
        except BudgetExceeded:
            granted.append(False)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 5 and granted.count(False) == 7


def test_every_api_kind_spends_its_own_providers_published_quota():
    """A kind's provider name must match a default budget, or its requests silently fall back
    to the generic per-host limit (the Federal Register's 60 a minute did, until this test)."""
    budgets = Budgets(None)
    for kind in SOURCE_KINDS:
        provider = SOURCE_KINDS[kind].provider
        if provider != WEB:
            assert budgets.limits_for(provider) is DEFAULT_PROVIDERS[provider], kind
    assert budgets.limits_for("federal_register").per_minute == 60


def test_oversized_streaming_body_is_aborted(db, feeds: HttpServer, tmp_path):
    feeds.route("/big.xml", lambda _: Reply(200, endless=True))
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  - id: big\n    kind: rss\n    url: {feeds.url('/big.xml')}\n    max_bytes: 1000000\n")
    result = poll(db, load_config(path))["big"]
    assert result.outcome == "failed" and "exceeds the 1000000-byte cap" in (result.error or "")
    assert feeds.counts["/big.xml"] == 1  # not retried


def test_redirect_loop_is_stopped(db, feeds: HttpServer, tmp_path):
    feeds.set("/loop", b"", status=302, headers={"Location": "/loop"})
    result = poll(db, config(tmp_path, {"loop": feeds.url("/loop")}))["loop"]
    assert result.outcome == "failed" and "more than 5 redirects" in (result.error or "")
    assert feeds.counts["/loop"] == 6


def test_401_to_a_keyless_feed_is_an_ordinary_failure_polled_again(db, feeds, tmp_path):
    """No key was sent, so a 401 says nothing about a key: retried with backoff within the poll,
    and the next pass asks again."""
    feeds.set("/k.xml", b"", status=401)
    cfg = config(tmp_path, {"k": feeds.url("/k.xml")})
    results = [poll(db, cfg, retries=1)["k"] for _ in range(2)]
    assert [r.outcome for r in results] == ["failed", "failed"] and feeds.counts["/k.xml"] == 4
    assert source(db, "k").consecutive_failures == 2 and "fetch: HTTP 401" in (source(db, "k").last_error or "")


def test_401_to_a_keyed_request_is_reported_once_and_not_polled_again_until_the_config_changes(
        db, feeds, tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("CONGRESS_API_KEY", "k-123")
    feeds.set("/v3/bill/117", b"", status=401)
    path = tmp_path / "sources.yaml"

    def write(congress: int) -> AppConfig:
        path.write_text(f"sources:\n  - id: k\n    kind: congress_recent\n    congress: {congress}\n"
                        f"    filter: more\n    base_url: {feeds.url('/v3')}\n")
        return load_config(path)

    results = [poll(db, write(117))["k"] for _ in range(3)]
    assert [r.outcome for r in results] == ["failed", "skipped", "skipped"]
    assert feeds.counts["/v3/bill/117"] == 1
    assert len([r for r in caplog.records if "401" in r.getMessage() and r.levelname == "ERROR"]) == 1
    assert "auth: HTTP 401" in (source(db, "k").last_error or "")
    feeds.set("/v3/bill/118", b"", status=401)
    assert poll(db, write(118))["k"].outcome == "failed"
    assert feeds.counts["/v3/bill/118"] == 1


def test_two_overlapping_triggers_run_one_poll(db, feeds: HttpServer, tmp_path):
    answer = threading.Event()  # the first poll's request is held until the second trigger is over

    def held(_request: Request) -> Reply:
        answer.wait(30)
        return Reply(200, FEED)

    feeds.route("/slow.xml", held)
    cfg = config(tmp_path, {"slow": feeds.url("/slow.xml")})
    sync_sources(db, cfg)

    async def go() -> list[PollSummary]:
        async with Fetcher() as fetcher:
            pipeline = Pipeline(db, cfg, fetcher)
            polls = [asyncio.create_task(pipeline.poll(cfg.sources[0])) for _ in range(2)]
            await asyncio.wait(polls, return_when=asyncio.FIRST_COMPLETED)
            answer.set()
            return list(await asyncio.gather(*polls))

    outcomes = sorted(p.outcome for p in asyncio.run(go()))
    assert outcomes == ["changed", "skipped"]
    assert feeds.counts["/slow.xml"] == 1


def test_robots_txt_rfc9309(feeds: HttpServer):
    feeds.set("/robots.txt", "User-agent: *\nDisallow: /private\n", content_type="text/plain")
    feeds.set("/private/page", "secret", content_type="text/plain")
    feeds.set("/public/page", "hello", content_type="text/plain")

    async def go() -> None:
        async with Fetcher(retry_base=0.01) as fetcher:
            client = PollClient(fetcher, "html-src")
            assert (await client.get(feeds.url("/public/page"), robots=True)).body == b"hello"
            with pytest.raises(FetchError, match="robots.txt"):
                await client.get(feeds.url("/private/page"), robots=True)
            assert (await client.get(feeds.url("/private/page"))).body == b"secret"  # only when asked
            assert feeds.counts["/robots.txt"] == 1  # cached
            feeds.set("/robots.txt", b"", status=404)
            fetcher._robots.clear()
            assert await fetcher.robots_allowed(feeds.url("/private/page"))  # 4xx: allowed
            feeds.set("/robots.txt", b"", status=500)
            fetcher._robots.clear()
            assert not await fetcher.robots_allowed(feeds.url("/public/page"))  # 5xx: disallowed

    asyncio.run(go())
    assert feeds.counts["/private/page"] == 1


def test_fetches_go_through_the_environments_proxy_unless_no_proxy_says_otherwise(feeds: HttpServer,
                                                                                    monkeypatch):
    feeds.set("/p.xml", FEED)  # the feed server stands in for the proxy: it answers by path
    monkeypatch.setenv("HTTP_PROXY", feeds.base)

    async def fetch(url: str) -> bytes:
        async with Fetcher(retries=0) as fetcher:
            return (await PollClient(fetcher, "p").get(url)).body

    assert asyncio.run(fetch("http://feeds.example.invalid/p.xml")) == FEED
    assert feeds.requests[-1].path == "http://feeds.example.invalid/p.xml"  # asked as a proxy is
    monkeypatch.setenv("NO_PROXY", "feeds.example.invalid")
    with pytest.raises(FetchError, match="network error"):
        asyncio.run(fetch("http://feeds.example.invalid/p.xml"))


def test_silent_source_raises_one_alert_and_one_recovery(db, feeds: HttpServer, tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_ADMIN_TARGET", "slack:https://hooks.slack.com/services/T/B/ADMIN")
    feeds.set("/s.xml", b"", status=500)
    cfg = config(tmp_path, {"s": feeds.url("/s.xml")}, "defaults:\n  alert_after_failures: 2")

    def admin() -> list[str]:
        with db.session() as s:
            return [d.payload["text"] for d in s.scalars(select(Delivery).where(Delivery.kind == "admin")
                                                         .order_by(Delivery.id))]

    for _ in range(4):
        poll(db, cfg, retries=0)
    assert len(admin()) == 1 and "Source 's' is silent: failed 2 times in a row" in admin()[0]
    assert source(db, "s").incident_open
    feeds.set("/s.xml", FEED)
    poll(db, cfg)
    poll(db, cfg)
    assert len(admin()) == 2 and "has recovered" in admin()[1]
    assert not source(db, "s").incident_open


def test_no_items_for_longer_than_expected_is_silent(db, feeds: HttpServer, tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_ADMIN_TARGET", "slack:https://hooks.slack.com/services/T/B/ADMIN")
    feeds.set("/q.xml", FEED, etag=True)
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  - id: q\n    kind: rss\n    url: {feeds.url('/q.xml')}\n"
                    "    expect_items_within: 1d\n")
    cfg = load_config(path)
    poll(db, cfg)
    with db.session() as s:  # the last new item was two days ago
        s.get(Source, "q").last_change_at = utcnow() - dt.timedelta(days=2)
    poll(db, cfg)
    poll(db, cfg)
    with db.session() as s:
        notices = list(s.scalars(select(Delivery).where(Delivery.kind == "admin")))
    assert len(notices) == 1 and "no new or changed items since" in notices[0].payload["text"]


# --- HTTPS through the address guard: the connection goes to the checked address, the
# certificate is checked against the name --------------------------------------------------------

def _resolve_to_loopback(monkeypatch, *names: str) -> None:
    """``socket.getaddrinfo`` answering 127.0.0.1 for ``names``; other names resolve for real."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _get(url: str) -> Response:
    async def go() -> Response:
        async with Fetcher(retries=0) as fetcher:
            return await PollClient(fetcher, "s").get(url)

    return asyncio.run(go())


@pytest.fixture
def https_feeds(certificates: Certificates) -> Iterator[HttpServer]:
    server = HttpServer(tls=certificates.server_context())
    server.set("/f.xml", FEED)
    yield server
    server.close()


def test_https_feed_is_verified_against_its_name_at_the_pinned_address(https_feeds: HttpServer,
                                                                       certificates: Certificates, monkeypatch):
    monkeypatch.setattr(monitor.fetch, "ssl_context", certificates.client_context)  # trust the test CA
    _resolve_to_loopback(monkeypatch, SERVER_NAME, "other.test")
    response = _get(f"https://{SERVER_NAME}:{https_feeds.port}/f.xml")
    assert (response.status, response.body) == (200, FEED)
    assert response.url == f"https://{SERVER_NAME}:{https_feeds.port}/f.xml"  # the name, not the address
    assert https_feeds.requests[-1].headers["host"] == f"{SERVER_NAME}:{https_feeds.port}"
    # the same address under a name the certificate does not carry: refused, nothing sent
    with pytest.raises(FetchError, match="network error .*ConnectError"):
        _get(f"https://other.test:{https_feeds.port}/f.xml")
    assert len(https_feeds.requests) == 1


def test_a_kept_connection_carries_only_the_name_it_was_verified_for(https_feeds: HttpServer,
                                                                    certificates: Certificates, monkeypatch):
    """Two names at one address (a CDN): the TLS connection verified for the first is not reused
    for the second, which the certificate does not cover."""
    monkeypatch.setattr(monitor.fetch, "ssl_context", certificates.client_context)
    _resolve_to_loopback(monkeypatch, SERVER_NAME, "other.test")

    async def both() -> tuple[Response, BaseException | Response]:
        async with Fetcher(retries=0) as fetcher:
            first = await PollClient(fetcher, "a").get(f"https://{SERVER_NAME}:{https_feeds.port}/f.xml")
            try:
                return first, await PollClient(fetcher, "b").get(f"https://other.test:{https_feeds.port}/f.xml")
            except FetchError as exc:
                return first, exc

    first, second = asyncio.run(both())
    assert first.status == 200 and isinstance(second, FetchError) and "ConnectError" in str(second)
    assert len(https_feeds.requests) == 1


def test_https_with_a_certificate_nobody_vouches_for_is_refused(https_feeds: HttpServer, monkeypatch):
    _resolve_to_loopback(monkeypatch, SERVER_NAME)
    with pytest.raises(FetchError, match="network error .*ConnectError"):
        _get(f"https://{SERVER_NAME}:{https_feeds.port}/f.xml")
    assert https_feeds.requests == []
