"""``monitor watchlist add|list|show|edit|remove|pause|resume|snooze|pin|unpin|preview|import|export``."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli import app
from monitor.cli.common import (
    DbOpt,
    JsonOpt,
    PlainTyper,
    between,
    console,
    err_console,
    fail,
    open_db,
    print_json,
    print_table,
    status_said,
)
from monitor.errors import ConfigError
from monitor.text import cut, plural

if TYPE_CHECKING:
    from monitor.cli import watchlist_admin as wl
    from monitor.db import Database

watchlist_app = PlainTyper(rich_markup_mode=None,
                            help="Watchlists: the remedies you track, what they follow and how loudly.",
                            no_args_is_help=True)
app.add_typer(watchlist_app, name="watchlist")

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The watchlist's name (a slug).", show_default=False)]
QueryOpt = Annotated[str | None, typer.Option("--query", "-q", metavar="QUERY",
                                              help="What to match (see README: Query language).",
                                              show_default=False)]
TitleOpt = Annotated[str | None, typer.Option(metavar="TEXT", help="A human title.", show_default=False)]
DescriptionOpt = Annotated[str | None, typer.Option(metavar="TEXT", help="What this remedy is about.",
                                                    show_default=False)]
PinOpt = Annotated[list[str] | None, typer.Option("--pin", metavar="IDENTITY",
                                                  help="Follow this identity whatever its text says "
                                                  "(repeatable), e.g. us/119/s/3470.", show_default=False)]
MuteOpt = Annotated[list[str] | None, typer.Option("--mute", metavar="TEXT", help="Keep entries with this phrase quiet "
                                                   "(repeatable), e.g. 'pro hac vice'.", show_default=False)]
OnNewOpt = Annotated[bool | None, typer.Option("--on-new/--no-on-new", help="Alert on new matching items.",
                                               show_default=False)]
OnStatusOpt = Annotated[str | None, typer.Option("--on-status", metavar="ladder|any|off",
                                                 help="Status changes that alert: ladder (moves "
                                                 "forward), any, off.", show_default=False)]
OnFieldOpt = Annotated[bool | None, typer.Option("--on-field/--no-on-field", help="Alert on any other field "
                                                 "change.", show_default=False)]
FollowOpt = Annotated[bool | None, typer.Option("--follow-matches/--no-follow-matches", help="Follow a new bill "
                                                "a discovery feed finds and this matches (poll its status).",
                                                show_default=False)]
ConfirmOpt = Annotated[int | None, typer.Option("--confirm", metavar="N", callback=between(1, 5),
                                                help="Hold a status move until this "
                                                "many providers reported it (2: wait for a second provider).",
                                                show_default=False)]
ConfirmTimeoutOpt = Annotated[str | None, typer.Option("--confirm-timeout", metavar="DURATION",
                                                       help="How long a held status move waits "
                                                       "for confirmation before it goes out marked 'reported by X "
                                                       "only' (e.g. 12h, 2d; default 24h).", show_default=False)]
DaysOpt = Annotated[int, typer.Option("--days", metavar="N", callback=between(1, 3650),
                                      help="How many days of stored items to use.")]


def _spec(base: dict[str, Any], **changes: Any) -> wl.WatchlistSpec:
    """Validate a new or edited watchlist; problems become one ConfigError line."""
    from pydantic import ValidationError

    from monitor.changes.query import compile_query
    from monitor.cli import watchlist_admin as wl

    if changes.get("query") is not None:
        compile_query(changes["query"])  # a QueryError shows the query with a caret
    data = base | {k: v for k, v in changes.items() if v is not None}
    try:
        return wl.WatchlistSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{'.'.join(map(str, err['loc']))}: {err['msg'].removeprefix('Value error, ')}") from None


def _warn_if_noisy(database: Database, spec: wl.WatchlistSpec) -> None:
    from monitor.cli import watchlist_admin as wl

    with database.session() as session:
        result = wl.preview(session, spec, days=30)
    if result.too_many:
        err_console.print(
            f"warning: this watchlist would send about {result.per_day:.0f} alerts a day (more than "
            f"{wl.ALERTS_PER_DAY_WARNING}), judging by the stored items it matches; consider narrowing the "
            "query (see `monitor watchlist preview`)", markup=False)


def _save(database: Database, spec: wl.WatchlistSpec, *, create: bool) -> None:
    from sqlalchemy import select

    from monitor.cli import watchlist_admin as wl
    from monitor.models import Watchlist

    with database.session() as session:
        exists = session.scalar(select(Watchlist.id).where(Watchlist.name == spec.name)) is not None
        if create and exists:
            fail(f"watchlist {spec.name!r} already exists (use `monitor watchlist edit`)")
        wl.apply(session, spec)


@watchlist_app.command("add")
def watchlist_add(name: NameArg, query: QueryOpt = None, title: TitleOpt = None, description: DescriptionOpt = None,
                  pin: PinOpt = None, mute: MuteOpt = None, on_new: OnNewOpt = None, on_status: OnStatusOpt = None,
                  on_field: OnFieldOpt = None, follow_matches: FollowOpt = None, confirm: ConfirmOpt = None,
                  confirm_timeout: ConfirmTimeoutOpt = None, db: DbOpt = None) -> None:
    """Create a watchlist; warns when its query would send more than 30 alerts a day.

    Example: monitor watchlist add bivens --query 'bivens OR cites:"596 U.S. 482"' --pin us/119/s/3187 --confirm 2
    """
    spec = _spec({"name": name}, query=query, title=title, description=description, pinned=pin, muted=mute,
                 on_new=on_new, on_status=on_status, on_field=on_field, follow_matches=follow_matches,
                 confirm=confirm, confirm_timeout=confirm_timeout)
    if not spec.query.strip() and not spec.pinned:
        fail(f"watchlist {name} would match nothing: give --query (e.g. --query '{name}') or --pin IDENTITY")
    database = open_db(db)
    _save(database, spec, create=True)
    console.print(f"watchlist {name} created", markup=False)
    _warn_if_noisy(database, spec)


@watchlist_app.command("feed")
def watchlist_feed(name: NameArg, db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Show the URL of a watchlist's Atom feed, with its token (for a feed reader).

    The feed is served by `monitor run --http` (or a `monitor worker --http`); the URL starts
    with MONITOR_PUBLIC_URL. Anyone with the URL can read the feed: share it like a password.

    Example: monitor watchlist feed bivens
    """
    import os
    import secrets
    from urllib.parse import quote

    from monitor.cli import watchlist_admin as wl

    database = open_db(db, create=False)
    with database.session() as session:
        watchlist = wl.get(session, name)
        if not watchlist.feed_token:  # a watchlist from before feed tokens
            watchlist.feed_token = secrets.token_urlsafe(24)
        token = watchlist.feed_token
        subscribed = any(sub.enabled for sub in watchlist.subscriptions)
    base = os.environ.get("MONITOR_PUBLIC_URL", "").rstrip("/")
    path = f"/feeds/{quote(name)}.atom?token={token}"
    if json_out:
        print_json({"watchlist": name, "url": f"{base}{path}" if base else None, "path": path, "token": token})
        return
    if base:
        console.print(f"{base}{path}", markup=False, soft_wrap=True)
    else:
        console.print(path, markup=False, soft_wrap=True)
        err_console.print("note: set MONITOR_PUBLIC_URL (e.g. https://monitor.example.org) to get the full URL; "
                          "the path above is served by `monitor run --http HOST:PORT`", markup=False)
    if not subscribed:
        err_console.print(f"note: {name} has no subscription: the feed lists the alerts sent to its subscribers, "
                          f"so it stays empty until one is added (`monitor subscribe {name} TARGET`)", markup=False)


