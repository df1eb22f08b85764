"""Scale-out on PostgreSQL: the procrastinate app that lets any number of ``monitor worker``
processes, on any number of machines, share one database.

Three tasks, no home-made cluster:

- **dispatch** (periodic, queue ``polls``): procrastinate defers it once per tick for all
  workers together (its periodic-defer table is unique per tick). It first sweeps stalled
  jobs, then takes the due sources with ``SELECT … FOR UPDATE SKIP LOCKED`` (so two dispatches
  never take one source), moves their ``next_run_at`` on by the interval from sources.yaml,
  and defers one ``poll(source_id)`` each under ``lock`` = ``queueing_lock`` = ``source:<id>``:
  one poll of a source runs at a time and at most one more waits. The job's only argument
  is the source id; the worker reads the source's config (and secrets) from its own
  sources.yaml and environment.
- **poll** (queue ``polls``): ``Pipeline.poll`` under the source's row lease
  (``monitor.store.lease``), the guard that holds even when the queue's lock is gone.
- **deliver** (periodic, queue ``deliveries``; a poll that queued alerts defers one at once):
  ``Dispatcher.run_once``. The queue is at-least-once; the delivery ledger's conditional
  claim keeps each alert to one send.

Known procrastinate pitfalls are avoided by design: no task retries inside the queue (a
retry moves a job back to ``todo`` and collides with the queueing lock, procrastinate issues
#1446/#1543; the next dispatch is the retry), and a stalled job (its worker stopped sending
heartbeats) is closed as failed, never moved back to ``todo``: that frees the source's lock,
and the source is made due again when its row lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from procrastinate import App, JobContext, PsycopgConnector, exceptions, jobs
from procrastinate.schema import SchemaManager
from sqlalchemy import Connection, delete, or_, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from monitor.config import AppConfig, parse_duration
from monitor.db import Database
from monitor.delivery.dispatcher import Dispatcher
from monitor.drivers.service import first_run_time, with_followed_bills
from monitor.errors import ConfigError
from monitor.models import Setting, Source, utcnow
from monitor.pipeline import Pipeline, sync_sources
from monitor.store.health import Outcome
from monitor.store.lease import due_when_free

log = logging.getLogger(__name__)

POLLS = "polls"
DELIVERIES = "deliveries"
QUEUES = (POLLS, DELIVERIES)
POLL_TASK = "monitor.poll"
WORKER_KEY = "worker:"  # settings rows describing live workers: worker:<procrastinate worker id>
PRUNE_AFTER = 600.0  # seconds of silence before a dead worker's row is removed
_SCHEMA_LOCK = 7_246_001  # pg advisory lock keys: applying the queue schema, syncing sources
_SYNC_LOCK = 7_246_002


@dataclass(frozen=True)
class ClusterSettings:
    """Tunables, from the environment so every worker of a deployment agrees."""

    dispatch_every: int = 5  # MONITOR_DISPATCH_EVERY: seconds between dispatch ticks
    deliver_every: int = 5  # MONITOR_DELIVER_EVERY
    heartbeat: float = 10.0  # MONITOR_WORKER_HEARTBEAT
    stalled_after: float = 30.0  # MONITOR_WORKER_STALLED_AFTER: silence that makes a worker dead
    batch: int = 2000  # most sources one dispatch tick takes

    @classmethod
    def from_env(cls) -> ClusterSettings:
        def seconds(name: str, default: float) -> float:
            raw = os.environ.get(name)
            try:
                return float(parse_duration(raw)) if raw else default
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from None

        settings = cls(
            dispatch_every=int(seconds("MONITOR_DISPATCH_EVERY", cls.dispatch_every)),
            deliver_every=int(seconds("MONITOR_DELIVER_EVERY", cls.deliver_every)),
            heartbeat=seconds("MONITOR_WORKER_HEARTBEAT", cls.heartbeat),
            stalled_after=seconds("MONITOR_WORKER_STALLED_AFTER", cls.stalled_after),
        )
        for name, every in (("MONITOR_DISPATCH_EVERY", settings.dispatch_every),
                            ("MONITOR_DELIVER_EVERY", settings.deliver_every)):
            cron_every(every, name)
        if settings.stalled_after < 2 * settings.heartbeat:
            raise ConfigError("MONITOR_WORKER_STALLED_AFTER must be at least twice MONITOR_WORKER_HEARTBEAT, "
                              "or live workers would be taken for dead")
        return settings


def cron_every(seconds: int, name: str = "interval") -> str:
    """A procrastinate cron (six fields, the last is seconds) firing every ``seconds``."""
    if seconds < 60 and 60 % seconds == 0:
        return f"* * * * * */{seconds}"
    if seconds % 60 == 0 and 60 % (seconds // 60) == 0:
        return f"*/{seconds // 60} * * * *"
    raise ConfigError(f"{name}: {seconds}s does not divide a minute or an hour evenly (try 1s, 5s, 10s, 30s, 1m, 5m)")


def require_postgres(db: Database, what: str) -> None:
    if not db.is_postgres:
        raise ConfigError(f"{what} needs PostgreSQL: set MONITOR_DATABASE_URL (or --db) to a postgresql+psycopg:// "
                          "URL; on SQLite run the single-process service instead: monitor run")


def conninfo(db: Database) -> str:
    """The libpq URL psycopg wants (SQLAlchemy's ``postgresql+psycopg://`` minus the driver)."""
    return make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)


