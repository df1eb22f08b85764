"""One poll of one source, top to bottom (``Pipeline.poll``); the drivers only decide *when*.
  1. start: take the source's row lease, read its watermark and validators (one transaction)
  2. fetch: ``source.fetch`` through a ``PollClient`` (conditional GETs, budgets); 304: go to 4
  3. parse: ``source.parse`` + sanity check: pure, in a thread only for a big body
  4. store: ONE transaction: items + versions (store.items) → diff (changes.diff) → match
     (changes.match) → outbox rows (outbox.enqueue) → health, validators, watermark, lease back
A failure at any step is recorded on its source and returned as a value; it stops no other poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from monitor import follow, urls
from monitor.budget import Budgets
from monitor.changes import events
from monitor.changes.diff import ChangeSpec, diff
from monitor.changes.match import compiled_watchlists, match_doc
from monitor.changes.query import MatchDoc
from monitor.config import AppConfig, config_hash
from monitor.db import Database
from monitor.errors import AuthError, BudgetExceeded, MonitorError, error_kind
from monitor.fetch import DEFAULT_MAX_BYTES, CacheEntry, Fetcher, PollClient
from monitor.models import Change, Delivery, Source, utcnow
from monitor.outbox.enqueue import deliveries, recipients
from monitor.redact import public_url, redact
from monitor.sanity import sanity_check
from monitor.sources import SOURCE_KINDS, SourceConfig
from monitor.sources import Source as SourceKind
from monitor.sources.base import Fetched, ItemRecord
from monitor.store import health, items, lease
from monitor.store.health import Outcome

log = logging.getLogger(__name__)

POLLS_IN_FLIGHT = 32  # polls of one process at a time (never more than the HTTP connection pool)
PARSE_IN_THREAD_BYTES = 256 * 1024  # a bigger body parses off the event loop, which keeps fetching


@dataclass
class PollSummary:
    """What one poll did, as ``run --once`` reports it."""

    source_id: str
    outcome: Outcome
    seen: int = 0
    new: int = 0
    changed: int = 0
    alerts: int = 0
    baseline: bool = False
    error: str | None = None
    requests: int = 0
    poll_id: int | None = None
    change_ids: list[int] = field(default_factory=list)
    polled_elsewhere: bool = False  # skipped because another poller holds the source: it is still watched


def build_source(config: SourceConfig) -> SourceKind:
    return SOURCE_KINDS[config.kind](config)


def missing_env(source: SourceKind) -> list[str]:
    return [name for name in source.required_env if not os.environ.get(name)]


def sync_sources(db: Database, config: AppConfig) -> None:
    """Make the sources table match sources.yaml (rows are kept for removed sources: history stays).

    Reads only the columns it compares and writes only the rows that differ, so a start with an
    unchanged sources.yaml costs one SELECT.
    """
    c = Source.__table__.c
    wanted: dict[str, dict[str, object]] = {}
    for sc in config.sources:
        url = getattr(sc, "url", None) or getattr(sc, "base_url", None)
        wanted[sc.id] = {"kind": sc.kind, "enabled": sc.enabled, "title": sc.title,
                         "url": public_url(url) if url else None,  # shown as evidence: no keys
                         "config_hash": config_hash(sc)}
    with db.engine.begin() as conn:
        stored = {row.id: row._asdict() for row in conn.execute(
            select(c.id, c.kind, c.enabled, c.title, c.url, c.config_hash))}
        new = [dict(values, id=sid) for sid, values in wanted.items() if sid not in stored]
        changed = [values | {"id": sid} for sid, values in wanted.items()
                   if sid in stored and any(stored[sid][k] != v for k, v in values.items())]
        changed += [row | {"enabled": False} for sid, row in stored.items()
                    if sid not in wanted and row["enabled"]]
        if new:
            conn.execute(insert(Source), new)
        if changed:  # bind names must differ from the columns they set
            conn.execute(update(Source).where(c.id == bindparam("_id")).values(
                {k: bindparam(f"_{k}") for k in ("kind", "enabled", "title", "url", "config_hash")}
            ),
                [{f"_{k}": v for k, v in row.items()} for row in changed])


def auth_fingerprint(config: SourceConfig, source: SourceKind) -> str:
    """What a 401/403 was about: the source's config and keys; a change of either lifts it."""
    keys = "\0".join(os.environ.get(name, "") for name in source.required_env)
    return hashlib.sha256(f"{config_hash(config)}\0{keys}".encode()).hexdigest()