@watchlist_app.command("edit")
def watchlist_edit(name: NameArg, query: QueryOpt = None, title: TitleOpt = None,
                   description: DescriptionOpt = None, mute: MuteOpt = None,
                   clear_muted: Annotated[bool, typer.Option("--clear-muted",
                                                             help="Remove every muted phrase.")] = False,
                   on_new: OnNewOpt = None, on_status: OnStatusOpt = None, on_field: OnFieldOpt = None,
                   follow_matches: FollowOpt = None, confirm: ConfirmOpt = None,
                   confirm_timeout: ConfirmTimeoutOpt = None, db: DbOpt = None) -> None:
    """Change a watchlist's query, title, description, alert rules, following, confirmation or muted phrases
    (--mute replaces them).

    Example: monitor watchlist edit bivens --query 'bivens ice' --on-status any --confirm 2 --confirm-timeout 12h
    """
    from monitor.cli import watchlist_admin as wl

    database = open_db(db, create=False)
    with database.session() as session:
        current = wl.WatchlistSpec.of(wl.get(session, name)).model_dump()
    spec = _spec(current, query=query, title=title, description=description,
                 muted=[] if clear_muted else mute, on_new=on_new, on_status=on_status, on_field=on_field,
                 follow_matches=follow_matches, confirm=confirm, confirm_timeout=confirm_timeout)
    _save(database, spec, create=False)
    console.print(f"watchlist {name} updated", markup=False)
    if query is not None:
        _warn_if_noisy(database, spec)


