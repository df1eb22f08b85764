"""The long-running service: polls on schedule, serves /healthz, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import httpx
import pytest

from tests.cluster import wait_for
from tests.conftest import free_port, run_cli
from tests.fakes.http_server import HttpServer, Reply
from tests.forked import cli_process
from tests.test_pipeline import rss


def test_service_polls_serves_healthz_and_stops_on_sigterm(feeds: HttpServer, cli_env, tmp_path):
    feeds.set("/a.xml", rss(("a1", "One")))
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        "defaults:\n  interval: 1h\n  jitter: 1s\nsources:\n"
        f"  - id: a\n    kind: rss\n    url: {feeds.url('/a.xml')}\n"
    )
    port = free_port()

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json() == {"status": "ok"}
        except httpx.HTTPError:
            return False

    log = tmp_path / "service.log"
    with cli_process(["run", "--http", f"127.0.0.1:{port}"], cli_env, stderr=str(log)) as proc:
        assert wait_for(healthy), "GET /healthz never answered ok"
        assert wait_for(lambda: feeds.counts["/a.xml"] >= 1), "the source was never polled"
        proc.terminate()
        proc.join(40)
    assert proc.exitcode == 0, log.read_text()
    items = run_cli(["items", "list", "--json"], cli_env)
    assert [i["key"] for i in json.loads(items.stdout)] == ["rss:a:a1"]


def test_json_log_stays_json_when_the_http_endpoint_gets_a_malformed_request(feeds: HttpServer, cli_env, tmp_path):
    """``--log-format json`` is one JSON object a line for a log collector, the HTTP server's lines too: a
    port scanner's or a probe's malformed request (before: uvicorn logged ``WARNING:  Invalid HTTP request
    received.`` as plain text with its own handler, past the JSON formatter and the secret masking)."""
    feeds.set("/a.xml", rss(("a1", "One")))
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - id: a\n    kind: rss\n    url: {feeds.url('/a.xml')}\n")
    port = free_port()
    log = tmp_path / "service.log"

    def answered(raw: bytes) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(raw)
                return conn.recv(100).startswith(b"HTTP/1.1 400")
        except OSError:
            return False

    with cli_process(["run", "--http", f"127.0.0.1:{port}", "--log-format", "json"], cli_env,
                     stderr=str(log)) as proc:
        assert wait_for(lambda: answered(b"GARBAGE /x\r\n\r\n")), log.read_text()
        assert wait_for(lambda: "Invalid HTTP request" in log.read_text()), log.read_text()
        proc.terminate()
        proc.join(40)
    assert proc.exitcode == 0, log.read_text()
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(e["logger"].startswith("uvicorn") and "Invalid HTTP request" in e["message"] for e in entries), entries


def test_sigterm_during_a_hung_poll_says_what_it_left_unfinished(feeds: HttpServer, cli_env, tmp_path):
    """A source that never answers holds its poll past the shutdown grace (MONITOR_SHUTDOWN_GRACE,
    here 1 s): the service stops with one warning naming the unfinished poll, and no traceback.
    Before: APScheduler logged ``Job "Service.poll_job" raised an exception`` with a CancelledError
    traceback at ERROR, and nothing said which source was left."""
    release = threading.Event()

    def hangs(_request: object) -> Reply:
        release.wait(60)
        return Reply(200, rss(("a1", "One")))

    feeds.route("/hang.xml", hangs)
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        "defaults:\n  interval: 1h\n  jitter: 1s\nsources:\n"
        f"  - id: stuck\n    kind: rss\n    url: {feeds.url('/hang.xml')}\n"
    )
    cli_env["MONITOR_SHUTDOWN_GRACE"] = "1s"
    log = tmp_path / "service.log"
    try:
        with cli_process(["run"], cli_env, stderr=str(log)) as proc:
            assert feeds.wait_requests(1, timeout=30), "the source was never polled"
            proc.terminate()
            proc.join(60)
    finally:
        release.set()
    stderr = log.read_text()
    assert proc.exitcode == 0, stderr
    assert "Traceback" not in stderr and " ERROR " not in stderr, stderr
    assert "stopped after 1 s with the poll of stuck unfinished (polled again at the next start)" in stderr


@pytest.mark.parametrize(("variable", "value", "args"), [
    ("MONITOR_SHUTDOWN_GRACE", "10 seconds", ["run"]),  # found when the service starts, not when it stops
    ("MONITOR_POLL_LEASE", "2 minutes", ["run", "--once"]),
])
def test_a_bad_duration_setting_stops_the_start_with_one_line(cli_env, tmp_path, variable, value, args):
    """A typo in a duration setting is one error line naming it, not a traceback."""
    Path(cli_env["MONITOR_CONFIG"]).write_text("sources:\n  - id: down\n    kind: rss\n    url: http://127.0.0.1:9/x\n")
    cli_env[variable] = value
    result = run_cli(args, cli_env)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"error: {variable}: invalid duration '{value}' "
                                     "(expected e.g. 30s, 15m, 1h, 1d, 1h30m)")


def test_a_bad_private_urls_list_stops_the_pass_with_one_line_and_fails_no_source(cli_env, db, tmp_path):
    """A typo in MONITOR_ALLOW_PRIVATE_URLS is the deployment's mistake, not the sources': one error
    line at the start, and no source recorded failing for it (before: every poll failed with it,
    counting failures towards incidents and admin notices)."""
    Path(cli_env["MONITOR_CONFIG"]).write_text("sources:\n  - id: down\n    kind: rss\n    url: http://127.0.0.1:9/x\n")
    cli_env["MONITOR_ALLOW_PRIVATE_URLS"] = "10.0.0.0/8;192.168.1.5"
    result = run_cli(["run", "--once"], cli_env)
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: MONITOR_ALLOW_PRIVATE_URLS='10.0.0.0/8;192.168.1.5': expected 1, "
                                     "or addresses and networks separated by commas (e.g. 10.20.0.0/16,192.168.1.5)")
    status = json.loads(run_cli(["status", "--json"], cli_env | {"MONITOR_ALLOW_PRIVATE_URLS": "1"}).stdout)
    assert [source["consecutive_failures"] for source in status] in ([], [0])
