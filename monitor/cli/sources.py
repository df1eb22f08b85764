"""``monitor sources list|check``, ``monitor status``."""

from __future__ import annotations

import asyncio
import os
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli import app
from monitor.cli.common import (
    ConfigOpt,
    DbOpt,
    JsonOpt,
    PlainTyper,
    between,
    console,
    database_at,
    fail,
    open_config,
    open_db,
    print_json,
    print_table,
)
from monitor.cli.worker import cluster_section
from monitor.errors import ConfigError, MonitorError
from monitor.text import cut, plural

if TYPE_CHECKING:
    from monitor.db import Database
    from monitor.sources import ItemRecord

sources_app = PlainTyper(rich_markup_mode=None, help="Configured sources.", no_args_is_help=True)
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
    print_table(["id", "kind", "enabled", "interval"],
                [[d["id"], d["kind"], d["enabled"], d["interval"]] for d in data])


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
    source_id: Annotated[str, typer.Argument(metavar="SOURCE_ID", help="The source id in sources.yaml.")],
    limit: Annotated[int, typer.Option(metavar="N", callback=between(1),
                                       help="How many of the parsed items to print.")] = 20,
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
                [[r.key, r.kind, r.identity, r.status, cut(r.title, 80)] for r in records[:limit]],
                title=f"{source_id}: {plural(len(records), 'item')} parsed, nothing stored")
    if len(records) > limit:
        console.print(f"… and {len(records) - limit} more", markup=False)


def _configured(config: ConfigOpt) -> tuple[set[str], dict[str, str], str | None]:
    """The source ids in sources.yaml, for each one skipped for a missing key why ("skipped: needs
    CONGRESS_API_KEY"), and why nothing configured is watched: the file cannot be read, or no
    enabled source can run. No file where it looks is no problem (status may run beside the
    database only); a file there, or one --config names, that fails is."""
    from monitor.config import config_path
    from monitor.pipeline import build_source, missing_env

    try:
        cfg = open_config(config)
    except MonitorError as exc:
        there = config is not None or config_path().exists()  # --config names it; else only a file that is there
        return set(), {}, f"{exc} (the table shows the database only)" if there else None
    skipped = {}
    enabled = cfg.enabled_sources()
    for source_config in enabled:
        missing = missing_env(build_source(source_config))
        if missing:
            skipped[source_config.id] = f"skipped: needs {', '.join(missing)}"
    problem = None
    if len(skipped) == len(enabled):  # as run --once: a service that polls nothing is not healthy
        problem = (f"no enabled source can run: {len(skipped)} {'needs' if len(skipped) == 1 else 'need'} a key "
                   "(`monitor doctor` says which)"
                   if skipped else f"{cfg.path} enables no source")
    return {s.id for s in cfg.sources}, skipped, problem


@app.command()
def status(db: DbOpt = None, config: ConfigOpt = None, json_out: JsonOpt = False) -> None:
    """Show each source's health; exits 1 when any enabled source is failing or silent.

    Exits 1 too when sources.yaml is there but cannot be read, or no enabled source in it can run
    (every one needs a key that is not set): then nothing is watched.
    Deferred polls (a provider budget was spent) show the reason and when the next request is
    allowed; a source skipped for a missing key names the key. Sources no longer in sources.yaml
    that never polled or stored anything (an unconfigured push endpoint) are left out.

    Example: monitor status --json
    """
    from sqlalchemy import func, select

    from monitor.cli.views import source_health
    from monitor.models import Item, Source, utcnow

    database = open_db(db, create=False)
    today = utcnow().date()
    configured, skipped, config_problem = _configured(config)
    with database.session() as session:
        counts = session.execute(select(Item.source_id, func.count()).group_by(Item.source_id))
        items: dict[str, int] = {source_id: count for source_id, count in counts}
        rows = [source_health(s, today) for s in session.scalars(select(Source).order_by(Source.id))]
    rows = [r for r in rows if r.id in configured or r.polls or items.get(r.id) or not configured]
    for r in rows:
        r.items_seen = items.get(r.id, 0)  # items stored now, not the sum of every poll's
    if json_out:
        print_json([asdict(r) | {"failing": r.failing, "skipped": skipped.get(r.id)} for r in rows])
    else:
        print_table(
            ["source", "outcome", "last attempt", "last success", "fails", "req today", "unchanged", "items",
             "next run", "problem"],
            [[r.id, (r.last_outcome or ("skipped" if r.id in skipped else "not polled yet")) if r.enabled
              else "disabled", r.last_attempt, r.last_success,
              r.consecutive_failures, r.requests_today,
              f"{r.unchanged_ratio:.0%}" if r.unchanged_ratio is not None else None, r.items_seen, r.next_run,
              r.incident or r.last_error or r.deferred_reason or skipped.get(r.id)] for r in rows])
        cluster_section(database)
    if config_problem:  # the service would not start, or would watch nothing: not a healthy state
        fail(config_problem)
    if any(r.failing for r in rows):
        raise typer.Exit(1)


