"""The connect-time SSRF guard: every resolved address must be public, the connection goes to
the address that was checked, and only MONITOR_ALLOW_PRIVATE_URLS=1 lets private ones through.
Names used: literal IPs and ``localhost`` (from /etc/hosts), so no external DNS is needed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import httpx
import pytest

from monitor import netguard
from monitor.errors import ConfigError
from monitor.fetch import Fetcher, PollClient, Response
from monitor.models import Delivery, Subscription
from monitor.netguard import BlockedAddress, guarded_client, resolve_public
from monitor.urls import check_target_url
from tests.fakes.http_server import HttpServer
from tests.fakes.socket_faults import FaultServer, respond
from tests.reliability.helpers import health, item_keys, poll, rss, write_sources
from tests.reliability.test_channel_and_storage_faults import (
    alert_delivery,
    seed_then_change,
    subscribe_all,
)

BLOCKED = ["127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "169.254.0.1",
           "100.64.0.1", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "::1", "::",
           "fe80::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "2001:db8::1", "localhost",
           # IPv6 forms that carry an IPv4 address, and the IETF's dummy address
           "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "2002:a9fe:a9fe::", "2002:a00:1::1", "::127.0.0.1",
           "::a9fe:a9fe", "64:ff9b:1::a9fe:a9fe", "192.0.0.8", "192.0.0.170"]


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_ALLOW_PRIVATE_URLS", raising=False)


@pytest.fixture
def feeds_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strict, except for the test's own feeds at 127.0.0.1 (sources go through the guard too)."""
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "127.0.0.1")


@pytest.fixture
def receiver() -> Iterator[FaultServer]:
    """A local receiver on another loopback address than the allowed feeds."""
    server = FaultServer(host="127.0.0.2")
    yield server
    server.close()


@pytest.mark.parametrize("host", BLOCKED)
def test_private_and_reserved_addresses_are_refused(host: str, strict) -> None:
    with pytest.raises(BlockedAddress, match="private or reserved"):
        asyncio.run(resolve_public(host, 443))


@pytest.mark.parametrize("host", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "[2606:4700:4700::1111]",
                                  "64:ff9b::808:808", "2002:808:808::1"])
def test_public_literals_pass_unchanged(host: str, strict) -> None:
    assert asyncio.run(resolve_public(host, 443)) == host.strip("[]")


def test_unresolvable_name_is_refused(strict) -> None:
    with pytest.raises(BlockedAddress, match="does not resolve"):
        asyncio.run(resolve_public("no-such-host.invalid", 443))


def test_allow_private_is_the_only_way_around(monkeypatch) -> None:
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "1")
    assert asyncio.run(resolve_public("localhost", 80)) in ("127.0.0.1", "::1")


async def _post(url: str) -> httpx.Response:
    async with guarded_client(timeout=5) as client:
        return await client.post(url, json={"text": "hi"})


def test_guarded_client_refuses_loopback_before_connecting(strict, slack: HttpServer) -> None:
    with pytest.raises(BlockedAddress):
        asyncio.run(_post(slack.url()))
    with pytest.raises(BlockedAddress):
        asyncio.run(_post(f"http://localhost:{slack.port}/services/T/B/X"))
    assert slack.requests == []


def test_connection_goes_to_the_checked_address_not_a_second_lookup(monkeypatch, slack: HttpServer) -> None:
    """DNS rebinding: ``rebind.test`` resolves nowhere, so the request can only arrive if the
    transport connected to the address the guard returned; the Host header keeps the name."""
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "1")
    checked: list[str] = []

    async def fake_resolve(host: str, port: int) -> str:
        checked.append(host)
        return "127.0.0.1"

    monkeypatch.setattr(netguard, "resolve_public", fake_resolve)
    response = asyncio.run(_post(f"http://rebind.test:{slack.port}/services/T/B/X"))
    assert response.status_code == 200 and checked == ["rebind.test"]
    assert slack.requests[0].headers["host"] == f"rebind.test:{slack.port}"


def test_guarded_client_does_not_follow_redirects(monkeypatch, faults) -> None:
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "1")
    faults.set("/hook", respond(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}))
    response = asyncio.run(_post(faults.url("/hook")))
    assert response.status_code == 302  # the caller sees the redirect; nothing went to the target


def test_non_http_scheme_refused(strict) -> None:
    with pytest.raises((BlockedAddress, httpx.UnsupportedProtocol)):
        asyncio.run(_post("file:///etc/passwd"))


# --- Alert delivery goes through the guard ----------------------------------------------------

