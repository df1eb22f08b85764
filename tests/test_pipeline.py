"""The foundation's promises, end to end: poll a real local feed, store every version, alert once."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor import pipeline as pipeline_module
from monitor.config import load_config
from monitor.db import Database
from monitor.drivers.service import run_once
from monitor.fetch import Fetcher
from monitor.models import Change, Delivery, Item, ItemVersion, Source, Subscription, Watchlist
from monitor.pipeline import Pipeline, PollSummary, sync_sources
from monitor.sources import SourceConfig
from tests.conftest import run_cli
from tests.fakes.http_server import HttpServer, Reply, Request


def rss(*entries: tuple[str, str] | tuple[str, str, str]) -> str:
    items = "".join(
        f"<item><guid>{e[0]}</guid><title>{e[1]}</title><link>https://example.org/{e[0]}</link>"
        f"<description>{e[2] if len(e) > 2 else ''}</description>"
        f"<pubDate>Mon, 02 Feb 2026 10:00:00 GMT</pubDate></item>"
        for e in entries
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Opinions</title>{items}</channel></rss>'


def write_config(path: Path, feeds: HttpServer, *ids: str, extra: str = "") -> Path:
    lines = ["sources:"]
    for sid in ids:
        lines += [f"  - id: {sid}", "    kind: rss", f"    url: {feeds.url('/' + sid + '.xml')}"]
        if extra:
            lines.append(f"    {extra}")
    path.write_text("\n".join(lines) + "\n")
    return path


def subscribe(db: Database, slack: HttpServer, query: str = "bivens") -> int:
    with db.session() as s:
        wl = Watchlist(name="bivens", query=query)
        s.add(wl)
        s.flush()
        sub = Subscription(watchlist_id=wl.id, channel="slack", target="slack:" + slack.url())
        s.add(sub)
        s.flush()
        return sub.id


def poll(db: Database, config: Path) -> object:
    return asyncio.run(run_once(db, load_config(config), wait_limit=3))


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_first_poll_is_a_baseline_then_new_entry_alerts_once(db, feeds, slack, tmp_path):
    feeds.set("/opinions.xml", rss(("a1", "Bivens claim dismissed"), ("a2", "FTCA ruling")))
    config = write_config(tmp_path / "sources.yaml", feeds, "opinions")
    subscribe(db, slack)

    result = poll(db, config)
    assert result.polls[0].baseline and result.polls[0].new == 2
    assert count(db, Item) == 2 and count(db, Change) == 0 and slack.requests == []

    feeds.set("/opinions.xml", rss(("a3", "New Bivens opinion"), ("a1", "Bivens claim dismissed"),
                                   ("a2", "FTCA ruling")))
    result = poll(db, config)
    assert result.polls[0].new == 1
    assert len(slack.requests) == 1
    body = slack.requests[0].json()
    assert "New Bivens opinion" in body["text"]
    assert any(b["type"] == "header" for b in body["blocks"])

    # Same feed again: nothing new, nothing sent, no versions.
    versions = count(db, ItemVersion)
    poll(db, config)
    assert len(slack.requests) == 1 and count(db, ItemVersion) == versions


def test_edited_entry_creates_a_version_and_a_field_change(db, feeds, slack, tmp_path):
    feeds.set("/opinions.xml", rss(("a1", "Bivens claim", "first summary")))
    config = write_config(tmp_path / "sources.yaml", feeds, "opinions")
    poll(db, config)
    feeds.set("/opinions.xml", rss(("a1", "Bivens claim", "amended summary")))
    poll(db, config)
    with db.session() as s:
        item = s.scalar(select(Item))
        assert item.version == 2 and [v.version for v in item.versions] == [1, 2]
        change = s.scalar(select(Change))
        assert (change.type, change.field, change.old, change.new) == ("field", "summary", "first summary",
                                                                       "amended summary")


def test_vanished_entry_is_not_a_deletion(db, feeds, tmp_path):
    feeds.set("/opinions.xml", rss(("a1", "One"), ("a2", "Two")))
    config = write_config(tmp_path / "sources.yaml", feeds, "opinions")
    poll(db, config)
    feeds.set("/opinions.xml", rss(("a2", "Two")))
    poll(db, config)
    assert count(db, Item) == 2 and count(db, Change) == 0


def test_alert_on_first_poll_opt_in(db, feeds, slack, tmp_path):
    feeds.set("/opinions.xml", rss(("a1", "Bivens one"), ("a2", "Bivens two")))
    config = write_config(tmp_path / "sources.yaml", feeds, "opinions", extra="alert_on_first_poll: true")
    subscribe(db, slack)
    poll(db, config)
    assert len(slack.requests) == 1  # grouped: one message for the poll
    assert "2 changes" in slack.requests[0].json()["text"]


def test_429_then_200_delivers_once(db, feeds, slack, tmp_path):
    feeds.set("/opinions.xml", rss(("a1", "Other")))
    config = write_config(tmp_path / "sources.yaml", feeds, "opinions")
    subscribe(db, slack)
    poll(db, config)
    feeds.set("/opinions.xml", rss(("a2", "Bivens news"), ("a1", "Other")))
    slack.queue(429, "rate_limited", {"Retry-After": "1"})
    poll(db, config)
    assert len(slack.requests) == 2  # the 429, then the retry after one second
    with db.session() as s:
        delivery = s.scalar(select(Delivery))
        assert delivery.state == "sent" and delivery.attempts == 2
    poll(db, config)
    assert len(slack.requests) == 2


def test_permanent_404_fails_the_delivery_and_disables_the_subscription(db, feeds, slack, tmp_path):
    feeds.set("/opinions.xml", rss(("a1", "Other")))
    config = write_config(tmp_path / "sources.yaml", feeds, "opinions")
    sub_id = subscribe(db, slack)
    poll(db, config)
    feeds.set("/opinions.xml", rss(("a2", "Bivens news"), ("a1", "Other")))
    slack.queue(404, "no_service")
    poll(db, config)
    assert len(slack.requests) == 1
    with db.session() as s:
        delivery = s.scalar(select(Delivery).where(Delivery.kind == "alert"))
        assert delivery.state == "failed" and "no_service" in delivery.last_error
        sub = s.get(Subscription, sub_id)
        assert not sub.enabled and "404" in sub.disabled_reason
    feeds.set("/opinions.xml", rss(("a3", "Bivens again"), ("a2", "Bivens news"), ("a1", "Other")))
    poll(db, config)
    assert len(slack.requests) == 1  # a disabled subscription is not hammered


def test_5xx_is_retried_not_failed(db, feeds, slack, tmp_path):
    feeds.set("/opinions.xml", rss(("a1", "Other")))
    config = write_config(tmp_path / "sources.yaml", feeds, "opinions")
    subscribe(db, slack)
    poll(db, config)
    feeds.set("/opinions.xml", rss(("a2", "Bivens news"), ("a1", "Other")))
    slack.queue(500, "rollup_error")
    poll(db, config)
    with db.session() as s:
        delivery = s.scalar(select(Delivery))
        assert delivery.state == "pending" and delivery.attempts == 1 and "500" in delivery.last_error


def test_broken_source_does_not_stop_the_others(db, feeds, slack, tmp_path):
    feeds.set("/good.xml", rss(("g1", "Bivens good")))
    feeds.set("/broken.xml", "internal error", status=500, content_type="text/plain")
    feeds.set("/garbage.xml", b"\x00\x01 not a feed at all", content_type="application/octet-stream")
    config = write_config(tmp_path / "sources.yaml", feeds, "good", "broken", "garbage")
    result = poll(db, config)
    outcomes = {p.source_id: p.outcome for p in result.polls}
    assert outcomes["good"] == "changed"
    assert outcomes["broken"] == "failed" and outcomes["garbage"] == "failed"
    errors = {p.source_id: p.error for p in result.polls}
    assert "500" in errors["broken"]
    assert count(db, Item) == 1


def test_a_feed_cut_off_mid_item_invents_no_entry(db, feeds, slack, tmp_path):
    whole = rss(("a1", "Bivens claim dismissed", "Docket 24-1"), ("a2", "Bivens appeal", "Docket 24-2"))
    feeds.set("/opinions.xml", whole)
    config = write_config(tmp_path / "sources.yaml", feeds, "opinions")
    subscribe(db, slack)
    poll(db, config)

    # A server that stops writing mid-document (a script timeout) still answers 200: the second
    # item has lost its guid, and read as it stands it would be a "new" opinion with another key.
    feeds.set("/opinions.xml", whole[: whole.index("<guid>a2")] + "<item><title>Bivens appeal</title>")
    result = poll(db, config)
    assert result.polls[0].new == 0
    feeds.set("/opinions.xml", whole)
    poll(db, config)
    assert count(db, Item) == 2 and count(db, Change) == 0 and slack.requests == []


def test_restart_resends_nothing(db_url, feeds, slack, tmp_path, cli_env):
    feeds.set("/opinions.xml", rss(("a1", "Other")))
    write_config(Path(cli_env["MONITOR_CONFIG"]), feeds, "opinions")
    assert run_cli(["run", "--once"], cli_env).returncode == 0
    assert run_cli(["watchlist", "add", "bivens", "--query", "bivens"], cli_env).returncode == 0
    assert run_cli(["subscribe", "bivens", "slack:" + slack.url()], cli_env).returncode == 0
    feeds.set("/opinions.xml", rss(("a2", "Bivens news"), ("a1", "Other")))
    first = run_cli(["run", "--once"], cli_env)
    assert first.returncode == 0, first.stderr
    assert "1 new" in first.stdout and len(slack.requests) == 1
    for _ in range(2):  # new processes, same database
        again = run_cli(["run", "--once"], cli_env)
        assert again.returncode == 0
    assert len(slack.requests) == 1
    changes = json.loads(run_cli(["changes", "list", "--json"], cli_env).stdout)
    assert [(c["item_key"], c["type"]) for c in changes] == [("rss:opinions:a2", "new")]
    items = json.loads(run_cli(["items", "list", "--json"], cli_env).stdout)
    assert {i["key"] for i in items} == {"rss:opinions:a1", "rss:opinions:a2"}
    assert {"key", "source", "kind", "title", "url", "status", "raw_status", "status_date", "first_seen",
            "last_changed"} <= set(items[0])


def test_run_once_exits_nonzero_only_when_every_source_failed(feeds, tmp_path, cli_env):
    feeds.set("/broken.xml", "nope", status=404, content_type="text/plain")  # not retried: no backoff to wait out
    write_config(Path(cli_env["MONITOR_CONFIG"]), feeds, "broken")
    result = run_cli(["run", "--once"], cli_env)
    assert result.returncode == 1 and "broken: FAILED" in result.stdout
    feeds.set("/ok.xml", rss(("x", "fine")))
    write_config(Path(cli_env["MONITOR_CONFIG"]), feeds, "broken", "ok")
    assert run_cli(["run", "--once"], cli_env).returncode == 0


class CountingFeeds(HttpServer):
    """Counts the requests in flight at once; each answer takes a moment, so polls overlap."""

    def __init__(self) -> None:
        super().__init__()
        self.guard = threading.Lock()
        self.in_flight = self.peak = 0

    def answer(self, request: Request) -> Reply:
        with self.guard:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(0.02)
            return super().answer(request)
        finally:
            with self.guard:
                self.in_flight -= 1


def test_polls_falling_due_together_never_exceed_one_bound(db, tmp_path, monkeypatch):
    """The service's jobs (``poll``) and a ``run --once`` pass (``poll_many``) share one bound on polls
    in flight, no larger than the connection pool, so no request waits for a connection inside its timeout."""
    monkeypatch.setattr(pipeline_module, "POLLS_IN_FLIGHT", 3)
    server = CountingFeeds()
    try:
        ids = [f"s{i:02d}" for i in range(24)]
        for sid in ids:
            server.set(f"/{sid}.xml", rss((f"{sid}-1", "One")))
        config = write_config(tmp_path / "sources.yaml", server, *ids)
        config.write_text("providers:\n  web:\n    concurrency: 100\n" + config.read_text())
        cfg = load_config(config)
        sync_sources(db, cfg)

        async def all_due_at_once() -> list[str]:
            async with Fetcher() as fetcher:
                pipeline = Pipeline(db, cfg, fetcher)
                once, *jobs = await asyncio.gather(pipeline.poll_many([cfg.get(sid) for sid in ids[:12]]),
                                                   *(pipeline.poll(cfg.get(sid)) for sid in ids[12:]))
            return [p.outcome for p in once + jobs]

        outcomes = asyncio.run(all_due_at_once())
    finally:
        server.close()
    assert outcomes == ["changed"] * 24 and sum(server.counts.values()) == 24
    assert server.peak <= 3


def test_a_source_whose_store_fails_is_recorded_failed_and_the_others_stored(db, feeds, tmp_path, monkeypatch):
    for sid in ("good1", "bad", "good2"):
        feeds.set(f"/{sid}.xml", rss((f"{sid}-1", "Bivens one"), (f"{sid}-2", "Two")))
    config = write_config(tmp_path / "sources.yaml", feeds, "good1", "bad", "good2")
    real = pipeline_module.store_poll

    def failing(session: Session, config: SourceConfig, *args: object, **kwargs: object) -> PollSummary:
        summary = real(session, config, *args, **kwargs)
        if config.id == "bad":
            raise RuntimeError("disk on fire")
        return summary

    monkeypatch.setattr(pipeline_module, "store_poll", failing)
    result = poll(db, config)
    outcomes = {p.source_id: (p.outcome, p.error) for p in result.polls}
    assert outcomes["good1"] == outcomes["good2"] == ("changed", None)
    assert outcomes["bad"][0] == "failed" and "disk on fire" in outcomes["bad"][1]
    with db.session() as s:
        assert {k.split(":")[1] for k in s.scalars(select(Item.key))} == {"good1", "good2"}
        bad = s.get(Source, "bad")
        assert bad.last_outcome == "failed" and bad.consecutive_failures == 1 and not bad.baseline_done
