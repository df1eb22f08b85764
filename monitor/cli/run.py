"""``monitor init``, ``monitor run``."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli import app
from monitor.cli.common import (
    ConfigOpt,
    DbOpt,
    JsonOpt,
    LogFormatOpt,
    console,
    database_at,
    fail,
    open_config,
    open_db,
    print_json,
    setup_logging,
)
from monitor.text import plural

if TYPE_CHECKING:
    from monitor.db import Database
    from monitor.pipeline import PollSummary


@app.command()
def init(db: DbOpt = None) -> None:
    """Create the database or upgrade it to the latest schema (safe to run again).

    Example: monitor init --db sqlite:///monitor.db
    """
    database = database_at(db)
    before, after = database.upgrade()
    if before == after:
        console.print(f"database is up to date (revision {after})")
    else:
        console.print(f"database upgraded from {before or 'empty'} to revision {after}")
    from monitor.drivers.workers import (
        ensure_queue_schema,  # procrastinate loads only where it is used
    )

    if database.is_postgres and ensure_queue_schema(database):
        console.print("job queue schema (procrastinate) applied, for `monitor worker`")


@app.command("run")
def run_cmd(
    once: Annotated[bool, typer.Option("--once", help="Poll every enabled source once, deliver, and exit.")] = False,
    source: Annotated[list[str] | None, typer.Option("--source", "-s", metavar="ID",
                                                     help="Only these source ids (with --once).")] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
    http: Annotated[str | None, typer.Option("--http", metavar="HOST:PORT", envvar="MONITOR_HTTP",
                                             help="Serve the HTTP endpoints on HOST:PORT (e.g. 127.0.0.1:8080).",
                                             show_default=False)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    log_format: LogFormatOpt = "text",
) -> None:
    """Poll sources, store every version, detect changes and deliver alerts.

    With --once: one pass over every enabled source, delivering each poll's alerts as soon as it
    is stored, and exit (exit 1 when no source was polled: each failed, was skipped for a missing
    key, or was deferred by a budget that failed attempts spent; when a source has failed
    alert_after_failures polls in a row or is silent; or when an alert was refused for good).
    Without --once: the long-running
    service; stop with Ctrl-C.

    Example: monitor run --once --config sources.yaml
    """
    # the scheduler and HTTP stack load only to run
    from monitor.drivers.service import Service, run_once

    setup_logging(verbose, log_format)
    cfg = open_config(config)
    database = open_db(db)
    if not once:
        from monitor.web import listen

        asyncio.run(Service(database, cfg, http=listen(http) if http else None).run())
        return
    result = asyncio.run(run_once(database, cfg, source_ids=source or None))
    not_polled = [p.source_id for p in result.polls if p.outcome in ("failed", "deferred") and not _in_part(p)]
    if json_out:
        print_json({
            "sources": [vars(p) | {"change_ids": None} for p in result.polls],
            "deliveries": {"sent": result.dispatch.sent, "retrying": len(result.dispatch.waiting),
                           "failed": result.dispatch.failed},
            "not_polled": not_polled,
        })
    else:
        lines = [_poll_line(p) for p in result.polls]
        d = result.dispatch
        lines.append(f"deliveries: {d.sent} sent, {len(d.waiting)} to retry, {d.failed} failed")
        if not_polled:
            lines.append(f"not polled: {', '.join(not_polled)}")
        lines.extend(_count_line(result.polls))
        sys.stdout.write("\n".join(lines) + "\n")  # plain text in one write: rich is slower per line
    errors = []
    if _outage(database, result.polls):
        errors.append("error: no source was polled successfully: nothing is being watched (see `monitor status`)")
    down = _incidents(database, result.polls)
    if down:
        errors.append(f"error: {plural(len(down), 'source')} {'is' if len(down) == 1 else 'are'} failing or silent: "
                      f"{', '.join(down)}; see `monitor status`")
    if result.dispatch.failed:  # refused for good: a cron job must hear of it, not only the admin target
        reasons = "; ".join(dict.fromkeys(result.dispatch.errors))
        errors.append(f"error: {plural(result.dispatch.failed, 'alert')} could not be delivered ({reasons}); "
                      "see `monitor alerts list --failed`")
    if errors:
        sys.stderr.write("\n".join(errors) + "\n")
        raise typer.Exit(1)


def _in_part(p: PollSummary) -> bool:
    """A failed poll that stored what it got (one bill's file missing, the others read)."""
    return p.outcome == "failed" and p.poll_id is not None


def _count_line(polls: list[PollSummary]) -> list[str]:
    """How many sources were polled, counting only polls that read their source: a failed or
    deferred source is not polled (one that failed in part was), and an outage must not read
    like a quiet pass."""
    in_part = sum(_in_part(p) for p in polls)
    polled = sum(p.outcome in ("changed", "unchanged") for p in polls) + in_part
    if polled == len(polls) and not in_part:
        return []
    missed = {outcome: sum(p.outcome == outcome and not _in_part(p) for p in polls)
              for outcome in ("failed", "deferred", "skipped")}
    line = f"{polled} of {len(polls)} sources polled" + (f", {in_part} failed in part" if in_part else "") + "".join(
        f", {count} {outcome}" for outcome, count in missed.items() if count)
    if missed["skipped"]:
        line += ": `monitor doctor` says why and what to do"
    return [line]


def _poll_line(p: PollSummary) -> str:
    if p.outcome == "skipped":
        return f"{p.source_id}: skipped: {p.error}"
    if p.outcome == "failed" and p.poll_id is not None:  # stored what it got, missed the rest
        return (f"{p.source_id}: FAILED in part: {p.error}; {p.seen} seen, {p.new} new, {p.changed} changed, "
                f"{plural(p.alerts, 'alert')} queued")
    if p.outcome == "failed":
        return f"{p.source_id}: FAILED: {p.error}"
    if p.outcome == "deferred":
        return f"{p.source_id}: NOT POLLED, deferred: {p.error}"
    if p.baseline:
        return f"{p.source_id}: baseline: {plural(p.seen, 'item')} stored, no alerts on a first poll"
    if p.outcome == "unchanged" and not p.seen:
        return f"{p.source_id}: unchanged"
    return (f"{p.source_id}: {p.seen} seen, {p.new} new, {p.changed} changed, "
            f"{plural(p.alerts, 'alert')} queued")


def _outage(database: Database, polls: list[PollSummary]) -> bool:
    """A pass where no source was polled and some failed, were skipped (a key missing, refused
    credentials) or were deferred while not healthy: deferred after failed attempts spent the
    budget (in this pass or before), or never polled at all. A cron job must not read that as
    success. A pass over no source at all (a delivery pass) is not an outage."""
    from sqlalchemy import or_, select

    from monitor.models import Source

    if any(p.outcome in ("changed", "unchanged") or p.polled_elsewhere or _in_part(p) for p in polls):
        return False
    if any(p.outcome == "failed" or (p.outcome == "deferred" and p.requests) for p in polls):
        return True
    deferred = [p.source_id for p in polls if p.outcome == "deferred"]
    if not deferred:
        return bool(polls)  # every source skipped: none of them is watched
    with database.session() as session:
        unhealthy = session.scalars(select(Source.id).where(
            Source.id.in_(deferred), or_(Source.consecutive_failures > 0, Source.last_success_at.is_(None))))
        return any(True for _ in unhealthy)


def _incidents(database: Database, polls: list[PollSummary]) -> list[str]:
    """This pass's sources whose incident is open (failed ``alert_after_failures`` polls in a row, a
    refused key, or silent past ``expect_items_within``), each with why: an outage that has lasted,
    which a cron job must hear of; a blip (one failed poll) is only listed."""
    from sqlalchemy import select

    from monitor.models import Source

    polled = {p.source_id for p in polls}
    with database.session() as session:
        rows = session.execute(select(Source.id, Source.consecutive_failures, Source.incident_reason)
                               .where(Source.incident_open.is_(True)).order_by(Source.id)).all()
    return [f"{row.id} (failed {plural(row.consecutive_failures, 'poll')} in a row)" if row.consecutive_failures
            else f"{row.id} ({(row.incident_reason or '').partition(' ')[2] or 'silent'})"
            for row in rows if row.id in polled]


WORKERS = " (workers read sources.yaml when they start: restart them instead)"


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
        fail(f"no running service found ({pid_file} is missing or unreadable); start it with: monitor run{WORKERS}")
    except ProcessLookupError:
        fail(f"the service recorded in {pid_file} is not running; start it with: monitor run{WORKERS}")
    console.print(f"asked the service (pid {pid}) to reload {cfg.path} ({len(cfg.enabled_sources())} enabled sources)",
                  markup=False)
