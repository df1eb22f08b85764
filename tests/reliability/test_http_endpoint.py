"""The HTTP endpoint (``monitor run --http``) under requests a probe sends: HEAD and previews of
an unsubscribe link, nested JSON, NUL in a path, and listen addresses that cannot work."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor.web import create_app
from tests.alerting import seed_watchlist, subscription
from tests.conftest import run_cli_process, serve_asgi

HOOK_SECRET = "hook-secret-for-tests-0123456789"


@pytest.fixture
def web(db, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """The service's app served by uvicorn on a local port, with a plain HTTP client."""
    monkeypatch.setenv("MONITOR_HOOK_SECRET", HOOK_SECRET)
    with serve_asgi(create_app(db)) as base, httpx.Client(base_url=base) as client:
        yield client


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


def _one_line_refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --http") and "Traceback" not in result.stderr, lines
    return lines[0]


@pytest.mark.parametrize("value", ["nonsense", "127.0.0.1:99999", "127.0.0.1:0", "256.1.1.1:8080",
                                   "203.0.113.7:8080"])
def test_an_http_address_that_cannot_work_is_refused_at_start(cli_env, value) -> None:
    Path(cli_env["MONITOR_CONFIG"]).write_text("sources: []\n")
    line = _one_line_refusal(run_cli_process(["run", "--http", value], cli_env, timeout=60))
    assert value in line


def test_a_port_in_use_is_one_line_at_start(cli_env) -> None:
    Path(cli_env["MONITOR_CONFIG"]).write_text("sources: []\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _one_line_refusal(run_cli_process(["run", "--http", f"127.0.0.1:{port}"], cli_env, timeout=60))
    assert "in use" in line