class Pipeline:
    """Polls sources for one process: the service's jobs, the workers' tasks and ``run --once``."""

    def __init__(self, db: Database, config: AppConfig, fetcher: Fetcher) -> None:
        self.db = db
        self.config = config
        self.fetcher = fetcher
        fetcher.budgets = Budgets(db, config.providers)
        self.owner = lease.new_owner()
        self.lease_ttl = lease.lease_seconds()
        urls.allowed_networks()  # a bad MONITOR_ALLOW_PRIVATE_URLS stops the start, not every poll
        self.alerts_queued = asyncio.Event()  # set when a poll commits alerts: deliver them now
        # one bound for every poll of this process, no larger than the connection pool: a request
        # never waits for a connection inside its timeout
        self._gate = asyncio.Semaphore(min(POLLS_IN_FLIGHT, fetcher.max_connections))

    def reconfigure(self, config: AppConfig) -> None:
        self.config = config
        self.fetcher.budgets.configure(config.providers)

    async def poll_many(self, configs: list[SourceConfig]) -> list[PollSummary]:
        """Poll ``configs`` (``run --once``), ``POLLS_IN_FLIGHT`` at a time; summaries in order.
        A few drainers share one queue, not a task per source: memory stays flat at 10,000."""
        results: dict[int, PollSummary] = {}
        queue: Iterator[tuple[int, SourceConfig]] = iter(enumerate(configs))

        async def drain() -> None:
            for index, config in queue:
                results[index] = await self.poll(config)

        await asyncio.gather(*(drain() for _ in range(min(POLLS_IN_FLIGHT, len(configs)))))
        return [results[index] for index in range(len(configs))]

    async def poll(self, config: SourceConfig) -> PollSummary:
        """Poll one source under its row lease; never raises for a source's own failure."""
        source = build_source(config)
        missing = missing_env(source)
        if missing:
            error = f"set {', '.join(missing)} to enable this source"
            return PollSummary(config.id, Outcome.SKIPPED, error=error)
        async with self._gate:
            with self.db.engine.begin() as conn:
                claim = lease.acquire(conn, config.id, self.owner, self.lease_ttl)
                start = health.load_start(conn, config.id) if claim.won else None
            if start is None:
                error = f"a poll of it is running (leased by {claim.owner} until {claim.until})"
                return PollSummary(config.id, Outcome.SKIPPED, error=error, polled_elsewhere=True)
            try:
                async with lease.kept(self.db, config.id, self.owner, self.lease_ttl):
                    return await self._poll(config, source, start)
            except BaseException as exc:  # cancelled, or recording failed: the lease is still ours
                with contextlib.suppress(Exception), self.db.engine.begin() as conn:
                    lease.release(conn, config.id, self.owner)
                if not isinstance(exc, Exception):
                    raise
                log.exception("source %s: recording the poll failed", config.id)
                error = f"internal error: {type(exc).__name__}: {exc}"
                return PollSummary(config.id, Outcome.FAILED, error=error)

    async def _poll(self, config: SourceConfig, source: SourceKind, start: health.Start
                    ) -> PollSummary:
        if start.auth_blocked and start.auth_blocked == auth_fingerprint(config, source):
            # a 401/403 was reported once already; asking again only burns goodwill
            with self.db.engine.begin() as conn:
                lease.release(conn, config.id, self.owner)
            error = "the provider refused our credentials (401/403); fix the key or the config"
            return PollSummary(config.id, Outcome.SKIPPED, error=error + ", then reload")
        client = PollClient(self.fetcher, config.id, cache=start.cache, provider=source.provider,
                            max_bytes=config.max_bytes or DEFAULT_MAX_BYTES)
        try:
            fetched = await source.fetch(client, start.state)
            records = [] if fetched.unchanged else await self._parse(source, fetched)
        except BudgetExceeded as exc:
            reason, until = redact(str(exc)), exc.until
            log.info("source %s deferred: %s", config.id, reason)
            with self.db.engine.begin() as conn:
                health.record_deferred(conn, config, reason, until=until, requests=client.requests,
                                       now=utcnow(), failures_threshold=self.failures_threshold,
                                       owner=self.owner)
            return PollSummary(config.id, Outcome.DEFERRED, error=reason, requests=client.requests)
        except AuthError as exc:
            log.error("source %s: %s. Not polling it again until its key or config changes.",
                      config.id, redact(str(exc)))
            return self._fail(config, _describe(exc), client.requests,
                              auth_blocked=auth_fingerprint(config, source))
        except MonitorError as exc:  # a fetch, parse or sanity failure of this source
            return self._fail(config, _describe(exc), client.requests)
        except Exception as exc:  # a parser bug must not take the service down
            log.exception("source %s: unexpected error", config.id)
            error = f"internal error: {type(exc).__name__}: {exc}"
            return self._fail(config, error, client.requests)

        if fetched.unchanged:
            with self.db.engine.begin() as conn:
                health.record_success(conn, config, outcome=Outcome.UNCHANGED, requests=client.requests,
                                      cache_updates=client.updated, owner=self.owner,
                                      failures_threshold=self.failures_threshold, now=utcnow())
            return PollSummary(config.id, Outcome.UNCHANGED, requests=client.requests)
        baseline = start.first_poll and not config.alert_on_first_poll
        missed = redact(f"{'; '.join(fetched.missed)} (the rest was stored)") if fetched.missed else None
        if missed:
            log.warning("source %s failed in part: %s", config.id, missed)
        try:
            with self.db.session() as session:
                summary = store_poll(session, config, records, baseline=baseline, owner=self.owner,
                                     requests=client.requests, cache_updates=client.updated,
                                     watermark=fetched.watermark, missed=missed,
                                     failures_threshold=self.failures_threshold)
        except Exception as exc:
            log.exception("source %s: storing the poll failed", config.id)
            error = f"storing failed: {type(exc).__name__}: {exc}"
            return self._fail(config, error, client.requests)
        if summary.alerts:
            self.alerts_queued.set()
        return summary

    @property
    def failures_threshold(self) -> int:
        return self.config.defaults.alert_after_failures

    async def _parse(self, source: SourceKind, fetched: Fetched) -> list[ItemRecord]:
        if sum(len(page.body) for page in fetched.pages) > PARSE_IN_THREAD_BYTES:
            return await asyncio.to_thread(parse_checked, source, fetched)
        return parse_checked(source, fetched)

    def _fail(self, config: SourceConfig, error: str, requests: int, *,
              auth_blocked: str | None = None) -> PollSummary:
        error = redact(error)
        if auth_blocked is None:
            log.warning("source %s failed: %s", config.id, error)
        with self.db.engine.begin() as conn:
            health.record_failure(conn, config, error, requests=requests, auth_blocked=auth_blocked,
                                  failures_threshold=self.failures_threshold, now=utcnow(),
                                  owner=self.owner)
        return PollSummary(config.id, Outcome.FAILED, error=error, requests=requests)


