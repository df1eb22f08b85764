"""The service's scheduling: next run from the stored last poll, reload on SIGHUP and
``monitor reload`` (a broken file keeps the running config), secrets kept out of logs, and
``monitor status`` reporting deferred and failing sources."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import load_config
from monitor.drivers.service import Service
from monitor.models import Source, utcnow
from monitor.pipeline import sync_sources
from tests.cluster import wait_for
from tests.conftest import run_cli
from tests.fakes.http_server import HttpServer
from tests.forked import cli_process
from tests.test_pipeline import rss

FEED = rss(("a1", "One"))


def test_next_run_comes_from_the_stored_last_poll(db, tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("defaults:\n  interval: 1h\n  jitter: 5s\nsources:\n"
                    "  - id: old\n    kind: rss\n    url: http://127.0.0.1:9/a\n"
                    "  - id: fresh\n    kind: rss\n    url: http://127.0.0.1:9/b\n"
                    "  - id: nightly\n    kind: rss\n    url: http://127.0.0.1:9/c\n    cron: '0 3 * * *'\n")
    cfg = load_config(path)
    sync_sources(db, cfg)
    last = utcnow() - dt.timedelta(minutes=10)
    with db.session() as s:
        s.get(Source, "old").last_attempt_at = last
    service = Service(db, cfg)
    scheduler = AsyncIOScheduler(timezone=dt.UTC)
    service.schedule_sources(scheduler)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert jobs["poll:old"].next_run_time == last + dt.timedelta(hours=1)
    assert jobs["poll:fresh"].next_run_time <= utcnow() + dt.timedelta(seconds=6)
    assert jobs["poll:old"].max_instances == 1 and jobs["poll:old"].coalesce
    assert "cron" in str(jobs["poll:nightly"].trigger)


def test_sighup_and_reload_apply_a_good_config_and_keep_the_old_one_on_a_bad_one(feeds: HttpServer, cli_env,
                                                                                 tmp_path):
    feeds.set("/a.xml", FEED)
    feeds.set("/b.xml", FEED)
    config = Path(cli_env["MONITOR_CONFIG"])
    header = "defaults:\n  interval: 1h\n  jitter: 1s\nsources:\n"
    config.write_text(header + f"  - id: a\n    kind: rss\n    url: {feeds.url('/a.xml')}\n")
    log = tmp_path / "service.log"
    with cli_process(["run"], cli_env, stderr=str(log)) as proc:
        assert wait_for(lambda: feeds.counts["/a.xml"] >= 1), "source a was never polled"
        assert wait_for(lambda: config.with_name("monitor.pid").exists())
        config.write_text(header + "  - id: b\n    kind: rsss\n    url: x\n")
        refused = run_cli(["reload"], cli_env)
        assert refused.returncode == 1 and "sources.yaml:6" in refused.stderr
        os.kill(proc.pid, signal.SIGHUP)  # the service itself also refuses it
        assert wait_for(lambda: "reload rejected" in log.read_text())
        config.write_text(header + f"  - id: b\n    kind: rss\n    url: {feeds.url('/b.xml')}\n")
        done = run_cli(["reload"], cli_env)
        assert done.returncode == 0, done.stderr
        assert wait_for(lambda: feeds.counts["/b.xml"] >= 1), "the added source was never polled"
        proc.terminate()
        proc.join(40)
    stderr = log.read_text()
    assert proc.exitcode == 0, stderr
    assert "reload rejected" in stderr and "sources.yaml:6" in stderr and "unknown kind 'rsss'" in stderr
    assert "reloaded" in stderr
    assert not config.with_name("monitor.pid").exists()
    status = json.loads(run_cli(["status", "--json"], cli_env).stdout)
    assert {s["id"]: s["enabled"] for s in status} == {"a": False, "b": True}


def test_secrets_never_reach_the_logs(feeds: HttpServer, cli_env):
    key = "sekrit-key-0123456789"
    feeds.set("/k.xml", b"", status=500)
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - id: k\n    kind: rss\n    url: {feeds.url('/k.xml')}?api_key={key}\n")
    env = cli_env | {"LEGISCAN_API_KEY": key}
    result = run_cli(["run", "--once", "-v"], env)
    assert result.returncode == 1
    assert "HTTP 500" in result.stdout + result.stderr
    assert "HTTP Request: GET http://127.0.0.1" in result.stderr  # httpx logged the URL, redacted
    assert key not in result.stdout + result.stderr
    assert any(key in r.path for r in feeds.requests)  # it was really sent
    status = run_cli(["status", "--json"], env)
    assert status.returncode == 1 and key not in status.stdout
    assert json.loads(status.stdout)[0]["failing"] is True


def test_status_shows_deferred_polls_and_requests_today(feeds: HttpServer, cli_env):
    feeds.set("/a.xml", FEED)
    feeds.set("/b.xml", FEED)
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        "providers:\n  local:\n    hosts: [127.0.0.1]\n    per_hour: 1\nsources:\n"
        f"  - id: a\n    kind: rss\n    url: {feeds.url('/a.xml')}\n"
        f"  - id: b\n    kind: rss\n    url: {feeds.url('/b.xml')}\n")
    assert run_cli(["run", "--once"], cli_env).returncode == 0
    status = run_cli(["status", "--json"], cli_env)
    rows = {r["id"]: r for r in json.loads(status.stdout)}
    assert status.returncode == 0  # deferred is not failing
    deferred = [r for r in rows.values() if r["last_outcome"] == "deferred"]
    assert len(deferred) == 1 and "1 requests per hour spent" in deferred[0]["deferred_reason"]
    assert sum(r["requests_today"] for r in rows.values()) == 1
    table = run_cli(["status"], cli_env | {"COLUMNS": "200"})
    assert "deferred" in table.stdout


def test_reload_without_a_service_says_workers_are_restarted_instead(cli_env):
    """On a worker deployment there is no `monitor run` to reload: the error must not send the
    operator to start one beside the workers without saying that workers are restarted instead."""
    Path(cli_env["MONITOR_CONFIG"]).write_text("sources: []\n")
    result = run_cli(["reload"], cli_env)
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "start it with: monitor run (workers read sources.yaml when they start: restart them instead)")
