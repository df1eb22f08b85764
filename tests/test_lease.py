"""The row lease on a source: one poller at a time, on SQLite as on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import select

from monitor.config import load_config
from monitor.db import Database
from monitor.drivers.service import run_once
from monitor.fetch import Fetcher
from monitor.models import Source, utcnow
from monitor.pipeline import Pipeline, sync_sources
from monitor.store.health import Outcome, record_success
from monitor.store.lease import acquire, due_when_free, kept, release, renew
from tests.fakes.http_server import HttpServer
from tests.test_pipeline import rss


def add_source(db: Database, source_id: str = "a") -> None:
    with db.session() as s:
        s.add(Source(id=source_id, kind="rss"))


def lease_of(db: Database, source_id: str = "a") -> tuple[str | None, dt.datetime | None]:
    with db.session() as s:
        owner, until = s.execute(select(Source.lease_owner, Source.lease_until).where(Source.id == source_id)).one()
        return owner, until


def test_one_owner_at_a_time_until_the_lease_expires(db: Database) -> None:
    add_source(db)
    now = utcnow()
    with db.engine.begin() as s:
        assert acquire(s, "a", "w1", 60, now).won
    with db.engine.begin() as s:
        other = acquire(s, "a", "w2", 60, now + dt.timedelta(seconds=30))
    assert not other.won and other.owner == "w1" and other.until == now + dt.timedelta(seconds=60)
    with db.engine.begin() as s:  # w1 died: after the expiry w2 gets it, and w1 can no longer renew
        assert acquire(s, "a", "w2", 60, now + dt.timedelta(seconds=61)).won
        assert not renew(s, "a", "w1", 60)
        release(s, "a", "w1")  # not w1's any more: a no-op
    assert lease_of(db)[0] == "w2"
    with db.engine.begin() as s:
        release(s, "a", "w2")
    assert lease_of(db) == (None, None)


def test_recording_a_poll_gives_back_only_the_pollers_own_lease(db: Database, tmp_path: Path) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text("sources:\n  - id: a\n    kind: rss\n    url: https://example.org/a.xml\n")
    source = load_config(config).sources[0]
    sync_sources(db, load_config(config))
    now = utcnow()
    with db.engine.begin() as s:  # w1's lease ran out in the middle of its poll and w2 took the source
        acquire(s, "a", "w1", 60, now - dt.timedelta(seconds=120))
        acquire(s, "a", "w2", 60, now)
        record_success(s, source, outcome=Outcome.UNCHANGED, requests=1, cache_updates={}, failures_threshold=3,
                       now=now, owner="w1")
    assert lease_of(db)[0] == "w2"
    with db.engine.begin() as s:
        record_success(s, source, outcome=Outcome.UNCHANGED, requests=1, cache_updates={}, failures_threshold=3,
                       now=now, owner="w2")
        assert s.scalar(select(Source.polls_total).where(Source.id == "a")) == 2  # both polls recorded
    assert lease_of(db) == (None, None)


def test_a_lost_poll_is_due_when_the_lease_ends(db: Database) -> None:
    add_source(db, "a")
    add_source(db, "free")
    with db.engine.begin() as s:
        claim = acquire(s, "a", "dead-worker", 90)
        due_when_free(s, "a")
        due_when_free(s, "free", leased_only=True)  # skipped for another reason: stays as scheduled
    with db.engine.begin() as s:
        assert s.scalar(select(Source.next_run_at).where(Source.id == "a")) == claim.until
        assert s.scalar(select(Source.next_run_at).where(Source.id == "free")) is None


def test_a_lease_is_kept_while_polling(db: Database) -> None:
    add_source(db)

    async def scenario() -> tuple[dt.datetime | None, dt.datetime | None]:
        with db.engine.begin() as conn:
            claim = acquire(conn, "a", "w1", 0.6)
        async with kept(db, "a", "w1", 0.6):
            assert claim.won
            await asyncio.sleep(0.5)  # past one renewal (every ttl/3)
            renewed = lease_of(db)[1]
        return claim.until, renewed

    first, renewed = asyncio.run(scenario())
    assert first is not None and renewed is not None and renewed > first


def test_a_leased_source_is_skipped_not_polled(db: Database, feeds: HttpServer, tmp_path: Path) -> None:
    feeds.set("/a.xml", rss(("a1", "One")))
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - id: a\n    kind: rss\n    url: {feeds.url('/a.xml')}\n")
    cfg = load_config(config)
    sync_sources(db, cfg)
    with db.engine.begin() as s:
        acquire(s, "a", "other-host:123:abc", 60)
    result = asyncio.run(run_once(db, cfg, wait_limit=0))
    assert [(p.outcome, "leased by other-host:123:abc" in (p.error or "")) for p in result.polls] == [("skipped", True)]
    assert feeds.counts["/a.xml"] == 0

    async def poll_after_release() -> str:
        with db.engine.begin() as s:
            release(s, "a", "other-host:123:abc")
        async with Fetcher() as fetcher:
            return (await Pipeline(db, cfg, fetcher).poll(cfg.sources[0])).outcome

    assert asyncio.run(poll_after_release()) == "changed"
    assert feeds.counts["/a.xml"] == 1 and lease_of(db) == (None, None)