def _target(channel: str, url: str) -> str:
    if channel == "apprise":  # Apprise's generic JSON webhook: json://host:port/path
        return "apprise:" + url.replace("http://", "json://", 1)
    return f"{channel}:{url}"


def _deliver(db, feeds, tmp_path, target: str) -> tuple[Delivery, Subscription]:
    config = seed_then_change(db, feeds, tmp_path)
    (sub_id,) = subscribe_all(db, target)
    poll(db, config, wait_limit=0.5)
    with db.session() as s:
        return alert_delivery(db), s.get(Subscription, sub_id)


PRIVATE = {"loopback": None, "metadata": "http://169.254.169.254/latest/meta-data/", "private_network": "http://10.0.0.1/hook"}


@pytest.mark.parametrize("where", list(PRIVATE))
@pytest.mark.parametrize("channel", ["slack", "webhook", "apprise"])
def test_alert_to_a_private_address_is_refused_before_connecting(channel, where, feeds_only, db, feeds, receiver,
                                                                  tmp_path) -> None:
    """Refused with a clear, permanent reason; nothing reaches the local receiver, and no connect
    is tried (a connect to 10.0.0.1 or 169.254.169.254 would end in a timeout, not this reason)."""
    receiver.set("/hook", respond(200, b"ok", {"Content-Type": "text/plain"}))
    delivery, sub = _deliver(db, feeds, tmp_path, _target(channel, PRIVATE[where] or receiver.url("/hook")))
    assert delivery.state == "failed" and "private or reserved address" in delivery.last_error
    assert "MONITOR_ALLOW_PRIVATE_URLS=1" in delivery.last_error and not sub.enabled
    assert receiver.counts["/hook"] == 0


@pytest.mark.parametrize("channel", ["slack", "webhook", "apprise"])
def test_alert_to_a_private_address_goes_out_when_private_urls_are_allowed(channel, monkeypatch, db, feeds, faults,
                                                                           tmp_path) -> None:
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "1")
    faults.set("/hook", respond(200, b"ok", {"Content-Type": "text/plain"}))
    delivery, _ = _deliver(db, feeds, tmp_path, _target(channel, faults.url("/hook")))
    assert delivery.state == "sent" and faults.counts["/hook"] == 1


def _fake_dns(monkeypatch, answers: dict[str, list[list[str]]]) -> list[str]:
    """``socket.getaddrinfo`` answering ``answers[host]`` in turn (the last repeats); returns the
    names looked up. Other names resolve for real."""
    real, asked = socket.getaddrinfo, []

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        turn = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in turn]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize("answer", [["169.254.169.254"], ["93.184.216.34", "10.1.2.3"]], ids=["metadata", "one_of_two"])
def test_slack_name_that_resolves_to_a_private_address_at_send_time_is_refused(answer, feeds_only, monkeypatch, db,
                                                                               feeds, tmp_path) -> None:
    """``hooks.slack.com`` passes the subscribe-time check by name; at send time the DNS answer
    (or one address of it) is private: refused, whatever the name."""
    asked = _fake_dns(monkeypatch, {"hooks.slack.com": [answer]})
    delivery, _ = _deliver(db, feeds, tmp_path, "slack:https://hooks.slack.com/services/T000/B000/XXXX")
    assert (delivery.state == "failed"
            and "hooks.slack.com: resolves to a private or reserved address" in delivery.last_error)
    assert asked == ["hooks.slack.com"]


def test_delivery_connects_to_the_address_it_checked_not_a_second_answer(monkeypatch, db, feeds, slack: HttpServer,
                                                                         tmp_path) -> None:
    """DNS rebinding through alert delivery: the first answer is the local Slack fake, every later
    one a private address elsewhere. The message arrives, with the name in Host, after one lookup."""
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "1")
    asked = _fake_dns(monkeypatch, {"rebind.test": [["127.0.0.1"], ["10.255.255.1"]]})
    delivery, _ = _deliver(db, feeds, tmp_path, f"slack:http://rebind.test:{slack.port}/services/T/B/X")
    assert delivery.state == "sent" and asked == ["rebind.test"]
    assert slack.requests[0].headers["host"] == f"rebind.test:{slack.port}"


# --- Sources go through the same guard ----------------------------------------------------------

def test_source_at_a_loopback_address_is_refused_without_allow_private(strict, db, feeds, tmp_path) -> None:
    """A source URL naming 127.0.0.1 is refused at connect time like a delivery target: the
    source fails with the reason and the hint, and the local server is never asked."""
    feeds.set("/feed.xml", rss(("a1", "One")))
    result = poll(db, write_sources(tmp_path / "sources.yaml", {"local": feeds.url("/feed.xml")}))
    assert result.polls[0].outcome == "failed"
    error = health(db, "local")["last_error"]
    assert "private or reserved address" in error and "MONITOR_ALLOW_PRIVATE_URLS=1" in error
    assert feeds.requests == []


