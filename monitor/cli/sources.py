"""``monitor sources list``, ``monitor status``."""

from __future__ import annotations

import typer
from sqlalchemy import select

from monitor.cli import app
from monitor.cli.common import ConfigOpt, DbOpt, JsonOpt, open_config, open_db, print_json, print_table
from monitor.cli.worker import cluster_section
from monitor.models import Source

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
    """Show each source's health; exits 1 when any enabled source is failing.

    Example: monitor status --json
    """
    database = open_db(db)
    with database.session() as session:
        rows = list(session.scalars(select(Source).order_by(Source.id)))
        data = [{"id": s.id, "kind": s.kind, "enabled": s.enabled, "last_attempt": s.last_attempt_at,
                 "last_success": s.last_success_at, "consecutive_failures": s.consecutive_failures,
                 "last_error": s.last_error, "last_outcome": s.last_outcome, "polls": s.polls_total,
                 "unchanged_polls": s.polls_unchanged, "items_seen": s.items_seen} for s in rows]
    if json_out:
        print_json(data)
    else:
        print_table(["source", "last success", "failures", "last outcome", "last error"],
                    [[d["id"], d["last_success"], d["consecutive_failures"], d["last_outcome"], d["last_error"]]
                     for d in data])
        cluster_section(database)
    if any(d["enabled"] and d["consecutive_failures"] for d in data):
        raise typer.Exit(1)
