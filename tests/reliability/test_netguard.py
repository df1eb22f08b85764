"""The connect-time SSRF guard: every resolved address must be public, the connection goes to
the address that was checked, and only MONITOR_ALLOW_PRIVATE_URLS=1 lets private ones through.
Names used: literal IPs and ``localhost`` (from /etc/hosts), so no external DNS is needed."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import monitor.netguard as netguard
from monitor.netguard import BlockedAddress, guarded_client, resolve_public
from tests.fakes.slack_server import SlackServer

BLOCKED = ["127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "169.254.0.1",
           "100.64.0.1", "0.0.0.0", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "::1", "::",
           "fe80::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "2001:db8::1", "localhost"]


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_ALLOW_PRIVATE_URLS", raising=False)


@pytest.mark.parametrize("host", BLOCKED)
def test_private_and_reserved_addresses_are_refused(host: str, strict) -> None:
    with pytest.raises(BlockedAddress, match="private or reserved"):
        asyncio.run(resolve_public(host, 443))


@pytest.mark.parametrize("host", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "[2606:4700:4700::1111]"])
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


def test_guarded_client_refuses_loopback_before_connecting(strict, slack: SlackServer) -> None:
    with pytest.raises(BlockedAddress):
        asyncio.run(_post(slack.url()))
    with pytest.raises(BlockedAddress):
        asyncio.run(_post(f"http://localhost:{slack.port}/services/T/B/X"))
    assert slack.requests == []


def test_connection_goes_to_the_checked_address_not_a_second_lookup(monkeypatch, slack: SlackServer) -> None:
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
    assert slack.requests[0].headers["Host"] == f"rebind.test:{slack.port}"


def test_guarded_client_does_not_follow_redirects(monkeypatch, faults) -> None:
    from tests.fakes.socket_faults import respond

    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_URLS", "1")
    faults.set("/hook", respond(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}))
    response = asyncio.run(_post(faults.url("/hook")))
    assert response.status_code == 302  # the caller sees the redirect; nothing went to the target


def test_non_http_scheme_refused(strict) -> None:
    with pytest.raises((BlockedAddress, httpx.UnsupportedProtocol)):
        asyncio.run(_post("file:///etc/passwd"))