def parse_checked(source: SourceKind, fetched: Fetched) -> list[ItemRecord]:
    records = source.parse(fetched)
    sanity_check(records, source_id=source.config.id)
    return records


def store_poll(session: Session, config: SourceConfig, records: list[ItemRecord], *,
               baseline: bool, requests: int = 0, owner: str | None = None,
               cache_updates: dict[str, CacheEntry] | None = None,
               watermark: str | None = None, failures_threshold: int = 3, missed: str | None = None,
               now: dt.datetime | None = None) -> PollSummary:
    """Step 4 in ``session``'s transaction (the pushed CourtListener events use it too): a version
    of each new or changed item, its changes, the alerts they fire, and the source's health.
    This is the transactional outbox: a crash at any point loses no change and duplicates none.
    ``missed``: what the poll could not get besides (a failure, though the rest is stored)."""
    now = now or utcnow()
    conn = session.connection()
    poll_id = health.start_poll(conn, config.id, now)
    written = items.upsert(conn, config.id, poll_id, records, now)
    follow.after_poll(session, config, records)  # a discovered bill a watchlist matches is followed from now on
    new = sum(w.old is None for w in written)
    outcome = Outcome.FAILED if missed else Outcome.CHANGED if written else Outcome.UNCHANGED
    summary = PollSummary(config.id, outcome, seen=len(records), new=new, changed=len(written) - new,
                          baseline=baseline, requests=requests, poll_id=poll_id, error=missed)
    found = [] if baseline else [(w, change) for w in written for change in diff(w.old, w.record)]
    if found:
        summary.change_ids = list(conn.execute(
            insert(Change).returning(Change.id, sort_by_parameter_order=True),
            [{"item_id": w.item_id, "version_id": w.version_id, "poll_id": poll_id,
              "type": change.type, "field": change.field, "old": change.old, "new": change.new,
              "detected_at": now}
             for w, change in found]).scalars())
        summary.alerts = enqueue(session, config.id, poll_id, found, summary.change_ids, now)
    health.record_success(conn, config, outcome=summary.outcome, requests=requests,
                          cache_updates=cache_updates or {}, failures_threshold=failures_threshold,
                          now=now, owner=owner, poll_id=poll_id, seen=summary.seen, new=new,
                          changed=summary.changed, baseline=baseline, watermark=watermark, missed=missed)
    return summary


def enqueue(session: Session, source_id: str, poll_id: int,
            found: list[tuple[items.Written, ChangeSpec]], change_ids: list[int],
            now: dt.datetime) -> int:
    """Outbox rows for the changes that fire a rule of a watchlist someone hears from; how many.

    A status move another provider already reported for the same identity is recorded as its
    confirmation and fires nothing (``monitor.changes.events``)."""
    conn = session.connection()
    verdicts = events.settle(session, source_id, [events.Observed(change_id, w.item_id, w.record, change)
                                                  for change_id, (w, change) in zip(change_ids, found)], now)
    subscribers = recipients(conn)
    watchlists = compiled_watchlists(conn, subscribers)
    rows: list[dict[str, object]] = []
    docs: dict[int, MatchDoc] = {}
    for change_id, (w, change) in zip(change_ids, found):
        verdict = verdicts.get(change_id)
        if verdict is not None and not verdict.alerts:
            continue
        doc = docs.get(w.item_id) or docs.setdefault(w.item_id, match_doc(w.record, source_id))
        for watchlist in watchlists:
            rule = watchlist.rule_for(verdict.spec if verdict and verdict.spec else change, doc)
            if rule is not None:
                hold = events.hold_until(watchlist.confirm, watchlist.confirm_timeout, verdict, change,
                                         now)
                rows += deliveries(change_id, watchlist, subscribers[watchlist.id], rule,
                                   group=f"p{poll_id}", now=now, hold_until=hold)
    if rows:
        conn.execute(insert(Delivery), rows)
    return len(rows)


def _describe(exc: Exception) -> str:
    return f"{error_kind(exc)}: {exc}"