# A catalog scan, not to_regclass(): that reads the backend's cache, which an advisory lock does
# not refresh, so a worker that looked once before waiting would not see another's schema.
_QUEUE_TABLE = text("SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename = 'procrastinate_jobs')")


def _has_queue_schema(db: Database) -> bool:
    with db.engine.connect() as conn:
        return conn.scalar(_QUEUE_TABLE) is True


def ensure_queue_schema(db: Database) -> bool:
    """Apply procrastinate's schema once (True if applied now). Safe when many workers start at
    once: the check and the apply happen under one advisory lock."""
    require_postgres(db, "the job queue")
    if _has_queue_schema(db):
        return False
    with db.engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
        if conn.scalar(_QUEUE_TABLE):
            return False
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute(SchemaManager.get_schema())  # no parameters: its % signs stay literal
    log.info("applied the job queue schema (procrastinate)")
    return True


def sync_sources_once(db: Database, config: AppConfig) -> None:
    """``sync_sources`` for many workers starting together: one at a time, under a lock."""
    with db.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _SYNC_LOCK})
        try:
            sync_sources(db, config)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _SYNC_LOCK})
            conn.commit()


def next_due(due: dt.datetime | None, interval: float, now: dt.datetime) -> dt.datetime:
    """Keep the source's cadence; missed slots are coalesced into one, never replayed."""
    step = dt.timedelta(seconds=interval)
    nxt = (due or now) + step
    return nxt if nxt > now else now + step