@watchlist_app.command("list")
def watchlist_list(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """List watchlists with their query, pins and state.

    Example: monitor watchlist list --json
    """
    from sqlalchemy import select

    from monitor.cli import watchlist_admin as wl
    from monitor.models import Watchlist

    database = open_db(db, create=False)
    with database.session() as session:
        rows = list(session.scalars(select(Watchlist).order_by(Watchlist.name)))
        data = [wl.WatchlistSpec.of(w).data() | {"subscriptions": len(w.subscriptions)} for w in rows]
    if json_out:
        print_json(data)
        return
    print_table(["name", "title", "pins", "state", "subs", "query"],
                [[d["name"], d["title"], len(d["pinned"]), _state(d), d["subscriptions"], cut(d["query"], 60)]
                 for d in data])


def _state(data: dict[str, Any]) -> str:
    from monitor.models import utcnow

    if data["paused"]:
        return "paused"
    if data["snooze_until"] and dt.datetime.fromisoformat(data["snooze_until"]) > utcnow():
        return f"snoozed until {data['snooze_until'][:16]}"
    return "active"


@watchlist_app.command("show")
def watchlist_show(name: NameArg,
                   limit: Annotated[int, typer.Option(metavar="N", callback=between(1),
                                                      help="How many latest matching items.")] = 10,
                   db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """The remedy board: each pinned identity's status as every source reports it, then the latest matches.

    Example: monitor watchlist show federal-legislation --json
    """
    from monitor.cli import watchlist_admin as wl

    database = open_db(db, create=False)
    with database.session() as session:
        data = wl.board(session, wl.get(session, name), limit=limit)
    if json_out:
        print_json(data)
        return
    from rich.markup import escape

    console.print(f"[bold]{escape(data['name'])}[/]: {escape(data['title'] or '')}", highlight=False)
    for label in ("description", "query"):
        if data[label]:
            console.print(f"{label}: {data[label]}", markup=False)
    console.print(f"alerts: new={'on' if data['on_new'] else 'off'} status={data['on_status']} "
                  f"fields={'on' if data['on_field'] else 'off'}; muted: {', '.join(data['muted']) or '—'}; "
                  f"follow matches={'on' if data['follow_matches'] else 'off'}; "
                  f"{_state(data)}; {plural(data['subscriptions'], 'subscription')}", markup=False)
    if data["confirm"] > 1:
        from monitor.changes.events import duration_text

        console.print(f"status moves wait for {data['confirm']} providers, at most "
                      f"{duration_text(data['confirm_timeout'])}", markup=False)
    from monitor.normalise.meanings import describe_raw

    rows = []
    for pin in data["pinned_status"]:
        if not pin["sources"]:
            rows.append([pin["identity"], "—", "not seen yet", "", "", ""])
        for s in pin["sources"]:
            raw = s["raw_status"] if s["raw_status"] != s["status_action"] else None
            rows.append([pin["identity"], s["source"], status_said(s), s["status_changed_at"],
                         cut(s["status_action"], 100), cut(describe_raw(raw), 60)])
    if rows:
        print_table(["identity", "source", "status (action date)", "detected", "moved by", "raw status"], rows,
                    title="pinned")
    for pin in data["pinned_status"]:
        _print_agreement(pin["identity"], pin["agree"], pin["sources"])
        print_moves(pin["identity"], pin["moves"])
    if data["following"]:
        print_table(["bill", "status", "since", "why", "title"],
                    [[f["label"], f["happened"] or f["status"] or "not polled yet", f["followed_at"], f["notice"],
                      cut(f["title"], 60)]
                     for f in data["following"]], title="followed (tracked because they matched)")
    print_table(["last changed", "kind", "status (action date)", "title", "key"],
                [[i["last_changed"], i["kind"], status_said(i), cut(i["title"], 80), i["key"]]
                 for i in data["latest"]],
                title="latest matching items")


def _print_agreement(identity: str, agree: bool, sources: list[dict[str, Any]]) -> None:
    """One line per identity seen by several providers: do they agree on its status?"""
    if len(sources) < 2:
        return
    if agree:
        console.print(f"{identity}: {len(sources)} providers agree", markup=False)
        return
    views = "; ".join(f"{s['source']} says {s['happened'] or s['status'] or '—'}" for s in sources)
    console.print(f"{identity}: PROVIDERS DISAGREE: {views}", markup=False)


def print_moves(identity: str, moves: list[dict[str, Any]]) -> None:
    """The identity's status moves with their evidence: who saw each first, who confirmed it."""
    if not moves:
        return
    rows = [[m["happened"] or m["status"], m["first_source"] + ("" if m["alerted"] else " (before alerts began)"),
             m["first_seen_at"], ", ".join(f"{c['source']} ({c['at']:%Y-%m-%d %H:%M})" for c in m["confirmed_by"])
             or "not yet confirmed"] for m in moves]
    print_table(["move", "first reported by", "detected", "confirmed by"], rows, title=f"{identity}: status moves")


@watchlist_app.command("remove")
def watchlist_remove(name: NameArg,
                     yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
                     db: DbOpt = None) -> None:
    """Delete a watchlist and its subscriptions (history stays; export it first to keep it).

    Example: monitor watchlist remove bivens --yes
    """
    from monitor.cli import watchlist_admin as wl

    database = open_db(db, create=False)
    with database.session() as session:
        watchlist = wl.get(session, name)
        count = len(watchlist.subscriptions)
        if not yes and not sys.stdin.isatty():
            fail(f"not removed: confirm with `monitor watchlist remove {name} --yes` (no terminal to ask on)")
        if not yes and not typer.confirm(f"remove watchlist {name} and its {plural(count, 'subscription')}?"):
            fail("not removed")
        session.delete(watchlist)
    console.print(f"watchlist {name} removed with {plural(count, 'subscription')}", markup=False)


def _update(db: str | None, name: str, **values: Any) -> None:
    from monitor.cli import watchlist_admin as wl

    database = open_db(db, create=False)
    with database.session() as session:
        watchlist = wl.get(session, name)
        for key, value in values.items():
            setattr(watchlist, key, value)


@watchlist_app.command("pause")
def watchlist_pause(name: NameArg, db: DbOpt = None) -> None:
    """Stop a watchlist: nothing matches, nothing is queued, until `resume`.

    Example: monitor watchlist pause ftca
    """
    _update(db, name, paused=True)
    console.print(f"watchlist {name} paused", markup=False)


@watchlist_app.command("resume")
def watchlist_resume(name: NameArg, db: DbOpt = None) -> None:
    """Undo `pause` and `snooze`.

    Example: monitor watchlist resume ftca
    """
    _update(db, name, paused=False, snooze_until=None)
    console.print(f"watchlist {name} active", markup=False)


def parse_until(text: str, now: dt.datetime) -> dt.datetime:
    """``7d`` / ``12h`` from now, or an ISO date (midnight UTC) or date-time."""
    from monitor.durations import parse_duration

    try:
        return now + dt.timedelta(seconds=parse_duration(text))
    except ValueError as exc:
        if "longer than" in str(exc):
            raise typer.BadParameter(str(exc)) from None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither a duration (7d, 12h) nor an ISO date (2026-02-01)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@watchlist_app.command("snooze")
def watchlist_snooze(name: NameArg,
                     until: Annotated[str, typer.Argument(metavar="UNTIL",
                                                          help="A duration (7d, 12h) or an ISO date/time (UTC).")],
                     db: DbOpt = None) -> None:
    """No immediate alerts until a date; changes stay in history and reach the first digest after it.

    Example: monitor watchlist snooze bivens 7d
    """
    from monitor.models import utcnow

    now = utcnow()
    when = parse_until(until, now)
    if when <= now:
        raise typer.BadParameter(f"{until!r} is in the past")
    _update(db, name, snooze_until=when)
    console.print(f"watchlist {name} snoozed until {when:%Y-%m-%d %H:%M} UTC", markup=False)


@watchlist_app.command("pin")
def watchlist_pin(name: NameArg,
                  identities: Annotated[list[str], typer.Argument(metavar="IDENTITIES",
                                                                  help="Identities, e.g. us/119/s/3470.")],
                  db: DbOpt = None) -> None:
    """Follow identities (bills, cases) whatever their text says.

    Example: monitor watchlist pin federal-legislation us/119/s/3470 il/104/hb/1312
    """
    from monitor.cli import watchlist_admin as wl

    wanted = [wl.check_identity(i) for i in identities]
    database = open_db(db, create=False)
    with database.session() as session:
        watchlist = wl.get(session, name)
        watchlist.pinned = list(dict.fromkeys([*(watchlist.pinned or []), *wanted]))
        pinned = watchlist.pinned
    console.print(f"watchlist {name} pins: {', '.join(pinned)}", markup=False)


@watchlist_app.command("unpin")
def watchlist_unpin(name: NameArg,
                    identities: Annotated[list[str], typer.Argument(metavar="IDENTITIES",
                                                                    help="Identities to stop following.")],
                    db: DbOpt = None) -> None:
    """Stop following identities.

    Example: monitor watchlist unpin federal-legislation us/119/hr/503
    """
    from monitor.cli import watchlist_admin as wl

    database = open_db(db, create=False)
    with database.session() as session:
        watchlist = wl.get(session, name)
        drop = {i.strip().lower() for i in identities}
        missing = drop - set(watchlist.pinned or [])
        if missing:
            fail(f"watchlist {name} does not pin {', '.join(sorted(missing))}")
        watchlist.pinned = [p for p in watchlist.pinned or [] if p not in drop]
        pinned = watchlist.pinned
    console.print(f"watchlist {name} pins: {', '.join(pinned) or '—'}", markup=False)


@watchlist_app.command("preview")
def watchlist_preview(
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="Preview this watchlist (or give --query).",
                                               show_default=False)] = None,
    query: QueryOpt = None, days: DaysOpt = 30,
    limit: Annotated[int, typer.Option(metavar="N", callback=between(1), help="How many hits to list.")] = 20,
    db: DbOpt = None, json_out: JsonOpt = False,
) -> None:
    """Run a query over the stored items of the last days: the hits and the alerts a day it would send.

    Example: monitor watchlist preview --query 'kind:opinion cites:"596 U.S. 482"' --days 30
    """
    from monitor.cli import watchlist_admin as wl

    if (name is None) == (query is None):
        raise typer.BadParameter("give a watchlist NAME or --query, not both")
    database = open_db(db, create=False)
    with database.session() as session:
        spec = (wl.WatchlistSpec.of(wl.get(session, name)) if name else _spec({"name": "preview"}, query=query))
        result = wl.preview(session, spec, days=days, limit=limit)
        hits: list[dict[str, Any]] = [{"key": i.key, "source": i.source_id, "kind": i.kind, "title": i.title,
                                       "status": i.status, "last_changed": i.last_changed} for i in result.latest]
    data = {"query": spec.query, "days": days, "covered_days": round(result.covered_days, 2), "hits": result.hits,
            "alerts": result.alerts, "alerts_per_day": round(result.per_day, 2), "too_many": result.too_many,
            "latest": hits}
    if json_out:
        print_json(data)
        return
    print_table(["last changed", "kind", "status", "title", "key"],
                [[h["last_changed"], h["kind"], h["status"], cut(h["title"], 80), h["key"]] for h in hits],
                title=f"{plural(result.hits, 'hit')} in the last {plural(days, 'day')}")
    paced = result.paced
    dated = f"{len(paced)} matching items not muted, dated in the last {result.days} days"
    if paced and paced[0] < result.since:
        dated = (f"{len(paced)} matching items not muted, dated {min(paced):%Y-%m-%d} to {max(paced):%Y-%m-%d}, "
                 f"none in the last {result.days} days")
    console.print(f"estimated alerts: ≈ {result.per_day:.1f} a day ({result.alerts} from the changes of the "
                  f"last {result.covered_days:.1f} days; {dated})", markup=False)
    if result.too_many:
        err_console.print(f"warning: more than {wl.ALERTS_PER_DAY_WARNING} alerts a day; consider narrowing the query",
                          markup=False)


