"""``monitor worker`` (scale out on PostgreSQL) and ``monitor workers`` (the cluster's health)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import signal
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli import app
from monitor.cli.common import (
    ConfigOpt,
    DbOpt,
    JsonOpt,
    LogFormatOpt,
    between,
    console,
    database_at,
    open_config,
    open_db,
    print_json,
    print_table,
    setup_logging,
)
from monitor.errors import ConfigError, MonitorError

if TYPE_CHECKING:  # procrastinate loads only when a worker or the cluster status needs it
    from procrastinate import App
    from procrastinate.worker import Worker

    from monitor.config import AppConfig
    from monitor.db import Database
    from monitor.drivers.workers import ClusterSettings


def parse_queues(text: str) -> list[str]:
    from monitor.drivers.workers import QUEUES

    names = [q.strip() for q in text.split(",") if q.strip()]
    unknown = sorted(set(names) - set(QUEUES))
    if not names or unknown:
        raise typer.BadParameter(f"unknown queue {', '.join(unknown) or '(none)'}; "
                                 f"expected some of: {', '.join(QUEUES)}")
    return names


@app.command("worker")
def worker_cmd(
    concurrency: Annotated[int, typer.Option("--concurrency", "-n", metavar="N", callback=between(1),
                                             help="Jobs this worker runs at once.")] = 4,
    queues: Annotated[str, typer.Option("--queues", "-q", metavar="QUEUES",
                                        help="Comma-separated queues to serve: "
                                        "polls, deliveries.")] = "polls,deliveries",
    db: DbOpt = None,
    config: ConfigOpt = None,
    http: Annotated[str | None, typer.Option("--http", metavar="HOST:PORT", envvar="MONITOR_HTTP",
                                             help="Also serve the HTTP endpoints on HOST:PORT.",
                                             show_default=False)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    log_format: LogFormatOpt = "text",
) -> None:
    """Run one worker of a PostgreSQL deployment; start as many as you like, on any machines.

    Workers share the database: each source is polled by one worker at a time, at its
    interval, and each alert is sent once. Needs PostgreSQL (on SQLite use `monitor run`).
    SIGINT/SIGTERM finish running jobs (up to MONITOR_SHUTDOWN_GRACE, 30 s by default) and stop.

    Example: monitor worker --concurrency 8 --queues polls,deliveries
    """
    from monitor.drivers import shutdown_grace
    from monitor.drivers.workers import (
        ClusterSettings,
        ensure_queue_schema,
        require_postgres,
        sync_sources_once,
    )

    names = parse_queues(queues)
    setup_logging(verbose, log_format)
    if not verbose:  # one line per job start and end drowns what matters
        logging.getLogger("procrastinate").setLevel(logging.WARNING)
    database = database_at(db)
    require_postgres(database, "monitor worker")
    cfg = open_config(config)
    settings = ClusterSettings.from_env()
    grace = shutdown_grace()
    database.ensure_schema()
    ensure_queue_schema(database)
    sync_sources_once(database, cfg)
    from monitor.web import listen

    listener = listen(http) if http else None
    asyncio.run(run_worker(database, cfg, settings, queues=names, concurrency=concurrency, grace=grace, http=listener))


LOST_DATABASE = ("the worker stopped: it lost the database (the log above says how); start it again "
                 "(a supervisor restarting failures does)")


async def run_worker(db: Database, config: AppConfig, settings: ClusterSettings, *, queues: list[str],
                     concurrency: int, grace: float, http: socket.socket | None = None) -> None:
    from procrastinate.exceptions import ConnectorException
    from procrastinate.worker import Worker

    from alerts.http import channel_client
    from monitor.drivers.workers import Runtime, build_app, forget_workers, worker_dispatcher
    from monitor.fetch import Fetcher
    from monitor.models import utcnow
    from monitor.pipeline import Pipeline

    queue_app = build_app(db, settings)
    async with Fetcher() as fetcher, queue_app.open_async(), channel_client() as client:
        dispatcher = worker_dispatcher(db, settings, client)
        runtime = Runtime(db, config, Pipeline(db, config, fetcher), dispatcher, http=http)
        worker = Worker(queue_app, queues=queues, concurrency=concurrency, name=f"monitor-{os.getpid()}",
                        additional_context={"runtime": runtime}, update_heartbeat_interval=settings.heartbeat,
                        stalled_worker_timeout=settings.stalled_after, shutdown_graceful_timeout=grace,
                        delete_jobs="successful", install_signal_handlers=False)
        loop = asyncio.get_running_loop()
        asked = _stop_on_signal(loop, worker)
        beating = asyncio.create_task(_beat_while_stopping(queue_app, worker, asked, settings.heartbeat))
        info = {"host": socket.gethostname(), "pid": os.getpid(), "queues": queues, "concurrency": concurrency,
                "started_at": utcnow().isoformat(), "lease_owner": dispatcher.owner}
        announce = asyncio.create_task(_announce(worker, db, info))
        logging.getLogger(__name__).info(
            "worker monitor-%d started: queues %s, concurrency %d, %d sources%s", os.getpid(),
            ",".join(queues), concurrency, len(config.enabled_sources()),
            ", HTTP on {}:{}".format(*http.getsockname()[:2]) if http else "")
        http_task = asyncio.create_task(runtime.serve_http()) if http else None
        # SIGHUP reloads `monitor run`; its default action would kill a worker with its jobs held
        loop.add_signal_handler(signal.SIGHUP, logging.getLogger(__name__).warning,
                                "SIGHUP: a worker reads sources.yaml when it starts; "
                                "restart the worker to apply changes")
        try:
            await worker.run()  # type: ignore[no-untyped-call]
        except ConnectorException as exc:  # it could not even unregister: the database is still away
            raise MonitorError(LOST_DATABASE) from exc
        finally:
            loop.remove_signal_handler(signal.SIGHUP)
            beating.cancel()
            announce.cancel()
            runtime.stopping.set()
            if http_task is not None:
                await http_task
        if not asked.is_set():  # procrastinate stops by itself when its heartbeat or listener loses the database
            raise MonitorError(LOST_DATABASE)
        # only now: after a lost database the row stays for the sweep to prune (removing it needs the database)
        if announce.done() and not announce.cancelled():
            await asyncio.to_thread(forget_workers, db, [announce.result()])


def _stop_on_signal(loop: asyncio.AbstractEventLoop, worker: Worker) -> asyncio.Event:
    """SIGINT/SIGTERM stop the worker gracefully, as procrastinate's own handlers do, and are recorded, so a
    stop nobody asked for exits non-zero; a second signal has its default effect."""
    asked = asyncio.Event()

    def stop() -> None:
        asked.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        worker.stop()  # type: ignore[no-untyped-call]

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    return asked


async def _beat_while_stopping(queue_app: App, worker: Worker, asked: asyncio.Event, every: float) -> None:
    """Keep the heartbeat going while running jobs finish after SIGINT/SIGTERM: procrastinate stops its own as
    soon as the stop begins, and a silent worker is taken for dead, its claimed deliveries sent again."""
    from procrastinate.exceptions import ConnectorException

    await asked.wait()
    with contextlib.suppress(ConnectorException):  # the database is away: nobody can read a beat anyway
        while worker.worker_id is not None:  # procrastinate clears it once the worker is unregistered
            await queue_app.job_manager.update_heartbeat(worker.worker_id)
            await asyncio.sleep(every)


async def _announce(worker: Worker, db: Database, info: dict[str, Any]) -> int:
    """Record who this worker is (host, pid, queues) once procrastinate has given it an id."""
    from monitor.drivers.workers import describe_worker

    while worker.worker_id is None:
        await asyncio.sleep(0.05)
    await asyncio.to_thread(describe_worker, db, worker.worker_id, info)
    return worker.worker_id


@dataclass
class WorkerInfo:
    id: int
    last_heartbeat: dt.datetime
    alive: bool
    running: int = 0
    host: str | None = None
    pid: int | None = None
    queues: list[str] = field(default_factory=list)
    concurrency: int | None = None


@dataclass
class ClusterStatus:
    workers: list[WorkerInfo]
    queues: dict[str, dict[str, int]]  # queue -> {"todo": n, "doing": n, "failed": n}
    stalled: list[dict[str, Any]]  # running jobs of dead workers, not yet swept


def cluster_status(db: Database) -> ClusterStatus | None:
    """Workers, queue depth and stalled jobs of a PostgreSQL database; None before any worker made the job queue."""
    from sqlalchemy import text

    from monitor.drivers.workers import QUEUE_TABLE, QUEUES, WORKER_KEY, ClusterSettings

    stalled_after = {"s": ClusterSettings.from_env().stalled_after}
    with db.engine.connect() as conn:
        if not conn.scalar(QUEUE_TABLE):
            return None
        workers = []
        for worker_id, beat, alive, running, info in conn.execute(text(
                "SELECT w.id, w.last_heartbeat, w.last_heartbeat > now() - make_interval(secs => :s), "
                "(SELECT count(*) FROM procrastinate_jobs j WHERE j.worker_id = w.id AND j.status = 'doing'), "
                "s.value FROM procrastinate_workers w LEFT JOIN settings s ON s.key = :prefix || w.id::text "
                "ORDER BY w.id"), stalled_after | {"prefix": WORKER_KEY}):
            said = json.loads(info or "{}")  # as describe_worker recorded it
            workers.append(WorkerInfo(worker_id, beat, alive, running, host=said.get("host"), pid=said.get("pid"),
                                      queues=said.get("queues", []), concurrency=said.get("concurrency")))
        queues: dict[str, dict[str, int]] = {q: {"todo": 0, "doing": 0, "failed": 0} for q in QUEUES}
        for queue, status, count in conn.execute(text(
                "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs "
                "WHERE status IN ('todo', 'doing', 'failed') GROUP BY queue_name, status::text")):
            queues.setdefault(queue, {"todo": 0, "doing": 0, "failed": 0})[status] = count
        stalled = [dict(row._mapping) for row in conn.execute(text(
            "SELECT j.id, j.task_name, j.queue_name, j.args, j.worker_id FROM procrastinate_jobs j "
            "LEFT JOIN procrastinate_workers w ON w.id = j.worker_id WHERE j.status = 'doing' "
            "AND (j.worker_id IS NULL OR w.last_heartbeat < now() - make_interval(secs => :s)) ORDER BY j.id"),
            stalled_after)]
    return ClusterStatus(workers=workers, queues=queues, stalled=stalled)


def cluster_data(status: ClusterStatus) -> dict[str, Any]:
    return {
        "workers": [vars(w) for w in status.workers],
        "queues": status.queues,
        "stalled_jobs": status.stalled,
    }


def print_cluster(status: ClusterStatus) -> None:
    """The cluster section of ``monitor status``: workers, queue depth, stalled jobs."""
    from monitor.models import utcnow

    print_table(["worker", "host", "pid", "queues", "alive", "last heartbeat", "running"],
                [[w.id, w.host, w.pid, ",".join(w.queues), "yes" if w.alive else "NO",
                  f"{(utcnow() - w.last_heartbeat).total_seconds():.0f}s ago", w.running] for w in status.workers],
                title="Workers")
    print_table(["queue", "waiting", "running", "failed"],
                [[q, c["todo"], c["doing"], c["failed"]] for q, c in sorted(status.queues.items())], title="Queues")
    if status.stalled:
        console.print(f"{len(status.stalled)} stalled jobs (their worker stopped; the next dispatch closes them): "
                      + ", ".join(f"{j['task_name']}#{j['id']}" for j in status.stalled), markup=False)


def cluster_section(database: Database) -> None:
    """Print the cluster section when the database runs a job queue (for ``monitor status``)."""
    if not database.is_postgres:  # no job queue on SQLite
        return
    status = cluster_status(database)
    if status is not None:
        print_cluster(status)


@app.command("workers")
def workers_cmd(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Show the workers (alive, last heartbeat), queue depth and stalled jobs; exit 1 if no
    worker is running, a worker is dead or a job is stalled.

    Example: monitor workers --json
    """
    from monitor.drivers.workers import require_postgres

    database = database_at(db)
    require_postgres(database, "monitor workers")
    database = open_db(db, create=False)  # it only reads: a database without our schema is refused, not filled
    status = cluster_status(database)
    if status is None:
        raise ConfigError("no job queue in this database yet: start a worker (monitor worker) or run monitor init")
    if json_out:
        print_json(cluster_data(status))
    else:
        print_cluster(status)
    if not any(w.alive for w in status.workers):
        raise ConfigError("no worker is running: nothing is polled or delivered (start `monitor worker`)")
    if status.stalled or not all(w.alive for w in status.workers):
        raise typer.Exit(1)
