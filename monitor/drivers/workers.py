"""Scale-out on PostgreSQL: ``monitor worker`` processes on any machines share one database through procrastinate.

A periodic ``dispatch`` (one at a time, by procrastinate's lock) claims the due sources and defers one ``poll``
each under ``lock`` = ``queueing_lock`` = ``source:<id>``; ``poll`` is ``Pipeline.poll`` under the source's row
lease; a periodic ``deliver`` runs the dispatcher and ``sweep`` closes the jobs of workers whose heartbeat stopped.
No queue retries (they collide with the queueing lock, procrastinate #1446/#1543): the next dispatch is the retry,
and a dead worker's job is closed as failed, its source due again when its lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from procrastinate import App, JobContext, PsycopgConnector, exceptions, jobs
from procrastinate.schema import SchemaManager
from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from monitor.config import AppConfig
from monitor.db import Database
from monitor.delivery.digest import claim_digests
from monitor.delivery.dispatcher import Dispatcher
from monitor.drivers.service import Service, first_run_time
from monitor.durations import cron_trigger, env_seconds, parse_duration
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

    dispatch_every: int = 5  # seconds between dispatch ticks
    deliver_every: int = 5
    heartbeat: int = 10
    stalled_after: int = 30  # silence that makes a worker dead
    batch: int = 2000  # most sources one dispatch tick takes

    def __post_init__(self) -> None:
        cron_every(self.dispatch_every, "MONITOR_DISPATCH_EVERY")
        cron_every(self.deliver_every, "MONITOR_DELIVER_EVERY")
        if self.stalled_after < 2 * self.heartbeat:
            raise ConfigError("MONITOR_WORKER_STALLED_AFTER must be at least twice MONITOR_WORKER_HEARTBEAT, "
                              "or live workers would be taken for dead")

    @classmethod
    def from_env(cls) -> ClusterSettings:
        return cls(dispatch_every=env_seconds("MONITOR_DISPATCH_EVERY", cls.dispatch_every),
                   deliver_every=env_seconds("MONITOR_DELIVER_EVERY", cls.deliver_every),
                   heartbeat=env_seconds("MONITOR_WORKER_HEARTBEAT", cls.heartbeat),
                   stalled_after=env_seconds("MONITOR_WORKER_STALLED_AFTER", cls.stalled_after))


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


# A catalog scan, not to_regclass(): that reads the backend's cache, which an advisory lock does
# not refresh, so a worker that looked once before waiting would not see another's schema.
QUEUE_TABLE = text("SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename = 'procrastinate_jobs')")


def ensure_queue_schema(db: Database) -> bool:
    """Apply procrastinate's schema once (True if applied now), under a lock: many workers may start at once."""
    require_postgres(db, "the job queue")
    with db.engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
        if conn.scalar(QUEUE_TABLE):
            return False
        conn.execution_options(no_parameters=True).exec_driver_sql(SchemaManager.get_schema())  # % stays literal
    log.info("applied the job queue schema (procrastinate)")
    return True


def sync_sources_once(db: Database, config: AppConfig) -> None:
    """``sync_sources`` for many workers starting together: one at a time, under a lock."""
    with db.engine.begin() as conn:  # the lock is held until this transaction ends
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SYNC_LOCK})
        sync_sources(db, config)


def claim_due(db: Database, config: AppConfig, now: dt.datetime, limit: int) -> list[str]:
    """Take the due, unleased sources and move each one's next run on to its next slot (its ``cron``'s next
    time, else one interval on); return the ids to poll.

    Missed slots coalesce into one; a source never scheduled gets its first slot as ``monitor run`` would.
    """
    enabled = {s.id: s for s in config.enabled_sources()}
    intervals = {s.id: config.interval_seconds(s) for s in enabled.values()}
    jitter = parse_duration(config.defaults.jitter)
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
            if source_id not in intervals:  # not in this worker's sources.yaml: leave it to one that has it
                continue
            step = dt.timedelta(seconds=intervals[source_id])
            cron = enabled[source_id].cron
            if cron:  # as the service's CronTrigger: the first time the line names after now
                next_run = cron_trigger(cron, jitter).get_next_fire_time(None, now + dt.timedelta(microseconds=1))
            elif due is None:
                next_run = first_run_time(last_attempt, intervals[source_id], jitter, now)
            else:
                next_run = due + step if due + step > now else now + step
            session.execute(update(Source).where(Source.id == source_id).values(next_run_at=next_run))
            if due is not None and f"source:{source_id}" not in waiting:  # else it folds into the waiting poll
                taken.append(source_id)
    return taken


class Runtime(Service):
    """A worker process: the service's pipeline, followed bills and HTTP endpoints, driven by the job queue."""

    def __init__(self, db: Database, config: AppConfig, pipeline: Pipeline, dispatcher: Dispatcher,
                 **service: Any) -> None:
        super().__init__(db, config, **service)
        self.pipeline: Pipeline = pipeline
        self.dispatcher = dispatcher

    def sync(self, config: AppConfig) -> None:
        sync_sources_once(self.db, config)


def _runtime(context: JobContext) -> Runtime:
    runtime = context.additional_context.get("runtime")
    assert isinstance(runtime, Runtime), "tasks run only inside `monitor worker`"
    return runtime


