"""``monitor init``, ``monitor run``."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from monitor.cli import app
from monitor.cli.common import ConfigOpt, DbOpt, JsonOpt, console, fail, open_config, open_db, print_json, setup_logging


@app.command()
def init(db: DbOpt = None) -> None:
    """Create the database or upgrade it to the latest schema (safe to run again).

    Example: monitor init --db sqlite:///monitor.db
    """
    from monitor.db import Database

    database = Database(db)
    before, after = database.upgrade()
    if before == after:
        console.print(f"database is up to date (revision {after})")
    else:
        console.print(f"database upgraded from {before or 'empty'} to revision {after}")
    from monitor.drivers.workers import ensure_queue_schema  # procrastinate loads only where it is used

    if database.is_postgres and ensure_queue_schema(database):
        console.print("job queue schema (procrastinate) applied, for `monitor worker`")


@app.command("run")
def run_cmd(
    once: Annotated[bool, typer.Option("--once", help="Poll every enabled source once, deliver, and exit.")] = False,
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Only these source ids (with --once).")] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
    http: Annotated[str | None, typer.Option("--http", envvar="MONITOR_HTTP", help="Serve the HTTP endpoints on HOST:PORT (e.g. 127.0.0.1:8080).", show_default=False)] = None,
    processes: Annotated[int | None, typer.Option("--processes", "-p", min=1, envvar="MONITOR_PROCESSES", help="With --once: poll in this many processes (default: one per core, at most 4, while each gets 50 sources).", show_default=False)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Poll sources, store every version, detect changes and deliver alerts.

    With --once: one pass over every enabled source, then deliver pending alerts and exit
    (exit 1 if every source failed). Many sources are polled on every core: forked processes
    share them, and a provider's connection limit is divided between the processes that share
    it. Without --once: the long-running service; stop with Ctrl-C.

    Example: monitor run --once --config sources.yaml
    """
    from monitor.drivers.service import Service, run_pass, settle_heap  # the scheduler and HTTP stack load only to run

    setup_logging(verbose)
    cfg = open_config(config)
    database = open_db(db)
    settle_heap()
    if not once:
        asyncio.run(Service(database, cfg, http=http).run())
        return
    result = run_pass(database, cfg, source_ids=source or None, processes=processes)
    if json_out:
        print_json({
            "sources": [vars(p) | {"change_ids": None} for p in result.polls],
            "deliveries": {"sent": result.dispatch.sent, "retrying": result.dispatch.retried,
                           "failed": result.dispatch.failed},
        })
    else:
        lines = []
        for p in result.polls:
            if p.outcome == "skipped":
                line = f"{p.source_id}: skipped ({p.error})"
            elif p.outcome == "failed":
                line = f"{p.source_id}: FAILED: {p.error}"
            elif p.baseline:
                line = f"{p.source_id}: baseline: {p.seen} items stored, no alerts on a first poll"
            else:
                line = f"{p.source_id}: {p.seen} seen, {p.new} new, {p.changed} changed, {p.alerts} alerts queued"
                if p.outcome == "unchanged" and not p.seen:
                    line = f"{p.source_id}: unchanged"
            lines.append(line)
        d = result.dispatch
        lines.append(f"deliveries: {d.sent} sent, {d.retried} to retry, {d.failed} failed")
        sys.stdout.write("\n".join(lines) + "\n")  # plain text, one write: rich costs ~0.2 ms a line
    if result.all_failed:
        raise typer.Exit(1)


@app.command()
def reload(config: ConfigOpt = None) -> None:
    """Tell the running service to re-read sources.yaml (checked here first; a bad file is refused).

    The service's pid is read from monitor.pid beside sources.yaml (or MONITOR_PID_FILE).

    Example: monitor reload --config sources.yaml
    """
    import os
    import signal

    from monitor.drivers.service import pid_file_path

    cfg = open_config(config)  # a bad file stops here with its line number; the service keeps the old one
    pid_file = pid_file_path(cfg.path)
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (FileNotFoundError, ValueError):
        fail(f"no running service found ({pid_file} is missing or unreadable); start it with: monitor run")
    except ProcessLookupError:
        fail(f"the service recorded in {pid_file} is not running; start it with: monitor run")
    console.print(f"asked the service (pid {pid}) to reload {cfg.path} ({len(cfg.enabled_sources())} enabled sources)",
                  markup=False)