@sources_app.command("budget")
def sources_budget(config: ConfigOpt = None, db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Each provider's planned requests a day for the enabled sources (and the bills followed so
    far, when there is a database), against its published limit.

    Exits 1 when a provider would be asked for more than its limit (config validation refuses such a
    config; this command shows by how much).

    Example: monitor sources budget
    """
    from monitor.budget import PUBLISHED, plan
    from monitor.config import load_config
    from monitor.follow import with_followed

    cfg = load_config(config, check_budget=False)
    database = _existing_database(db)
    if database is not None:
        cfg = with_followed(cfg, database)
        database.dispose()
    plans = plan(cfg)
    limits = {p.provider: PUBLISHED.get(p.provider, "no published limit" if p.limit_per_day is None
                                        else "from sources.yaml providers:") for p in plans}
    if json_out:
        print_json([{"provider": p.provider, "per_day": round(p.per_day, 1), "limit_per_day": p.limit_per_day,
                     "limit": limits[p.provider], "sources": len(p.sources), "over": p.over} for p in plans])
    else:
        print_table(["provider", "requests/day", "limit/day", "published limit", "sources", ""],
                    [[p.provider, f"{p.per_day:,.0f}", f"{p.limit_per_day:,.0f}" if p.limit_per_day else "—",
                      limits[p.provider], len(p.sources), "OVER" if p.over else "ok"] for p in plans],
                    title="planned requests per day (each source's worst case)")
    if any(p.over for p in plans):
        raise typer.Exit(1)


# The one-line fix for each key a source kind needs: where to get it (free) and which variable to set.
KEY_FIXES: dict[str, str] = {
    "CONGRESS_API_KEY": "a free api.data.gov key from https://api.congress.gov/sign-up/ "
                        "(or https://api.data.gov/signup/), then export CONGRESS_API_KEY=…",
    "OPENSTATES_API_KEY": "a free Open States key: sign up at https://open.pluralpolicy.com/accounts/signup/, "
                          "copy it from https://open.pluralpolicy.com/accounts/profile/, then export "
                          "OPENSTATES_API_KEY=…",
    "LEGISCAN_API_KEY": "a free LegiScan key: register at https://legiscan.com/user/register, request the key "
                        "at https://legiscan.com/legiscan, then export LEGISCAN_API_KEY=…",
    "COURTLISTENER_TOKEN": "a free CourtListener token: sign up at https://www.courtlistener.com/sign-in/register/, "
                           "copy it from https://www.courtlistener.com/profile/api/, then export COURTLISTENER_TOKEN=…",
}
EMAIL_NEEDS = frozenset({"MONITOR_SMTP_URL", "MONITOR_PUBLIC_URL"})  # a mail server; the unsubscribe link
DELIVERY_FIXES: tuple[tuple[str, str, str], ...] = (
    ("MONITOR_SMTP_URL", "email alerts and digests",
     "export MONITOR_SMTP_URL=smtp://user:pass@host:587?starttls=1 (and MONITOR_MAIL_FROM)"),
    ("MONITOR_ADMIN_TARGET", "admin notices (a failing source, a disabled subscription)",
     "export MONITOR_ADMIN_TARGET=slack:https://hooks.slack.com/services/… or email:you@example.org"),
    ("MONITOR_PUBLIC_URL", "unsubscribe links and watchlist feeds in alerts",
     "export MONITOR_PUBLIC_URL=https://monitor.example.org"),
)


def _setting_error(name: str) -> str | None:
    """Why a set delivery variable cannot work, read as its sender reads it; None when it can."""
    from alerts.email import smtp_config
    from monitor.cli.subscriptions import check_target

    try:
        if name == "MONITOR_SMTP_URL":
            smtp_config()
        elif name == "MONITOR_ADMIN_TARGET":
            check_target(os.environ[name])
    except ConfigError as exc:
        return str(exc)
    return None


@app.command()
def doctor(config: ConfigOpt = None, db: DbOpt = None) -> None:
    """What works now, what is skipped and why, and the one-line fix for each missing piece.

    Exits 0 when everything configured can run (sources that need a key you have not set are
    skipped by design, each with its fix); 1 for an invalid sources.yaml, a provider planned over
    its limit, email subscriptions without an SMTP server or the public URL their links need, or a
    subscription disabled by its receiver's refusal.

    Example: monitor doctor
    """
    from collections import Counter

    from rich.text import Text

    from monitor.budget import plan
    from monitor.config import load_config
    from monitor.pipeline import build_source, missing_env

    problems = 0
    try:
        cfg = load_config(config, check_budget=False)
    except MonitorError as exc:
        fail(str(exc))
    enabled = cfg.enabled_sources()
    missing: dict[str, list[str]] = {}
    runnable: Counter[str] = Counter()
    for source in enabled:
        needs = missing_env(build_source(source))  # what run --once skips it for
        for name in needs:
            missing.setdefault(name, []).append(source.id)
        if not needs:
            runnable[source.kind] += 1
    disabled = len(cfg.sources) - len(enabled)
    console.print(Text.assemble(("Sources", "bold"), f" ({cfg.path}): {sum(runnable.values())} of {len(enabled)} "
                                f"enabled sources can run now{f', {disabled} disabled' if disabled else ''}"),
                  highlight=False)  # Text, not markup: a path may hold brackets
    console.print("  works now: " + (", ".join(f"{n} {k}" for k, n in runnable.most_common()) or "nothing"),
                  markup=False)
    for name, ids in sorted(missing.items()):
        need = "needs" if len(ids) == 1 else "need"
        console.print(f"  skipped: {plural(len(ids), 'source')} {need} {name} ({_few(ids)}); "
                      f"fix: {KEY_FIXES.get(name, f'set {name}')}", markup=False)
    over = [p for p in plan(cfg) if p.over]
    for p in over:
        problems += 1
        console.print(f"  problem: {p.provider} planned at {p.per_day:,.0f} requests a day, over its limit of "
                      f"{p.limit_per_day:,.0f}; fix: lengthen intervals (see `monitor sources budget`)", markup=False)
    if not over:
        console.print("  budgets: every provider within its published limit (`monitor sources budget`)", markup=False)

    console.print("[bold]Delivery[/]", highlight=False)
    found = _subscription_channels(db)
    channels, disabled_subscriptions = found if found is not None else (None, [])
    for name, purpose, fix in DELIVERY_FIXES:
        error = _setting_error(name) if os.environ.get(name) else None
        if error:
            problems += 1
            console.print(f"  problem: {name}: {error}; fix: {fix}", markup=False)
        elif os.environ.get(name):
            console.print(f"  {name}: set ({purpose})", markup=False)
        elif name in EMAIL_NEEDS and channels and channels.get("email"):
            problems += 1
            console.print(f"  problem: {plural(channels['email'], 'email subscription')} but no {name}; fix: {fix}",
                          markup=False)
        else:
            console.print(f"  {name}: not set, so no {purpose}; fix: {fix}", markup=False)
    if channels is None:
        console.print("  database: none yet; `monitor run --once` (or `monitor init`) creates it", markup=False)
    else:
        console.print("  subscriptions: " + (", ".join(f"{n} {c}" for c, n in sorted(channels.items()))
                                             or "none yet; fix: monitor watchlist import --starter, then "
                                                "monitor subscribe <watchlist> <target>"), markup=False)
    for line in disabled_subscriptions:
        problems += 1
        console.print(f"  problem: {line}; fix: its target, or `monitor alerts retry --all-failed` once it "
                      "answers again", markup=False)
    console.print("everything configured can run" if not problems else f"{plural(problems, 'problem')} to fix",
                  markup=False)
    if problems:
        raise typer.Exit(1)


def _few(ids: list[str], shown: int = 3) -> str:
    return ", ".join(ids[:shown]) + (f", … {len(ids) - shown} more" if len(ids) > shown else "")


def _existing_database(db_url: str | None) -> Database | None:
    """The database if one exists there, never creating one (these commands only read)."""
    from monitor.db import sqlite_path

    database = database_at(db_url)
    path = sqlite_path(database.url)
    if (path is not None and not path.exists()) or database.current_revision() is None:
        database.dispose()
        return None
    return database


def _subscription_channels(db_url: str | None) -> tuple[dict[str, int], list[str]] | None:
    """Subscriptions per channel (``email``, ``slack``, …) and a line for each disabled one (its
    alerts go nowhere until someone acts), or None when there is no database yet."""
    from sqlalchemy import select

    from alerts.base import mask_target
    from monitor.models import Subscription

    database = _existing_database(db_url)
    if database is None:
        return None
    counts: dict[str, int] = {}
    disabled: list[str] = []
    try:
        with database.session() as session:
            for sub in session.scalars(select(Subscription).order_by(Subscription.id)):
                channel = sub.target.split(":", 1)[0]
                counts[channel] = counts.get(channel, 0) + 1
                if not sub.enabled and not sub.unsubscribed:  # an unsubscribe is the recipient's word
                    disabled.append(f"subscription {sub.id} ({mask_target(sub.target)}) on {sub.watchlist.name} is "
                                    f"disabled: {cut(sub.disabled_reason or 'by an operator', 120)}")
    finally:
        database.dispose()
    return counts, disabled