def test_source_redirect_connects_to_the_address_it_checked_not_a_second_answer(monkeypatch, db, feeds,
                                                                                tmp_path) -> None:
    """DNS rebinding through a source's redirect: the redirect names ``rebind.test``, whose first
    answer is the local feed server and every later one a private address elsewhere. The feed
    arrives after one lookup, with the name in Host."""
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "1")
    asked = _fake_dns(monkeypatch, {"rebind.test": [["127.0.0.1"], ["10.255.255.1"]]})
    feeds.set("/start.xml", b"", status=302, headers={"Location": f"http://rebind.test:{feeds.port}/feed.xml"})
    feeds.set("/feed.xml", rss(("a1", "One")))
    result = poll(db, write_sources(tmp_path / "sources.yaml", {"rebound": feeds.url("/start.xml")}))
    assert result.polls[0].outcome == "changed", health(db, "rebound")
    assert item_keys(db, "rebound") == {"rss:rebound:a1"} and asked == ["rebind.test"]
    assert feeds.requests[-1].headers["host"] == f"rebind.test:{feeds.port}"


@pytest.mark.parametrize("host", ["localhost.", "ip6-localhost", "2130706433", "0x7f000001", "127.1", "0177.0.0.1",
                                  "[64:ff9b::a9fe:a9fe]", "[2002:a9fe:a9fe::]", "[::127.0.0.1]", "192.0.0.8",
                                  "127.0.0.1.", "169.254.169.254.", "2130706433."])
def test_hidden_loopback_and_embedded_forms_are_refused_at_subscribe_time(host: str, strict) -> None:
    """Each names a loopback, link-local or reserved address in a form a plain check would miss."""
    with pytest.raises(ConfigError, match="refused"):
        check_target_url(f"https://{host}/hook")


def test_octal_address_is_refused_at_subscribe_time_even_when_private_urls_are_allowed(monkeypatch) -> None:
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "1")
    with pytest.raises(ConfigError, match="write it as four decimal numbers"):
        check_target_url("http://0177.0.0.1/hook")


def test_stored_octal_target_fails_permanently_instead_of_retrying_for_ever(monkeypatch, db, feeds, tmp_path) -> None:
    """A subscription stored before the subscribe-time check knew this form: httpx cannot parse
    the URL, and that is a permanent refusal with a reason, not an exception retried every pass."""
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "1")
    delivery, sub = _deliver(db, feeds, tmp_path, "webhook:http://0177.0.0.1/hook")
    assert delivery.state == "failed" and "0177.0.0.1" in delivery.last_error and not sub.enabled


def test_allow_list_names_the_private_networks_allowed(monkeypatch) -> None:
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "10.20.0.0/16, 127.0.0.2")
    assert asyncio.run(resolve_public("10.20.3.4", 80)) == "10.20.3.4"
    assert asyncio.run(resolve_public("127.0.0.2", 80)) == "127.0.0.2"
    for host in ("10.21.0.1", "127.0.0.1", "169.254.169.254"):
        with pytest.raises(BlockedAddress, match="private or reserved"):
            asyncio.run(resolve_public(host, 80))


def test_a_malformed_allow_list_is_one_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "10.0.0.0/8,intranet")
    with pytest.raises(ConfigError, match="MONITOR_ALLOW_PRIVATE_URLS='10.0.0.0/8,intranet': expected 1"):
        asyncio.run(resolve_public("10.1.2.3", 80))


def test_relative_redirect_keeps_the_name_not_the_pinned_address(monkeypatch, feeds) -> None:
    """The request goes to the checked address, but the URL keeps its name: a relative redirect
    resolves against the name (virtual hosts answer by it), and the final URL a parser resolves
    item links against names the site, not 127.0.0.1."""
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "1")
    _fake_dns(monkeypatch, {"court.test": [["127.0.0.1"]]})
    feeds.set("/start.xml", b"", status=302, headers={"Location": "/feed.xml"})
    feeds.set("/feed.xml", rss(("a1", "One")))

    async def fetch() -> Response:
        async with Fetcher(retries=0) as fetcher:
            return await PollClient(fetcher, "court").get(f"http://court.test:{feeds.port}/start.xml")

    response = asyncio.run(fetch())
    assert response.status == 200 and response.url == f"http://court.test:{feeds.port}/feed.xml"
    assert [r.headers["host"] for r in feeds.requests] == [f"court.test:{feeds.port}"] * 2
