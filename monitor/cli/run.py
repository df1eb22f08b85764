"""``monitor init``, ``monitor run``."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from monitor.cli import app
from monitor.cli.common import ConfigOpt, DbOpt, JsonOpt, console, open_config, open_db, print_json, setup_logging
from monitor.db import Database
from monitor.queue import ensure_queue_schema
from monitor.service import Service, run_once


@app.command()
def init(db: DbOpt = None) -> None:
    """Create the database or upgrade it to the latest schema (safe to run again).

    Example: monitor init --db sqlite:///monitor.db
    """
    database = Database(db)
    before, after = database.upgrade()
    if before == after:
        console.print(f"database is up to date (revision {after})")
    else:
        console.print(f"database upgraded from {before or 'empty'} to revision {after}")
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
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Poll sources, store every version, detect changes and deliver alerts.

    With --once: one pass over every enabled source, then deliver pending alerts and exit
    (exit 1 if every source failed). Without: the long-running service; stop with Ctrl-C.

    Example: monitor run --once --config sources.yaml
    """
    setup_logging(verbose)
    cfg = open_config(config)
    database = open_db(db)
    if not once:
        asyncio.run(Service(database, cfg, http=http).run())
        return
    result = asyncio.run(run_once(database, cfg, source_ids=source or None))
    if json_out:
        print_json({
            "sources": [vars(p) | {"change_ids": None} for p in result.polls],
            "deliveries": {"sent": result.dispatch.sent, "retrying": result.dispatch.retried,
                           "failed": result.dispatch.failed},
        })
    else:
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
            console.print(line, markup=False)
        d = result.dispatch
        console.print(f"deliveries: {d.sent} sent, {d.retried} to retry, {d.failed} failed", markup=False)
    if result.all_failed:
        raise typer.Exit(1)
