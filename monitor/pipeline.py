"""One poll of one source, top-down: fetch → parse → sanity check → store (upsert, versions,
changes, match, outbox) in one transaction. Delivery runs separately (``monitor.delivery.dispatcher``).

A failure at any step is recorded on that source and returned as a value; it never escapes
to stop the other sources.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from monitor.budget import Budgets
from monitor.config import AppConfig, config_hash
from monitor.db import Database
from monitor.errors import AuthError, BudgetExceeded, FetchError, InsanityError, MonitorError, ParseError
from monitor.fetch import DEFAULT_MAX_BYTES, CacheEntry, Fetcher, PollClient, public_url
from monitor.store.health import check_silence
from monitor.store.lease import Claim, LeaseKeeper, release_many
from monitor.models import HttpCache, Source
from monitor.redact import redact
from monitor.sanity import sanity_check
from monitor.sources import SOURCE_KINDS, FetchState, SourceConfig
from monitor.sources import Source as SourceKind
from monitor.sources.base import Fetched, Hashed
from monitor.store.items import (PollSummary, begin_writing, chunks, record_deferred, record_failure, record_unchanged,
                           record_unchanged_many, store_poll)

log = logging.getLogger(__name__)
T = TypeVar("T")

POLLS_IN_FLIGHT = 32
UNCHANGED_BATCH = 100
PollStart = tuple[FetchState, dict[str, CacheEntry], bool, str | None, bool]
PARSE_IN_PROCESS_BYTES = 16 * 1024  # smaller bodies parse faster than they pickle
POOL_AFTER = 16  # big bodies parsed in process before the worker pool starts: starting it costs ~0.8 s of CPU
PARSE_WORKERS = int(os.environ.get("MONITOR_PARSE_WORKERS") or os.cpu_count() or 1)


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
                         "url": public_url(url) if url else None,  # shown as evidence: never with a key in it
                         "config_hash": config_hash(sc)}
    with db.engine.begin() as conn:
        stored = {row.id: row._asdict() for row in conn.execute(
            select(c.id, c.kind, c.enabled, c.title, c.url, c.config_hash))}
        new = [dict(values, id=sid) for sid, values in wanted.items() if sid not in stored]
        changed = [values | {"id": sid} for sid, values in wanted.items()
                   if sid in stored and any(stored[sid][k] != v for k, v in values.items())]
        changed += [row | {"enabled": False} for sid, row in stored.items() if sid not in wanted and row["enabled"]]
        if new:
            conn.execute(insert(Source.__table__), new)
        if changed:  # bind names must differ from the columns they set
            conn.execute(update(Source.__table__).where(c.id == bindparam("_id")).values(
                {k: bindparam(f"_{k}") for k in ("kind", "enabled", "title", "url", "config_hash")}),
                [{f"_{k}": v for k, v in row.items()} for row in changed])


def auth_fingerprint(config: SourceConfig, source: SourceKind) -> str:
    """What a 401/403 was about: the source's config and its keys. A change to either lifts the block."""
    keys = "\0".join(os.environ.get(name, "") for name in source.required_env)
    return hashlib.sha256(f"{config_hash(config)}\0{keys}".encode()).hexdigest()


