"""One poll of one source, top-down: fetch → parse → sanity check → store (upsert, versions,
changes, match, outbox) in one transaction. Delivery runs separately (``monitor.dispatcher``).

A failure at any step is recorded on that source and returned as a value; it never escapes
to stop the other sources.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import select

from monitor.config import AppConfig, config_hash
from monitor.db import Database
from monitor.errors import AuthError, FetchError, InsanityError, MonitorError, ParseError
from monitor.fetch import DEFAULT_MAX_BYTES, CacheEntry, Fetcher, PollClient, public_url
from monitor.models import Source
from monitor.redact import redact
from monitor.sanity import sanity_check
from monitor.sources import SOURCE_KINDS, BaseSource, FetchState, SourceConfig
from monitor.store import PollSummary, load_cache, record_failure, record_unchanged, store_poll

log = logging.getLogger(__name__)
T = TypeVar("T")


def build_source(config: SourceConfig) -> BaseSource:
    return SOURCE_KINDS[config.kind](config)


def missing_env(source: BaseSource) -> list[str]:
    return [name for name in source.required_env if not os.environ.get(name)]


def sync_sources(db: Database, config: AppConfig) -> None:
    """Make the sources table match sources.yaml (rows are kept for removed sources: history stays)."""
    with db.session() as session:
        rows = {s.id: s for s in session.scalars(select(Source))}
        for sc in config.sources:
            row = rows.get(sc.id)
            if row is None:
                row = Source(id=sc.id, kind=sc.kind, enabled=sc.enabled)
                session.add(row)
            row.kind, row.enabled, row.title = sc.kind, sc.enabled, sc.title
            url = getattr(sc, "url", None) or getattr(sc, "base_url", None)
            row.url = public_url(url) if url else None  # shown as evidence: never with a key in it
            row.config_hash = config_hash(sc)
        configured = {sc.id for sc in config.sources}
        for sid, row in rows.items():
            if sid not in configured:
                row.enabled = False


class Pipeline:
    """Polls sources concurrently; database work runs on one writer thread so the event loop
    keeps fetching while a big poll is being stored, and SQLite never sees two writers."""

    def __init__(self, db: Database, config: AppConfig, fetcher: Fetcher) -> None:
        self.db = db
        self.config = config
        self.fetcher = fetcher
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-writer")
        self._running: set[str] = set()

    def close(self) -> None:
        self.writer.shutdown(wait=True)

    async def _db(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.writer, fn)

    async def poll_all(self, source_ids: list[str] | None = None) -> list[PollSummary]:
        configs = [s for s in self.config.enabled_sources() if source_ids is None or s.id in source_ids]
        return list(await asyncio.gather(*(self.poll(c) for c in configs)))

    async def poll(self, config: SourceConfig) -> PollSummary:
        """Poll one source; never raises for a source's own failure."""
        if config.id in self._running:  # never two polls of one source at once
            return PollSummary(config.id, "skipped", error="a poll of this source is already running")
        self._running.add(config.id)
        try:
            return await self._poll(config)
        finally:
            self._running.discard(config.id)

    async def _poll(self, config: SourceConfig) -> PollSummary:
        source = build_source(config)
        missing = missing_env(source)
        if missing:
            return PollSummary(config.id, "skipped", error=f"set {', '.join(missing)} to enable this source")

        def load() -> tuple[FetchState, dict[str, CacheEntry], bool]:
            with self.db.session() as session:
                row = session.get(Source, config.id)
                cache = load_cache(session, config.id)
                baseline = not (row and row.baseline_done)
                return FetchState(config.id, row.watermark if row else None), cache, baseline

        state, cache, baseline = await self._db(load)
        client = PollClient(self.fetcher, config.id, cache=cache, max_bytes=config.max_bytes or DEFAULT_MAX_BYTES)
        try:
            fetched = await source.fetch(client, state)
            if fetched.unchanged:
                return await self._db(lambda: self._write(lambda s: record_unchanged(
                    s, config.id, requests=client.requests, cache_updates=client.updated)))
            records = await asyncio.to_thread(source.parse, fetched)
            sanity_check(records)
        except (FetchError, ParseError, InsanityError, MonitorError) as exc:
            return await self._fail(config.id, _describe(exc), client.requests)
        except Exception as exc:  # a parser bug must not take the service down
            log.exception("source %s: unexpected error", config.id)
            return await self._fail(config.id, f"internal error: {type(exc).__name__}: {exc}", client.requests)

        baseline = baseline and not config.alert_on_first_poll
        try:
            return await self._db(lambda: self._write(lambda s: store_poll(
                s, config.id, records, baseline=baseline, requests=client.requests,
                cache_updates=client.updated, watermark=fetched.watermark)))
        except Exception as exc:
            log.exception("source %s: storing the poll failed", config.id)
            return await self._fail(config.id, f"storing failed: {type(exc).__name__}: {exc}", client.requests)

    def _write(self, fn: Callable[..., PollSummary]) -> PollSummary:
        with self.db.session() as session:
            return fn(session)

    async def _fail(self, source_id: str, error: str, requests: int) -> PollSummary:
        error = redact(error)
        log.warning("source %s failed: %s", source_id, error)
        return await self._db(lambda: self._write(lambda s: record_failure(s, source_id, error, requests=requests)))


def _describe(exc: Exception) -> str:
    prefix = {AuthError: "auth", ParseError: "parse", InsanityError: "sanity"}.get(type(exc), "fetch")
    if isinstance(exc, FetchError) and not isinstance(exc, AuthError):
        prefix = "fetch"
    return f"{prefix}: {exc}"