def build_app(db: Database, settings: ClusterSettings) -> App:
    """The procrastinate app and its tasks (see the module docstring)."""
    conninfo = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
    app = App(connector=PsycopgConnector(conninfo=conninfo))

    @app.task(name=POLL_TASK, queue=POLLS, pass_context=True, retry=False)
    async def poll(context: JobContext, source_id: str) -> str:
        rt = _runtime(context)
        config = rt.config.by_id.get(source_id)
        if config is None:
            return "not in this worker's sources.yaml"
        try:
            summary = await rt.pipeline.poll(config)
        except asyncio.CancelledError:  # still running when MONITOR_SHUTDOWN_GRACE ran out
            log.warning("the poll of %s was cut off by the shutdown (polled again at once)", source_id)
            await asyncio.to_thread(in_transaction, rt.db, due_when_free, source_id)
            raise
        if summary.outcome == Outcome.SKIPPED:  # turned away by a live lease? come back when it ends
            await asyncio.to_thread(in_transaction, rt.db, due_when_free, source_id, leased_only=True)
        elif summary.alerts:
            with contextlib.suppress(exceptions.AlreadyEnqueued):  # one is already waiting: it will do
                await app.tasks["monitor.deliver"].defer_async(timestamp=int(time.time()))
        return summary.outcome

    @app.periodic(cron=cron_every(settings.dispatch_every), periodic_id="dispatch")
    @app.task(name="monitor.dispatch", queue=POLLS, priority=10, lock="monitor.dispatch",
              queueing_lock="monitor.dispatch", pass_context=True, retry=False)
    async def dispatch(context: JobContext, timestamp: int) -> str:
        rt = _runtime(context)
        await asyncio.to_thread(rt.follow_bills)
        ids = await asyncio.to_thread(claim_due, rt.db, rt.config, utcnow(), settings.batch)
        polls = [poll.configure(lock=f"source:{i}", queueing_lock=f"source:{i}").make_new_job(source_id=i)
                 for i in ids]
        try:
            if polls:
                await app.job_manager.batch_defer_jobs_async(polls)
        except exceptions.AlreadyEnqueued:  # some still wait from an earlier tick: those will do
            for job in polls:
                with contextlib.suppress(exceptions.AlreadyEnqueued):
                    await app.job_manager.defer_job_async(job)
        return f"{len(ids)} polls deferred"

    @app.periodic(cron=cron_every(settings.dispatch_every), periodic_id="sweep")
    @app.task(name="monitor.sweep", queue=POLLS, priority=10, queueing_lock="monitor.sweep", pass_context=True,
              retry=False)
    async def sweep(context: JobContext, timestamp: int) -> str:
        """Not under the dispatch lock: closing a dead worker's dispatch is what frees that lock."""
        return f"{await sweep_stalled(app, _runtime(context).db, settings.stalled_after)} stalled jobs closed"

    @app.periodic(cron=cron_every(settings.deliver_every), periodic_id="deliver")
    @app.task(name="monitor.deliver", queue=DELIVERIES, priority=10, queueing_lock="monitor.deliver",
              pass_context=True, retry=False)
    async def deliver(context: JobContext, timestamp: int) -> str:
        rt = _runtime(context)
        await asyncio.to_thread(claim_digests, rt.db)  # the digests' days, claimed once across workers
        stats = await rt.dispatcher.run_once()
        return f"{stats.sent} sent, {stats.retried} to retry, {stats.failed} failed"

    return app


def in_transaction(db: Database, fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    with db.engine.begin() as conn:
        fn(conn, *args, **kwargs)


async def sweep_stalled(app: App, db: Database, stalled_after: float) -> int:
    """Close the jobs of dead workers as failed (never back to ``todo``: that is what breaks the
    queueing lock) and make their sources due again once their row lease expires."""
    closed = 0
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        try:
            await app.job_manager.finish_job(job, status=jobs.Status.FAILED, delete_job=False)
        except exceptions.ConnectorException:
            continue  # another worker's sweep (or the job's own worker) got there first
        closed += 1
        log.warning("job %s (%s) of a dead worker closed as failed", job.id, job.call_string)
        if job.task_name == POLL_TASK and isinstance(source_id := job.task_kwargs.get("source_id"), str):
            await asyncio.to_thread(in_transaction, db, due_when_free, source_id)
    pruned = await app.job_manager.prune_stalled_workers(PRUNE_AFTER)
    if pruned:
        await asyncio.to_thread(forget_workers, db, pruned)
    return closed


def describe_worker(db: Database, worker_id: int, info: dict[str, Any]) -> None:
    with db.session() as session:
        session.merge(Setting(key=f"{WORKER_KEY}{worker_id}", value=json.dumps(info), updated_at=utcnow()))


def forget_workers(db: Database, worker_ids: list[int]) -> None:
    with db.session() as session:
        session.execute(delete(Setting).where(Setting.key.in_([f"{WORKER_KEY}{w}" for w in worker_ids])))


def worker_dispatcher(db: Database, settings: ClusterSettings, client: httpx.AsyncClient) -> Dispatcher:
    """A worker's dispatcher, which takes back at once what dead workers on any host had claimed (their lease
    owners, as ``describe_worker`` recorded them beside a heartbeat older than ``stalled_after``)."""
    def dead_lease_owners(session: Session) -> list[str]:
        described = session.scalars(text(
            "SELECT s.value FROM settings s JOIN procrastinate_workers w ON s.key = :prefix || w.id::text "
            "WHERE w.last_heartbeat < now() - make_interval(secs => :s)"),
            {"prefix": WORKER_KEY, "s": settings.stalled_after})
        return [owner for value in described if isinstance(owner := json.loads(value).get("lease_owner"), str)]

    return Dispatcher(db, client=client, known_dead=dead_lease_owners)