class Pipeline:
    """Polls sources concurrently; database work runs on one writer thread so the event loop
    keeps fetching while a big poll is being stored, and SQLite never sees two writers.
    Large bodies are parsed in a process pool so parsing uses every core."""

    def __init__(self, db: Database, config: AppConfig, fetcher: Fetcher, *,
                 concurrency: dict[str, int] | None = None, parse_workers: int | None = None) -> None:
        """``concurrency`` and ``parse_workers`` are set when this process polls one share of the
        sources beside others (``monitor.cores``): its part of shared providers' connection
        limits, and parsing in process."""
        self.db = db
        self.config = config
        self.fetcher = fetcher
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-writer")
        fetcher.budgets = Budgets(db, config.providers, run_db=self.run_db, concurrency=concurrency)
        self.parse_workers = PARSE_WORKERS if parse_workers is None else parse_workers
        self._parsers: ProcessPoolExecutor | None = None
        self._big_parses = 0
        self._running: set[str] = set()
        self.leases = LeaseKeeper(db, self.run_db)
        self._unchanged_batch: list[tuple[str, int, dict[str, CacheEntry]]] = []
        self._prefetched: dict[str, PollStart] = {}
        self._stores: deque[_StoreJob] = deque()  # polls waiting for the writer's next transaction
        # One bound for every poll of this process (poll_all and the service's jobs alike), no
        # larger than the connection pool: a request never waits for a connection inside its timeout.
        self._gate = asyncio.Semaphore(min(POLLS_IN_FLIGHT, fetcher.max_connections))

    def reconfigure(self, config: AppConfig) -> None:
        self.config = config
        self.fetcher.budgets.configure(config.providers)

    def close(self) -> None:
        self.writer.shutdown(wait=True)
        if self._parsers is not None:
            self._parsers.shutdown(wait=True, cancel_futures=True)

    async def run_db(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.writer, fn)

    async def _parse(self, source: SourceKind, fetched: Fetched) -> list[Hashed]:
        """Parse in a worker process when the body is big enough to repay the pickling and there
        are enough of them to repay starting the pool (a run where 1% of feeds changed has not)."""
        size = sum(len(p.body) for p in fetched.pages)
        if self.parse_workers < 2 or size < PARSE_IN_PROCESS_BYTES:
            return parse_checked(source, fetched)
        if self._parsers is None and self._big_parses < POOL_AFTER:
            self._big_parses += 1
            return parse_checked(source, fetched)
        if self._parsers is None:
            self._parsers = ProcessPoolExecutor(max_workers=self.parse_workers)
        return await asyncio.get_running_loop().run_in_executor(self._parsers, parse_checked, source, fetched)

    def _load_states(self, source_ids: list[str]) -> dict[str, PollStart]:
        """What each poll starts from (watermark, validators, baseline, auth block, open incident),
        read with two queries for any number of sources."""
        c, h = Source.__table__.c, HttpCache.__table__.c
        out: dict[str, PollStart] = {sid: (FetchState(sid), {}, True, None, False) for sid in source_ids}
        with self.db.engine.connect() as conn:
            for ids in chunks(source_ids):
                for row in conn.execute(select(c.id, c.watermark, c.baseline_done, c.auth_blocked, c.incident_open)
                                        .where(c.id.in_(ids))):
                    out[row.id] = (FetchState(row.id, row.watermark), {}, not row.baseline_done, row.auth_blocked,
                                   bool(row.incident_open))
                for row in conn.execute(select(h.source_id, h.url, h.etag, h.last_modified, h.body_hash)
                                        .where(h.source_id.in_(ids))):
                    out[row.source_id][1][row.url] = CacheEntry(row.etag, row.last_modified, row.body_hash)
        return out

    async def poll_all(self, source_ids: list[str] | None = None) -> list[PollSummary]:
        """Poll every enabled source (``run --once``). Their leases are taken with one statement
        and handed back in batches with the unchanged polls' health, so an unchanged poll costs
        no transaction of its own; at most ``POLLS_IN_FLIGHT`` run at a time, so memory stays
        flat with 10,000 sources."""
        configs = self.config.enabled_sources(source_ids)
        mine = [c.id for c in configs if c.id not in self._running]
        self._running.update(mine)
        try:
            async with self.leases.hold_many(mine) as claims:
                won = [sid for sid in mine if claims[sid].won]
                self._prefetched.update(await self.run_db(lambda: self._load_states(won)))

                async def one(config: SourceConfig) -> PollSummary:
                    claim = claims.get(config.id)
                    if claim is None:
                        return _already_running(config.id)
                    if not claim.won:
                        return _leased(config.id, claim)
                    try:
                        async with self._gate:
                            return await self._poll(config)
                    finally:
                        if self.leases.done(config.id) >= UNCHANGED_BATCH:
                            await self.flush()

                results: list[tuple[int, PollSummary]] = []
                queue = iter(enumerate(configs))

                async def drain() -> None:
                    for index, config in queue:
                        results.append((index, await one(config)))

                try:  # a few drainers, not a task per source: 10,000 waiting tasks cost ~15 MB
                    await asyncio.gather(*(drain() for _ in range(min(POLLS_IN_FLIGHT, len(configs)))))
                    return [summary for _, summary in sorted(results, key=lambda pair: pair[0])]
                finally:
                    await self.flush()  # inside the leases: health is written before a source is let go
        finally:
            self._running.difference_update(mine)

    async def poll(self, config: SourceConfig) -> PollSummary:
        """Poll one source (the service's and the workers' path); never raises for a source's own failure."""
        if config.id in self._running:  # never two polls of one source at once
            return _already_running(config.id)
        self._running.add(config.id)
        try:
            async with self._gate, self.leases.hold(config.id) as claim:  # never two pollers across processes
                if not claim.won:
                    return _leased(config.id, claim)
                return await self._poll(config)
        finally:
            self._running.discard(config.id)
            if not self._running:  # the last poll out writes the batched unchanged results
                await self.flush()

    async def _poll(self, config: SourceConfig) -> PollSummary:
        source = build_source(config)
        missing = missing_env(source)
        if missing:
            return PollSummary(config.id, "skipped", error=f"set {', '.join(missing)} to enable this source")

        prefetched = self._prefetched.pop(config.id, None)
        state, cache, baseline, blocked, incident_open = prefetched or await self.run_db(
            lambda: self._load_states([config.id])[config.id])
        # a 401/403 was reported once already; asking again only burns goodwill
        if blocked is not None and blocked == auth_fingerprint(config, source):
            return PollSummary(config.id, "skipped", error="the provider refused our credentials (401/403); "
                               "fix the key or the source's config, then reload")
        client = PollClient(self.fetcher, config.id, cache=cache, provider=source.provider,
                            max_bytes=config.max_bytes or DEFAULT_MAX_BYTES)
        try:
            fetched = await source.fetch(client, state)
            if fetched.unchanged:
                return await self._unchanged(config, client, incident_open)
            records = await self._parse(source, fetched)
        except BudgetExceeded as exc:
            reason = redact(str(exc))
            log.info("source %s deferred: %s", config.id, reason)
            return await self.run_db(lambda: self._write(config, lambda s: record_deferred(
                s, config.id, reason, until=exc.until, requests=client.requests)))
        except AuthError as exc:
            log.error("source %s: %s. Not polling it again until its key or config changes.",
                      config.id, redact(str(exc)))
            return await self._fail(config, _describe(exc), client.requests,
                                    auth_blocked=auth_fingerprint(config, source))
        except (FetchError, ParseError, InsanityError, MonitorError) as exc:
            return await self._fail(config, _describe(exc), client.requests)
        except Exception as exc:  # a parser bug must not take the service down
            log.exception("source %s: unexpected error", config.id)
            return await self._fail(config, f"internal error: {type(exc).__name__}: {exc}", client.requests)

        baseline = baseline and not config.alert_on_first_poll
        try:
            return await self._store(config, lambda s: store_poll(
                s, config.id, records, baseline=baseline, requests=client.requests,
                cache_updates=client.updated, watermark=fetched.watermark))
        except Exception as exc:
            log.exception("source %s: storing the poll failed", config.id)
            return await self._fail(config, f"storing failed: {type(exc).__name__}: {exc}", client.requests)

    async def _unchanged(self, config: SourceConfig, client: PollClient, incident_open: bool) -> PollSummary:
        """Health only. When the silence check cannot change anything (no open incident, no
        ``expect_items_within``) the poll joins a batch written with one statement (group commit)."""
        if incident_open or config.expect_items_within:
            return await self.run_db(lambda: self._write(config, lambda s: record_unchanged(
                s, config.id, requests=client.requests, cache_updates=client.updated)))
        self._unchanged_batch.append((config.id, client.requests, client.updated))
        if len(self._unchanged_batch) >= UNCHANGED_BATCH:
            await self.flush()
        return PollSummary(config.id, "unchanged", requests=client.requests)

    async def flush(self) -> None:
        """Write the batched unchanged polls and release the leases of finished ``poll_all`` polls,
        in one transaction."""
        batch, self._unchanged_batch = self._unchanged_batch, []
        released = self.leases.take_done()
        if batch or released:
            def write() -> None:
                with self.db.engine.begin() as conn:
                    if batch:
                        record_unchanged_many(conn, batch)
                    release_many(conn, released, self.leases.owner)

            await self.run_db(write)
        self._running.difference_update(released)

    def _write(self, config: SourceConfig, fn: Callable[[Session], PollSummary]) -> PollSummary:
        """Record the poll, then the silent-source check, in one transaction."""
        with self.db.session() as session:
            return self._record(session, config, fn)

    def _record(self, session: Session, config: SourceConfig, fn: Callable[[Session], PollSummary]) -> PollSummary:
        summary = fn(session)
        check_silence(session, config.id, config, failures_threshold=self.config.defaults.alert_after_failures)
        return summary

    async def _store(self, config: SourceConfig, fn: Callable[[Session], PollSummary]) -> PollSummary:
        """Have the writer store a poll: it stores every poll queued by then in one transaction,
        each under a savepoint (group commit: one commit and one transaction's set-up for all)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[PollSummary] = loop.create_future()
        self._stores.append(_StoreJob(config, fn, future))
        await self.run_db(lambda: self._write_stores(loop))
        return await future

    def _write_stores(self, loop: asyncio.AbstractEventLoop) -> None:
        """Store the queued polls (run by the writer); each result is handed back after the commit."""
        jobs: list[_StoreJob] = []
        while self._stores:
            jobs.append(self._stores.popleft())
        if not jobs:  # an earlier call stored them
            return
        for job, result in zip(jobs, self.write_many([(job.config, job.fn) for job in jobs])):
            loop.call_soon_threadsafe(_settle, job.future, result)

    def write_many(self, jobs: list[tuple[SourceConfig, Callable[[Session], PollSummary]]]
                   ) -> list[PollSummary | Exception]:
        """Each poll's summary or its error, after one commit for all. A poll that fails is rolled
        back to its savepoint, leaving the others' writes in place, then tried once more in a
        transaction of its own, as is every poll should the commit fail: a poll stored with
        others never fails where it would have been stored alone."""
        if len(jobs) == 1:
            return [_attempt(functools.partial(self._write, *jobs[0]))]
        results: list[PollSummary | Exception] = []
        try:
            with self.db.session() as session:
                begin_writing(session)
                for config, fn in jobs:
                    try:
                        with session.begin_nested():
                            results.append(self._record(session, config, fn))
                    except Exception as exc:  # noqa: BLE001 -- this poll's failure, tried again below
                        results.append(exc)
        except Exception:  # noqa: BLE001 -- every poll is tried again below
            log.warning("committing %d polls together failed; writing them one by one", len(jobs), exc_info=True)
            results = [RuntimeError("not committed")] * len(jobs)
        return [_attempt(functools.partial(self._write, config, fn)) if isinstance(result, Exception) else result
                for (config, fn), result in zip(jobs, results)]

    async def _fail(self, config: SourceConfig, error: str, requests: int, *,
                    auth_blocked: str | None = None) -> PollSummary:
        error = redact(error)
        if auth_blocked is None:
            log.warning("source %s failed: %s", config.id, error)
        return await self.run_db(lambda: self._write(config, lambda s: record_failure(
            s, config.id, error, requests=requests, auth_blocked=auth_blocked)))


@dataclass
class _StoreJob:
    config: SourceConfig
    fn: Callable[[Session], PollSummary]
    future: asyncio.Future[PollSummary]


def _attempt(fn: Callable[[], PollSummary]) -> PollSummary | Exception:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 -- handed to the poll, which records it as its failure
        return exc


def _settle(future: asyncio.Future[PollSummary], result: PollSummary | Exception) -> None:
    if future.done():  # the poll was cancelled while waiting: its result was committed all the same
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)


def _already_running(source_id: str) -> PollSummary:
    return PollSummary(source_id, "skipped", error="a poll of this source is already running")


def _leased(source_id: str, claim: Claim) -> PollSummary:
    return PollSummary(source_id, "skipped", error=f"leased by {claim.owner} until {claim.until}")


def _describe(exc: Exception) -> str:
    prefix = {AuthError: "auth", ParseError: "parse", InsanityError: "sanity"}.get(type(exc), "fetch")
    if isinstance(exc, FetchError) and not isinstance(exc, AuthError):
        prefix = "fetch"
    return f"{prefix}: {exc}"


def parse_checked(source: SourceKind, fetched: Fetched) -> list[Hashed]:
    """Parse, sanity-check, snapshot and hash: everything before the store that needs no database,
    in one call so a parse worker does all of it."""
    records = source.parse(fetched)
    sanity_check(records, source_id=source.config.id)
    return [Hashed.of(r) for r in records]
