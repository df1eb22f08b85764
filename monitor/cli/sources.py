"""``monitor sources list``, ``monitor status``."""

from __future__ import annotations

from dataclasses import asdict

import typer
from sqlalchemy import select

from monitor.cli import app
from monitor.cli.common import ConfigOpt, DbOpt, JsonOpt, open_config, open_db, print_json, print_table
from monitor.models import Source, utcnow

sources_app = typer.Typer(help="Configured sources.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")


@sources_app.command("list")
def sources_list(config: ConfigOpt = None, json_out: JsonOpt = False) -> None:
    """List the sources in sources.yaml (validates the file).

    Example: monitor sources list --config sources.yaml
    """
    cfg = open_config(config)
    data = [{"id": s.id, "kind": s.kind, "enabled": s.enabled, "interval": s.interval or cfg.defaults.interval,
             "line": cfg.lines.get(s.id)} for s in cfg.sources]
    if json_out:
        print_json(data)
        return
    print_table(["id", "kind", "enabled", "interval"], [[d["id"], d["kind"], d["enabled"], d["interval"]] for d in data])


@app.command()
def status(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Show each source's health; exits 1 when any enabled source is failing or silent.

    Deferred polls (a provider budget was spent) show the reason and when the next request is allowed.

    Example: monitor status --json
    """
    from monitor.health import source_health

    database = open_db(db)
    today = utcnow().date()
    with database.session() as session:
        rows = [source_health(s, today) for s in session.scalars(select(Source).order_by(Source.id))]
    if json_out:
        print_json([asdict(r) | {"failing": r.failing} for r in rows])
    else:
        print_table(
            ["source", "outcome", "last attempt", "last success", "fails", "req today", "unchanged", "items",
             "next run", "problem"],
            [[r.id, r.last_outcome if r.enabled else "disabled", r.last_attempt, r.last_success,
              r.consecutive_failures, r.requests_today,
              f"{r.unchanged_ratio:.0%}" if r.unchanged_ratio is not None else None, r.items_seen, r.next_run,
              r.incident or r.last_error or r.deferred_reason] for r in rows])
    if any(r.failing for r in rows):
        raise typer.Exit(1)
