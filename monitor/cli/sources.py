"""``monitor sources list|check``, ``monitor status``."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli import app
from monitor.cli.common import ConfigOpt, DbOpt, JsonOpt, console, fail, open_config, open_db, print_json, print_table
from monitor.cli.worker import cluster_section
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from monitor.sources import ItemRecord

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


async def _test_fetch(config_id: str, config: ConfigOpt) -> list[ItemRecord]:
    from monitor.fetch import DEFAULT_MAX_BYTES, Fetcher, PollClient
    from monitor.pipeline import build_source, missing_env
    from monitor.sanity import sanity_check
    from monitor.sources import FetchState

    cfg = open_config(config)
    source_config = cfg.get(config_id)
    source = build_source(source_config)
    missing = missing_env(source)
    if missing:
        fail(f"source {config_id!r} needs {', '.join(missing)} set to fetch")
    async with Fetcher(retries=0) as fetcher:
        client = PollClient(fetcher, config_id, max_bytes=source_config.max_bytes or DEFAULT_MAX_BYTES)
        fetched = await source.fetch(client, FetchState(config_id))
    records = source.parse(fetched)
    sanity_check(records)
    return records


@sources_app.command("check")
def sources_check(
    source_id: Annotated[str, typer.Argument(help="The source id in sources.yaml.")],
    limit: Annotated[int, typer.Option(min=1, help="How many of the parsed items to print.")] = 20,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Validate sources.yaml, then fetch and parse one source WITHOUT storing; print what it would store.

    Example: monitor sources check dhs-oig-reports --json
    """
    try:
        records = asyncio.run(_test_fetch(source_id, config))
    except MonitorError as exc:
        fail(f"source {source_id!r}: {type(exc).__name__.removesuffix('Error').lower()}: {exc}")
    if json_out:
        print_json({"source": source_id, "items": len(records), "records": [r.snapshot() for r in records[:limit]]})
        return
    print_table(["key", "kind", "identity", "status", "title"],
                [[r.key, r.kind, r.identity, r.status, r.title[:80]] for r in records[:limit]],
                title=f"{source_id}: {len(records)} item(s) parsed, nothing stored")
    if len(records) > limit:
        console.print(f"… and {len(records) - limit} more", markup=False)


@app.command()
def status(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Show each source's health; exits 1 when any enabled source is failing or silent.

    Deferred polls (a provider budget was spent) show the reason and when the next request is allowed.

    Example: monitor status --json
    """
    from sqlalchemy import select

    from monitor.store.health import source_health
    from monitor.models import Source, utcnow

    database = open_db(db, create=False)
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
        cluster_section(database)
    if any(r.failing for r in rows):
        raise typer.Exit(1)
