"""The one-process drivers of ``Pipeline.poll``: ``run --once`` (one pass) and ``run`` (APScheduler, one job per
source; SIGINT/SIGTERM let in-flight work finish, SIGHUP re-reads sources.yaml and keeps the old one if it is bad).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select, update

from alerts.http import channel_client
from monitor.config import AppConfig, config_hash, load_config
from monitor.db import Database
from monitor.delivery.digest import claim_digests
from monitor.delivery.dispatcher import Dispatcher, DispatchStats
from monitor.drivers import shutdown_grace
from monitor.durations import cron_trigger, parse_duration
from monitor.errors import ConfigError
from monitor.fetch import Fetcher
from monitor.follow import with_followed
from monitor.models import Source, utcnow
from monitor.pipeline import Pipeline, PollSummary, sync_sources
from monitor.text import plural

log = logging.getLogger(__name__)

DISPATCH_EVERY = 5.0  # seconds
GROUP_WAIT = 2.0  # seconds run --once gathers alerts before sending what one poll found
PID_FILE_NAME = "monitor.pid"


@dataclass
class RunResult:
    polls: list[PollSummary] = field(default_factory=list)
    dispatch: DispatchStats = field(default_factory=DispatchStats)


async def run_once(db: Database, config: AppConfig, *, source_ids: list[str] | None = None,
                   wait_limit: float = 10.0) -> RunResult:
    """``run --once``: poll every enabled source, sending alerts within ``GROUP_WAIT`` of the poll that found them
    (a stalled source holds back no one else's; the changes of the polls finishing meanwhile go in the same message,
    as Alertmanager's group_wait), then today's digests and the retries due within ``wait_limit`` seconds."""
    config = with_followed(config, db)
    for source_id in source_ids or ():  # a typo in a cron line must not pass as a quiet pass
        if not config.get(source_id).enabled:
            raise ConfigError(f"{config.path.name}: source {source_id!r} is disabled (enabled: false); nothing to poll")
    sync_sources(db, config)
    async with Fetcher() as fetcher, channel_client() as client:
        pipeline = Pipeline(db, config, fetcher)
        dispatcher = Dispatcher(db, client=client)
        polling = asyncio.ensure_future(pipeline.poll_many(config.enabled_sources(source_ids)))
        stats = DispatchStats()
        try:
            while not polling.done():
                queued = asyncio.ensure_future(pipeline.alerts_queued.wait())
                await asyncio.wait({polling, queued}, return_when=asyncio.FIRST_COMPLETED)
                queued.cancel()
                if pipeline.alerts_queued.is_set():
                    await asyncio.wait({polling}, timeout=GROUP_WAIT)  # what the next polls find joins the message
                    pipeline.alerts_queued.clear()
                    await dispatcher.run_once(stats=stats)
        finally:
            polling.cancel()  # only when delivery failed: the polls are done otherwise
        claim_digests(db)
        deadline = utcnow() + dt.timedelta(seconds=wait_limit)
        while True:
            await dispatcher.run_once(stats=stats)
            due = dispatcher.next_due()
            if due is None or due > deadline:
                return RunResult(polling.result(), stats)
            await asyncio.sleep(max((due - utcnow()).total_seconds(), 0.05))


def first_run_time(last_attempt: dt.datetime | None, interval: float, jitter: float,
                   now: dt.datetime) -> dt.datetime:
    """A source's regular slot after its last attempt, or soon (spread by jitter): a restart polls nothing twice."""
    spread = dt.timedelta(seconds=random.uniform(0, max(jitter, 1.0)))
    if last_attempt is None:
        return now + spread
    due = last_attempt + dt.timedelta(seconds=interval)
    return due if due > now else now + spread


def pid_file_path(config_path: Path) -> Path:
    """Where the running service writes its pid for ``monitor reload``: beside its sources.yaml."""
    explicit = os.environ.get("MONITOR_PID_FILE")
    return Path(explicit) if explicit else config_path.resolve().with_name(PID_FILE_NAME)


class Service:
    """The long-running monitor: scheduler, pipeline and dispatcher in one event loop."""

    def __init__(self, db: Database, config: AppConfig, *, http: socket.socket | None = None) -> None:
        self.db = db
        self.file_config = config  # sources.yaml as loaded; ``config`` adds the followed bills
        self.config = config
        self.http = http  # the bound socket of --http (monitor.web.listen)
        self.pid_file = pid_file_path(config.path)
        self.grace = shutdown_grace()  # a bad MONITOR_SHUTDOWN_GRACE stops the start, not the stop
        self.stopping = asyncio.Event()
        self.scheduler: AsyncIOScheduler | None = None
        self.pipeline: Pipeline | None = None
        self._scheduled: dict[str, str] = {}  # source id -> fingerprint of its job

    async def serve_http(self) -> None:
        """Serve the HTTP endpoints until stopping. While it serves, uvicorn takes SIGINT and
        SIGTERM, stops, and raises them again for the service's own handlers."""
        import uvicorn

        from monitor.web import create_app
        from monitor.web.courtlistener import process_pending

        await asyncio.to_thread(process_pending, self.db)  # pushed events a restart left unprocessed
        # log_config=None: uvicorn's records go through the service's handlers (JSON lines, secrets masked),
        # not the handler of its own it would otherwise install
        server = uvicorn.Server(uvicorn.Config(create_app(self.db, self.config), log_level="warning",
                                               log_config=None, lifespan="off"))
        task = asyncio.create_task(server.serve(sockets=[self.http] if self.http else None))
        await self.stopping.wait()
        server.should_exit = True
        await task

    async def poll_job(self, source_id: str) -> None:
        """One scheduled poll, then the source's next run time stored for ``monitor status``."""
        assert self.pipeline is not None and self.scheduler is not None
        source = self.config.by_id.get(source_id)
        if source is None:
            return  # removed by a reload while this run was queued
        try:
            await self.pipeline.poll(source)
        except asyncio.CancelledError:
            if not self.stopping.is_set():
                raise
            return  # cut off by the shutdown grace: run() names it, and the lease is back
        if source.discovers():
            self.follow_bills()
        job = self.scheduler.get_job(f"poll:{source_id}")
        with self.db.engine.begin() as conn:
            conn.execute(update(Source).where(Source.id == source_id)
                         .values(next_run_at=job.next_run_time if job is not None else None))

    def schedule_sources(self, scheduler: AsyncIOScheduler) -> None:
        """Make the jobs match the config: add new sources, replace changed ones, drop removed ones."""
        now = utcnow()
        with self.db.session() as session:
            last = {sid: at for sid, at in session.execute(select(Source.id, Source.last_attempt_at))}
        jitter = parse_duration(self.config.defaults.jitter)
        wanted = {s.id: s for s in self.config.enabled_sources()}
        for source_id in set(self._scheduled) - set(wanted):
            scheduler.remove_job(f"poll:{source_id}")
            del self._scheduled[source_id]
        for source in wanted.values():
            fingerprint = config_hash(source) + (source.interval or self.config.defaults.interval)
            if self._scheduled.get(source.id) == fingerprint:
                continue
            interval = self.config.interval_seconds(source)
            trigger = cron_trigger(source.cron, jitter) if source.cron else IntervalTrigger(seconds=interval,
                                                                                            jitter=jitter)
            first = None if source.cron else first_run_time(last.get(source.id), interval, jitter, now)
            scheduler.add_job(self.poll_job, trigger, args=[source.id], id=f"poll:{source.id}", max_instances=1,
                              coalesce=True, misfire_grace_time=interval, replace_existing=True,
                              **({"next_run_time": first} if first is not None else {}))
            self._scheduled[source.id] = fingerprint

    def follow_bills(self) -> None:
        """Poll the bills followed so far (monitor.follow) beside sources.yaml's."""
        config = with_followed(self.file_config, self.db)
        if [s.id for s in config.sources] != [s.id for s in self.config.sources]:
            self._use(config)

    def _use(self, config: AppConfig) -> None:
        self.sync(config)
        self.config = config
        if self.pipeline is not None:
            self.pipeline.reconfigure(config)
        if self.scheduler is not None:
            self.schedule_sources(self.scheduler)

    def sync(self, config: AppConfig) -> None:
        sync_sources(self.db, config)

    def reload(self) -> bool:
        """SIGHUP: re-read sources.yaml; a bad file is reported with its line and the old config kept."""
        try:
            self.file_config = load_config(self.config.path)
        except ConfigError as exc:
            log.error("reload rejected, still running the previous configuration: %s", exc)
            return False
        self._use(with_followed(self.file_config, self.db))
        log.info("reloaded %s: monitoring %d sources", self.config.path, len(self.config.enabled_sources()))
        return True

    async def abandon(self, unfinished: set[asyncio.Task[object]]) -> None:
        """Cancel what outlived the shutdown grace, saying which polls were cut off (the sources this
        process still leases): they are polled again at the next start."""
        assert self.pipeline is not None
        with self.db.session() as session:
            polling = session.scalars(select(Source.id).where(Source.lease_owner == self.pipeline.owner)
                                      .order_by(Source.id)).all()
        left = f"the poll of {', '.join(polling)}" if polling else plural(len(unfinished), "task")
        log.warning("stopped after %.0f s with %s unfinished (polled again at the next start)", self.grace, left)
        for task in unfinished:
            task.cancel()
        await asyncio.wait(unfinished)

    async def run(self) -> None:
        self._use(with_followed(self.file_config, self.db))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            self.pid_file.write_text(f"{os.getpid()}\n")
        except OSError as exc:
            raise ConfigError(f"cannot write the pid file {self.pid_file} ({exc.strerror}); "
                              "set MONITOR_PID_FILE to a writable path") from None
        async with Fetcher() as fetcher:
            self.pipeline = Pipeline(self.db, self.config, fetcher)
            self.scheduler = scheduler = AsyncIOScheduler(timezone=dt.UTC)
            self.schedule_sources(scheduler)
            scheduler.add_job(Dispatcher(self.db).run_once, IntervalTrigger(seconds=DISPATCH_EVERY), id="dispatch",
                              max_instances=1, coalesce=True, next_run_time=utcnow())
            scheduler.add_job(claim_digests, IntervalTrigger(seconds=60), args=[self.db], id="digests",
                              max_instances=1, coalesce=True, next_run_time=utcnow())
            scheduler.start()
            log.info("monitoring %d sources", len(self.config.enabled_sources()))
            try:
                await (self.serve_http() if self.http else self.stopping.wait())
            finally:
                log.info("stopping: waiting for in-flight polls and deliveries")
                scheduler.pause()  # shutdown() would cancel the running jobs: let them finish first
                current = asyncio.current_task()
                running = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
                if running:
                    _, unfinished = await asyncio.wait(running, timeout=self.grace)
                    if unfinished:
                        await self.abandon(unfinished)
                scheduler.shutdown(wait=False)
                self.pid_file.unlink(missing_ok=True)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
