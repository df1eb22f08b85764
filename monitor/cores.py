"""``run --once`` on every core: the sources are shared out between forked processes.

An unchanged poll is almost all HTTP client work (~0.8 ms of CPU for a 304), and one Python
process uses one core, so a pass over 1,000 sources left the machine's other cores idle. Here
the parent plans *shares* of the sources, forks one worker process per extra share (after
start-up, so a worker costs no imports), polls its own share meanwhile and collects the
workers' summaries. Delivery stays in the parent, after every share is stored.

Politeness survives the split. A provider with one connection (CourtListener, Open States…)
is never split: all its sources go to one process. A provider that allows several connections
is dealt out round-robin in sources.yaml order, and its connection limit is divided between
the processes that share it, so together they never hold more connections than one would.
Rate limits already live in the database and are shared; a Retry-After written by one process
is picked up by the others within ``BLOCK_FOLLOW_EVERY`` seconds (``Budgets.follow_blocks``).

Each process takes its own sources' leases, stores its own polls and parses in process (the
processes are the parallelism; a parse pool in each would only compete for the same cores).
A worker shares the parent's memory until it writes to it; at 10,000 sources the two
processes together peak at ~126 MB (proportional set size) against ~96 MB for one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import multiprocessing
import os
from collections import defaultdict
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select

from monitor.budget import Budgets
from monitor.config import AppConfig
from monitor.db import Database
from monitor.fetch import Fetcher
from monitor.pipeline import Pipeline, build_source
from monitor.sources import SourceConfig
from monitor.store.health import check_silence
from monitor.models import Source, utcnow
from monitor.store.items import PollSummary, record_failure

log = logging.getLogger(__name__)

MAX_PROCESSES = 4  # past this, SQLite's single writer and the providers' limits are the bottleneck
SOURCES_PER_PROCESS = 50  # below this a process is not worth forking (a fork costs ~10 ms and a database connection)
FIRST_POLLS_SHARE = 10  # on SQLite, one process when more than 1 in 10 sources is polled for the first time


@dataclass
class Share:
    """The sources one process polls, and the connection limits it must keep below its providers'."""

    source_ids: list[str] = field(default_factory=list)
    concurrency: dict[str, int] = field(default_factory=dict)