@watchlist_app.command("import")
def watchlist_import(
    file: Annotated[Path | None, typer.Argument(metavar="FILE", help="A YAML file as `export` writes it.",
                                                show_default=False, dir_okay=False)] = None,
    starter: Annotated[bool, typer.Option("--starter", help="Load the shipped starter set (Bivens, qualified "
                                          "immunity, FTCA, ...).")] = False,
    db: DbOpt = None, json_out: JsonOpt = False,
) -> None:
    """Create or update watchlists from YAML; the whole file is checked before anything is saved.

    Example: monitor watchlist import --starter
    """
    from monitor.cli import watchlist_admin as wl

    if (file is None) == (not starter):
        raise typer.BadParameter("give a FILE or --starter, not both")
    specs = (wl.parse_file(wl.starter_text(), "starter_watchlists.yaml") if starter
             else wl.load_file(file))  # type: ignore[arg-type]
    database = open_db(db)
    with database.session() as session:
        results = [{"name": s.name, "result": wl.apply(session, s)} for s in specs]
    if json_out:
        print_json(results)
        return
    for r in results:
        console.print(f"{r['name']}: {r['result']}", markup=False)


@watchlist_app.command("export")
def watchlist_export(
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="Only this watchlist (default: all).",
                                               show_default=False)] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", metavar="FILE",
                                                help="Write to this file instead of stdout.",
                                                show_default=False, dir_okay=False)] = None,
    db: DbOpt = None,
) -> None:
    """Write watchlists as YAML (subscriptions are not exported: their targets are secrets).

    Example: monitor watchlist export -o watchlists.yaml
    """
    from sqlalchemy import select

    from monitor.cli import watchlist_admin as wl
    from monitor.models import Watchlist

    database = open_db(db, create=False)
    with database.session() as session:
        rows = [wl.get(session, name)] if name else list(session.scalars(select(Watchlist).order_by(Watchlist.id)))
        text = wl.dump([wl.WatchlistSpec.of(w) for w in rows])
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    console.print(f"{plural(len(rows), 'watchlist')} written to {output}", markup=False)
