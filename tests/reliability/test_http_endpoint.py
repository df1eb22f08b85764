"""The HTTP endpoint (``monitor run --http``) under requests a probe sends: HEAD and previews of
an unsubscribe link, nested JSON, NUL in a path, and listen addresses that cannot work."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from monitor.web import create_app
from tests.alerting import seed_watchlist, subscription
from tests.conftest import CliResult, run_cli, serve_asgi

HOOK_SECRET = "hook-secret-for-tests-0123456789"


class Mounted:
    """An ASGI app that passes each request to the app the running test mounted (on its own database)."""

    def __init__(self) -> None:
        self.app: Starlette | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "a request outside a test"
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Mounted]]:
    """One uvicorn for the module: stopping one takes uvicorn a tenth of a second, and the
    malformed-request cases alone are 75 tests."""
    mounted = Mounted()
    with serve_asgi(mounted) as base:
        yield base, mounted


@pytest.fixture
def web(db, server: tuple[str, Mounted], monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """The service's app on this test's database, served by uvicorn on a local port, with a plain HTTP client."""
    monkeypatch.setenv("MONITOR_HOOK_SECRET", HOOK_SECRET)
    base, mounted = server
    mounted.app = create_app(db)
    try:
        with httpx.Client(base_url=base) as client:
            yield client
    finally:
        mounted.app = None


def test_head_and_get_of_an_unsubscribe_link_change_nothing_only_post_unsubscribes(db, web) -> None:
    sub = seed_watchlist(db, target="email:ana@example.org", title="Bivens claims")
    link = f"/unsubscribe/{subscription(db, sub).unsubscribe_token}"
    head = web.head(link)
    assert head.status_code == 200 and head.content == b""
    assert subscription(db, sub).enabled, "a HEAD (mail scanners, link previewers) unsubscribed"
    page = web.get(link)
    assert page.status_code == 200 and "<form method=post" in page.text
    assert subscription(db, sub).enabled
    answer = web.post(link, content=b"List-Unsubscribe=One-Click",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})  # RFC 8058
    assert answer.status_code == 200 and "Unsubscribed" in answer.text
    assert not subscription(db, sub).enabled


def test_a_browser_opening_an_unsubscribe_link_sees_the_form_and_unsubscribes_nothing(db, web) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on this machine: the real-browser check needs `chromium` on PATH")
    sub = seed_watchlist(db, target="email:ana@example.org", title="Bivens claims")
    url = str(web.base_url.join(f"/unsubscribe/{subscription(db, sub).unsubscribe_token}"))
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url],
                         capture_output=True, text=True, timeout=60, check=False).stdout
    assert "<form method=\"post\"" in dom and "Stop alerts for" in dom
    assert subscription(db, sub).enabled, "loading the page in a browser unsubscribed"


def test_deeply_nested_json_with_a_valid_bearer_is_a_400_not_a_500(web) -> None:
    depth = 100_000  # 200 KB: under the 1 MiB cap, far deeper than any parser recurses
    for body in ("[" * depth + "]" * depth, '{"payload": ' + '{"a": ' * depth + "1" + "}" * depth + "}"):
        answer = web.post("/hooks/courtlistener", content=body.encode(),
                          headers={"Authorization": f"Bearer {HOOK_SECRET}", "Idempotency-Key": "deep-1",
                                   "Content-Type": "application/json"})
        assert answer.status_code == 400, answer.text[:300]
        assert "nested too deeply" in json.loads(answer.text)["error"]


def test_nul_in_a_feed_or_unsubscribe_path_is_a_404(db, web) -> None:
    seed_watchlist(db)
    for path in ("/feeds/%00.atom?token=x", "/feeds/bivens%00.atom?token=x", "/unsubscribe/%00"):
        assert web.get(path).status_code == 404, path


def _one_line_refusal(value: str, env: dict[str, str]) -> str:
    """``monitor run --http VALUE`` in this process but off its main thread: a refused address stops
    it before the service starts; an accepted one would start a service that cannot install its
    signal handlers there, so a regression fails here instead of serving for ever."""
    results: list[CliResult] = []
    runner = threading.Thread(target=lambda: results.append(run_cli(["run", "--http", value], env)))
    runner.start()
    runner.join(60)
    [result] = results
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --http") and "Traceback" not in result.stderr, lines
    return lines[0]


@pytest.mark.parametrize("value", ["nonsense", "127.0.0.1:99999", "127.0.0.1:0", "256.1.1.1:8080",
                                   "203.0.113.7:8080"])
def test_an_http_address_that_cannot_work_is_refused_at_start(cli_env, value) -> None:
    Path(cli_env["MONITOR_CONFIG"]).write_text("sources: []\n")
    line = _one_line_refusal(value, cli_env)
    assert value in line


def test_a_port_in_use_is_one_line_at_start(cli_env) -> None:
    Path(cli_env["MONITOR_CONFIG"]).write_text("sources: []\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _one_line_refusal(f"127.0.0.1:{port}", cli_env)
    assert "in use" in line


# Every GET route, with a place for a path segment and a query value; and what goes there.
GET_ROUTES = {
    "feed": "/feeds/{segment}.atom?token={value}",
    "unsubscribe": "/unsubscribe/{segment}?all={value}",
    "healthz": "/healthz?probe={value}",
    "metrics": "/metrics?probe={value}",
    "courtlistener-hook": "/hooks/courtlistener/{segment}?token={value}",
}
MALFORMED = {
    "nul": "%00",
    "nul-inside": "bivens%00x",
    "bad-percent": "%zz",
    "lone-percent": "%",
    "invalid-utf8": "%c3%28",
    "overlong-utf8": "%c0%af",
    "lone-surrogate": "%ed%a0%80",
    "overlong": "b" * 60_000,
    "unknown-token": "no-such-token-0123456789",
    "raw-byte-ff": "\xff",
    "raw-latin1": "caf\xe9",
    "raw-nul": "\x00",
    "raw-control": "\x1b[31m",
    "dot-dot": "..%2f..%2fetc",
    "many-params": "x&" * 5000 + "y",
}


def _status_of_raw_get(base: str, target: str) -> int:
    """The status of ``GET target`` sent byte for byte (an HTTP client would re-encode it)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("latin-1"))
        answer = b""
        while b"\r\n" not in answer and (chunk := conn.recv(4096)):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize("route", GET_ROUTES.values(), ids=GET_ROUTES.keys())
@pytest.mark.parametrize("bad", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_path_or_query_on_any_get_route_is_a_4xx(db, web, route, bad) -> None:
    """On SQLite and PostgreSQL: a malformed path segment or token is refused as the client's
    fault (4xx: the route's own answer, or uvicorn's 400 for bytes HTTP does not allow), never
    a 500 nor a dropped connection; a query the route does not read (``/healthz?probe=…``, an
    unsubscribe link's ``all=``) is ignored or refused, never a 500."""
    sub = seed_watchlist(db)
    base = str(web.base_url)
    if "{segment}" in route:
        assert 400 <= _status_of_raw_get(base, route.format(segment=bad, value="x")) < 500
    token = subscription(db, sub).unsubscribe_token or ""
    status = _status_of_raw_get(base, route.format(segment=token if "unsubscribe" in route else "bivens", value=bad))
    read = route.startswith(("/feeds", "/hooks"))  # the query's value is the token
    assert 400 <= status < 500 if read else status == 200 or 400 <= status < 500, status