def claim_due(db: Database, config: AppConfig, now: dt.datetime, limit: int) -> list[str]:
    """Take the due, unleased sources and move each one's next run; return the ids to poll.

    A source never scheduled before (``next_run_at`` empty) gets its first slot as in
    ``monitor run``: its regular slot after its last attempt, or within the jitter from now,
    so neither a fresh start nor a switch from ``monitor run`` polls everything at once.
    """
    intervals = {s.id: float(config.interval_seconds(s)) for s in config.enabled_sources()}
    jitter = float(parse_duration(config.defaults.jitter))
    taken: list[str] = []
    with db.session() as session:
        waiting = set(session.scalars(text(
            "SELECT queueing_lock FROM procrastinate_jobs WHERE status = 'todo' AND queueing_lock LIKE 'source:%'")))
        rows = session.execute(
            select(Source.id, Source.next_run_at, Source.last_attempt_at)
            .where(Source.enabled.is_(True),
                   or_(Source.next_run_at.is_(None), Source.next_run_at <= now),
                   or_(Source.lease_until.is_(None), Source.lease_until < now))
            .order_by(Source.next_run_at.asc().nulls_first(), Source.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for source_id, due, last_attempt in rows:
            interval = intervals.get(source_id)
            if interval is None:  # not in this worker's sources.yaml: leave it to one that has it
                continue
            if due is None:
                first = first_run_time(last_attempt, interval, jitter, now)
                session.execute(update(Source).where(Source.id == source_id).values(next_run_at=first))
                continue
            session.execute(update(Source).where(Source.id == source_id)
                            .values(next_run_at=next_due(due, interval, now)))
            if f"source:{source_id}" not in waiting:  # else this slot folds into the poll already waiting
                taken.append(source_id)
    return taken


@dataclass
class Runtime:
    """What the tasks of one worker process share: database, config, pipeline, dispatcher."""

    db: Database
    config: AppConfig
    pipeline: Pipeline
    dispatcher: Dispatcher
    settings: ClusterSettings
    last_sweep: float = float("-inf")  # monotonic time of this process's last stalled-job sweep
    dispatching: asyncio.Lock = field(default_factory=asyncio.Lock)
    file_config: AppConfig = field(init=False)  # sources.yaml as loaded; ``config`` adds the followed bills

    def __post_init__(self) -> None:
        self.file_config = self.config

    def follow_bills(self) -> None:
        """Poll the bills followed so far (monitor.follow) beside sources.yaml's: looked up on every
        dispatch tick, so a bill any worker followed is claimed by all of them."""
        config = with_followed_bills(self.db, self.file_config)
        if [s.id for s in config.sources] != [s.id for s in self.config.sources]:
            sync_sources_once(self.db, config)
            self.config = config
            self.pipeline.reconfigure(config)


def _runtime(context: JobContext) -> Runtime:
    runtime = context.additional_context.get("runtime")
    assert isinstance(runtime, Runtime), "tasks run only inside `monitor worker`"
    return runtime


def build_app(db: Database, settings: ClusterSettings) -> App:
    """The procrastinate app and its three tasks (see the module docstring)."""
    app = App(connector=PsycopgConnector(conninfo=conninfo(db)))

    @app.task(name=POLL_TASK, queue=POLLS, pass_context=True, retry=False)
    async def poll(context: JobContext, source_id: str) -> str:
        rt = _runtime(context)
        try:
            config = rt.config.get(source_id)
        except ConfigError:
            return "not in this worker's sources.yaml"
        summary = await rt.pipeline.poll(config)
        if summary.outcome == Outcome.SKIPPED:  # turned away by a live lease? come back when it ends
            await asyncio.to_thread(_in_transaction, rt.db, lambda s: due_when_free(s, source_id, leased_only=True))
        elif summary.alerts:
            await defer_deliver(app)
        return summary.outcome

    @app.periodic(cron=cron_every(settings.dispatch_every), periodic_id="dispatch")
    @app.task(name="monitor.dispatch", queue=POLLS, priority=10, queueing_lock="monitor.dispatch",
              pass_context=True, retry=False)
    async def dispatch(context: JobContext, timestamp: int) -> str:
        rt = _runtime(context)
        if rt.dispatching.locked():  # ticks overlap when the database is slow: one per process will do
            return "skipped: this worker is already dispatching"
        async with rt.dispatching:
            return await _dispatch(rt)

    async def _dispatch(rt: Runtime) -> str:
        swept = await sweep_stalled(app, rt)
        await asyncio.to_thread(rt.follow_bills)
        ids = await asyncio.to_thread(claim_due, rt.db, rt.config, utcnow(), rt.settings.batch)
        polls = [poll.configure(lock=f"source:{i}", queueing_lock=f"source:{i}").make_new_job(source_id=i)
                 for i in ids]
        try:
            if polls:
                await app.job_manager.batch_defer_jobs_async(polls)
        except exceptions.AlreadyEnqueued:  # some still wait from an earlier tick: those will do
            for job in polls:
                with contextlib.suppress(exceptions.AlreadyEnqueued):
                    await app.job_manager.defer_job_async(job)
        return f"{len(ids)} polls deferred, {swept} stalled jobs closed"

    @app.periodic(cron=cron_every(settings.deliver_every), periodic_id="deliver")
    @app.task(name="monitor.deliver", queue=DELIVERIES, priority=10, queueing_lock="monitor.deliver",
              pass_context=True, retry=False)
    async def deliver(context: JobContext, timestamp: int) -> str:
        stats = await _runtime(context).dispatcher.run_once()
        return f"{stats.sent} sent, {stats.retried} to retry, {stats.failed} failed"

    return app


async def defer_deliver(app: App) -> None:
    with contextlib.suppress(exceptions.AlreadyEnqueued):  # one is already waiting: it will do
        await app.tasks["monitor.deliver"].defer_async(timestamp=int(time.time()))


def _in_transaction(db: Database, fn: Callable[[Connection], None]) -> None:
    with db.engine.begin() as conn:
        fn(conn)


async def sweep_stalled(app: App, rt: Runtime) -> int:
    """Close the jobs of dead workers as failed (never back to ``todo``: that is what breaks the
    queueing lock) and make their sources due again once their row lease expires."""
    if time.monotonic() - rt.last_sweep < rt.settings.stalled_after / 3:
        return 0
    rt.last_sweep = time.monotonic()
    closed = 0
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=rt.settings.stalled_after):
        try:
            await app.job_manager.finish_job(job, status=jobs.Status.FAILED, delete_job=False)
        except exceptions.ConnectorException:
            continue  # another worker's sweep (or the job's own worker) got there first
        closed += 1
        source_id = job.task_kwargs.get("source_id")
        log.warning("job %s (%s) of a dead worker closed as failed", job.id, job.call_string)
        if job.task_name == POLL_TASK and isinstance(source_id, str):
            await asyncio.to_thread(_in_transaction, rt.db, functools.partial(due_when_free, source_id=source_id))
    pruned = await app.job_manager.prune_stalled_workers(PRUNE_AFTER)
    if pruned:
        await asyncio.to_thread(forget_workers, rt.db, pruned)
    return closed


def describe_worker(db: Database, worker_id: int, info: dict[str, Any]) -> None:
    with db.session() as session:
        session.merge(Setting(key=f"{WORKER_KEY}{worker_id}", value=json.dumps(info), updated_at=utcnow()))


def dead_lease_owners(session: Session, stalled_after: float) -> list[str]:
    """The delivery lease owners (``Dispatcher.owner``, see ``describe_worker``) of workers whose
    heartbeat is older than ``stalled_after``: their claimed alerts are taken back at once, on
    whatever host they ran, instead of after the 5-minute lease. Workers only: it reads the
    job queue's worker table."""
    described = session.execute(text(
        "SELECT s.value FROM settings s JOIN procrastinate_workers w ON s.key = :prefix || w.id::text "
        "WHERE w.last_heartbeat < now() - make_interval(secs => :s)"),
        {"prefix": WORKER_KEY, "s": stalled_after}).scalars()
    return [owner for value in described if isinstance(owner := json.loads(value).get("lease_owner"), str)]


def worker_dispatcher(db: Database, settings: ClusterSettings, client: httpx.AsyncClient) -> Dispatcher:
    """A worker's dispatcher: it also takes back at once what dead workers of other hosts claimed."""
    return Dispatcher(db, client=client,
                      known_dead=functools.partial(dead_lease_owners, stalled_after=settings.stalled_after))


def forget_workers(db: Database, worker_ids: list[int]) -> None:
    with db.session() as session:
        session.execute(delete(Setting).where(Setting.key.in_([f"{WORKER_KEY}{w}" for w in worker_ids])))


# -- the cluster's view of itself (``monitor status``, ``monitor workers``) ---------------------

@dataclass
class WorkerInfo:
    id: int
    last_heartbeat: dt.datetime
    alive: bool
    host: str | None = None
    pid: int | None = None
    queues: list[str] = field(default_factory=list)
    concurrency: int | None = None
    running: int = 0


@dataclass
class ClusterStatus:
    workers: list[WorkerInfo]
    queues: dict[str, dict[str, int]]  # queue -> {"todo": n, "doing": n, "failed": n}
    stalled: list[dict[str, Any]]  # running jobs of dead workers, not yet swept


def cluster_status(db: Database, settings: ClusterSettings | None = None) -> ClusterStatus | None:
    """Workers, queue depth and stalled jobs; None where there is no job queue (SQLite, or a
    PostgreSQL database no worker has used yet)."""
    if not db.is_postgres or not _has_queue_schema(db):
        return None
    settings = settings or ClusterSettings.from_env()
    limit = dt.timedelta(seconds=settings.stalled_after)
    with db.engine.connect() as conn:
        now = conn.scalar(text("SELECT now()"))
        running: dict[int, int] = dict(conn.execute(text(
            "SELECT worker_id, count(*) FROM procrastinate_jobs WHERE status = 'doing' "
            "AND worker_id IS NOT NULL GROUP BY worker_id")).all())
        described: dict[str, str] = dict(conn.execute(
            select(Setting.key, Setting.value).where(Setting.key.like(f"{WORKER_KEY}%"))).all())
        workers = []
        for worker_id, beat in conn.execute(text(
                "SELECT id, last_heartbeat FROM procrastinate_workers ORDER BY id")).all():
            info = json.loads(described.get(f"{WORKER_KEY}{worker_id}", "{}"))
            workers.append(WorkerInfo(id=worker_id, last_heartbeat=beat, alive=now - beat < limit,
                                      host=info.get("host"), pid=info.get("pid"), queues=info.get("queues", []),
                                      concurrency=info.get("concurrency"), running=running.get(worker_id, 0)))
        queues: dict[str, dict[str, int]] = {q: {"todo": 0, "doing": 0, "failed": 0} for q in QUEUES}
        for queue, status, count in conn.execute(text(
                "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs "
                "WHERE status IN ('todo', 'doing', 'failed') GROUP BY queue_name, status::text")).all():
            queues.setdefault(queue, {"todo": 0, "doing": 0, "failed": 0})[status] = count
        stalled = [dict(row._mapping) for row in conn.execute(text(
            "SELECT j.id, j.task_name, j.queue_name, j.args, j.worker_id FROM procrastinate_jobs j "
            "LEFT JOIN procrastinate_workers w ON w.id = j.worker_id "
            "WHERE j.status = 'doing' "
            "AND (j.worker_id IS NULL OR w.last_heartbeat < now() - make_interval(secs => :s)) "
            "ORDER BY j.id"), {"s": settings.stalled_after}).all()]
    return ClusterStatus(workers=workers, queues=queues, stalled=stalled)