def default_processes(db: Database, sources: list[SourceConfig]) -> int:
    """One process per usable core, while each has enough sources to repay its fork.

    Except on SQLite when many sources have never been polled: their first polls store every
    item, SQLite has one writer, and more pollers would only queue for its lock (measured:
    1,000 first polls took 11.0 s in two processes, 9.8 s in one with the parse pool)."""
    try:
        cores = len(os.sched_getaffinity(0))  # a container's CPU set, not the host's
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    processes = max(1, min(cores, MAX_PROCESSES, len(sources) // SOURCES_PER_PROCESS))
    if processes > 1 and not db.is_postgres:
        c = Source.__table__.c
        with db.engine.connect() as conn:
            unpolled = set(conn.scalars(select(c.id).where(c.baseline_done.is_(False))))
        if sum(source.id in unpolled for source in sources) * FIRST_POLLS_SHARE > len(sources):
            return 1
    return processes


def plan_shares(config: AppConfig, sources: list[SourceConfig], processes: int) -> list[Share]:
    """Share the sources out by provider, largest provider first, each to the least-loaded processes.

    A provider is split over as many processes as its connection limit allows (a limit of one
    keeps it whole); each of those gets its part of the limit, so the sum never exceeds it.
    """
    budgets = Budgets(None, config.providers)
    by_provider: dict[str, list[str]] = defaultdict(list)
    for source in sources:
        declared = build_source(source).provider
        host = urlsplit(getattr(source, "url", None) or "").hostname
        by_provider[budgets.provider_for(declared, host)].append(source.id)
    shares = [Share() for _ in range(max(1, processes))]
    for provider, ids in sorted(by_provider.items(), key=lambda pair: (-len(pair[1]), pair[0])):
        limit = budgets.limits_for(provider).concurrency or 1
        ways = max(1, min(len(shares), limit, len(ids)))
        chosen = sorted(shares, key=lambda share: len(share.source_ids))[:ways]
        for index, share in enumerate(chosen):
            share.source_ids += ids[index::ways]
            if ways > 1:
                share.concurrency[provider] = limit // ways + (1 if index < limit % ways else 0)
    return [share for share in shares if share.source_ids]


async def poll_share(db: Database, config: AppConfig, share: Share, *,
                     parse_workers: int | None = None) -> list[PollSummary]:
    """Poll one share's sources in this process (``run_once`` polls a single share of everything)."""
    async with Fetcher() as fetcher:
        pipeline = Pipeline(db, config, fetcher, concurrency=share.concurrency, parse_workers=parse_workers)
        # a provider split between processes: another one's Retry-After must stop this one too
        follower = asyncio.create_task(pipeline.fetcher.budgets.follow_blocks()) if share.concurrency else None
        try:
            return await pipeline.poll_all(share.source_ids)
        finally:
            if follower is not None:
                follower.cancel()
            pipeline.close()


_inherited: tuple[str, AppConfig] | None = None  # what a forked worker inherits instead of unpickling it


def _inherit(db_url: str, config: AppConfig) -> None:
    global _inherited
    _inherited = (db_url, config)


def _poll_in_worker(share: Share) -> list[PollSummary]:
    assert _inherited is not None, "a share runs only in a worker forked by poll_on_cores"
    db_url, config = _inherited
    db = Database(db_url)
    try:
        return asyncio.run(poll_share(db, config, share, parse_workers=1))
    finally:
        db.dispose()


def poll_on_cores(db: Database, config: AppConfig, sources: list[SourceConfig], processes: int) -> list[PollSummary]:
    """Poll ``sources`` in up to ``processes`` processes; the summaries come back in ``sources`` order.

    Call it with no event loop running and no threads started: workers are forked. A worker
    that dies takes only its own share down; those sources are reported failed, never lost
    silently, and their leases expire for the next pass.
    """
    shares = plan_shares(config, sources, processes)
    if len(shares) <= 1:
        return asyncio.run(poll_share(db, config, Share([s.id for s in sources])))
    log.info("polling %d sources in %d processes", len(sources), len(shares))
    started = utcnow()
    db.dispose()  # a forked child must not inherit the parent's open database connections
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(len(shares) - 1, mp_context=context, initializer=_inherit,
                             initargs=(db.url, config)) as workers:
        futures: list[Future[list[PollSummary]]] = [workers.submit(_poll_in_worker, share) for share in shares[1:]]
        polls = asyncio.run(poll_share(db, config, shares[0], parse_workers=1))
        for share, future in zip(shares[1:], futures):
            try:
                polls += future.result()
            except Exception as exc:  # noqa: BLE001 -- the worker's sources are reported, the rest kept
                log.error("the process polling %d sources failed: %s: %s", len(share.source_ids),
                          type(exc).__name__, exc)
                error = f"internal error: its polling process failed ({type(exc).__name__})"
                record_lost(db, config, share, error, since=started)
                polls += [PollSummary(sid, "failed", error=error) for sid in share.source_ids]
    order = {source.id: index for index, source in enumerate(sources)}
    return sorted(polls, key=lambda poll: order.get(poll.source_id, len(order)))


def record_lost(db: Database, config: AppConfig, share: Share, error: str, *, since: dt.datetime) -> None:
    """Record a failure for each source of a dead worker's share it had not polled yet, so health
    shows it (and the silent-source check counts it); polls the worker stored before dying stand."""
    by_id = {source.id: source for source in config.sources}
    c = Source.__table__.c
    with db.session() as session:
        polled = set(session.scalars(select(c.id).where(c.id.in_(share.source_ids), c.last_attempt_at >= since)))
        for source_id in share.source_ids:
            if source_id not in polled:
                record_failure(session, source_id, error)
                check_silence(session, source_id, by_id[source_id],
                              failures_threshold=config.defaults.alert_after_failures)
