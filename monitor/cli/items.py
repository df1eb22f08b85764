"""``monitor items list|show|search``, ``monitor changes list``."""

from __future__ import annotations

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
    parse_since,
    print_json,
    print_table,
    status_said,
)
from monitor.cli.watchlists import print_moves
from monitor.normalise.meanings import describe_raw
from monitor.text import cut, plural

if TYPE_CHECKING:
    from collections.abc import Sequence

    from monitor.cli.watchlist_admin import IdentityView
    from monitor.models import Item

items_app = PlainTyper(rich_markup_mode=None,
                        help="Stored items (bills, opinions, dockets, documents) and their history.",
                        no_args_is_help=True)
changes_app = PlainTyper(rich_markup_mode=None, help="Detected changes.", no_args_is_help=True)
app.add_typer(items_app, name="items")
app.add_typer(changes_app, name="changes")


def _print_items(items: list[Item], json_out: bool) -> None:
    from monitor.cli.views import item_json

    if json_out:
        print_json([item_json(i) for i in items])
        return
    print_table(["key", "kind", "status", "title", "last changed"],
                [[i.key, i.kind, i.status, cut(i.title, 80), i.last_changed] for i in items])


@items_app.command("list")
def items_list(
    source: Annotated[str | None, typer.Option("--source", "-s", metavar="ID",
                                               help="Only items of this source id.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", "-k", metavar="KIND",
                                             help="Only this kind: bill, opinion, docket, entry, document, "
                                             "article.")] = None,
    status: Annotated[str | None, typer.Option("--status", metavar="STATUS",
                                               help="Only this normalised status (e.g. in_committee, "
                                               "decided).")] = None,
    identity: Annotated[str | None, typer.Option("--identity", "-i", metavar="IDENTITY",
                                                 help="Only this identity (us/119/s/3470), or a prefix ending "
                                                 "in * (ca9/*).")] = None,
    watchlist: Annotated[str | None, typer.Option("--watchlist", "-w", metavar="NAME",
                                                  help="Only items this watchlist matches (query or pin).")] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="DATE",
                                              help="Only items changed at or after this ISO date/time.")] = None,
    limit: Annotated[int, typer.Option(metavar="N", callback=between(1),
                                       help="At most this many, newest change first.")] = 100,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List stored items, most recently changed first; says how many more there are.

    Example: monitor items list --kind bill --status in_committee --since 2026-01-01
    """
    from sqlalchemy import func, select

    from monitor.changes.match import CompiledWatchlist
    from monitor.changes.query import ITEM_KINDS
    from monitor.cli import watchlist_admin as wl
    from monitor.models import Item, Source
    from monitor.normalise.statuses import ALL_STATUSES

    after = parse_since(since)
    database = open_db(db, create=False)
    with database.session() as session:
        conditions = []
        if source:
            if session.get(Source, source) is None:
                fail(f"no source {source!r} (see `monitor sources list` or `monitor status`)")
            conditions.append(Item.source_id == source)
        if kind:
            conditions.append(Item.kind == _known("kind", kind, ITEM_KINDS))
        if status:
            conditions.append(Item.status == _known("status", status, sorted(ALL_STATUSES)))
        if identity:
            if identity.endswith("*"):
                conditions.append(Item.identity.startswith(identity.rstrip("*").strip().lower(), autoescape=True))
            else:
                conditions.append(Item.identity == wl.check_identity(identity))
        if after is not None:
            conditions.append(Item.last_changed >= after)
        if watchlist:
            compiled = CompiledWatchlist.compile(wl.get(session, watchlist))
            matched = [item for item, doc in wl.iter_items(session, *conditions) if compiled.why_matched(doc)]
            total, items = len(matched), matched[:limit]
        else:
            total = session.scalar(select(func.count()).select_from(Item).where(*conditions)) or 0
            items = list(session.scalars(select(Item).where(*conditions)
                                         .order_by(Item.last_changed.desc(), Item.id.desc()).limit(limit)))
        _print_items(items, json_out)
    if total > len(items):
        err_console.print(f"showing {len(items)} of {total} items (use --limit, or narrow with --kind, "
                          "--status, --identity, --watchlist, --since)", markup=False)


def _known(name: str, value: str, allowed: Sequence[str]) -> str:
    """A kind or status as stored, or an error naming the ones there are (a typo must not read as "none")."""
    if value.lower() not in allowed:
        fail(f"unknown {name} {value!r} (expected one of: {', '.join(allowed)})")
    return value.lower()


@items_app.command("search")
def items_search(
    query: Annotated[str, typer.Argument(metavar="QUERY",
                                         help="A query, as in watchlists (see README: Query language).")],
    limit: Annotated[int, typer.Option(metavar="N", callback=between(1),
                                       help="At most this many, newest change first.")] = 50,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Find stored items with the watchlist query language.

    Example: monitor items search 'kind:opinion cites:"596 U.S. 482"' --json
    """
    from monitor.changes.query import compile_query
    from monitor.cli import watchlist_admin as wl

    matcher = compile_query(query)
    database = open_db(db, create=False)
    with database.session() as session:
        items = []
        for item, doc in wl.iter_items(session):
            if matcher(doc):
                items.append(item)
                if len(items) >= limit:
                    break
        _print_items(items, json_out)


@items_app.command("show")
def items_show(key: Annotated[str, typer.Argument(metavar="KEY", help="The item key as `items list` prints it, or an "
                                                  "identity (us/119/s/3470) for every provider's view of it.")],
               db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """Show one item with every stored version and every detected change, or an identity as every provider sees it.

    An identity (us/119/s/3470) shows every provider's item of it side by side, whether they
    agree, and each status move with who reported it first and who confirmed it.

    Example: monitor items show us/119/s/3470
    """
    from sqlalchemy import select

    from monitor.cli import watchlist_admin as wl
    from monitor.cli.views import change_json, item_json, version_json
    from monitor.models import Change, Item

    database = open_db(db, create=False)
    with database.session() as session:
        item = session.scalar(select(Item).where(Item.key == key))
        if item is None:  # an identity: every provider's item of it
            view = wl.identity_view(session, key) if wl.IDENTITY.match(key.strip().lower()) else None
            if view is None or not view.items:
                fail(f"no item with key or identity {key!r} (see `monitor items list`)")
            _show_identity(view, json_out)
            return
        changes = list(session.scalars(select(Change).where(Change.item_id == item.id).order_by(Change.id)))
        moves = [wl.move_json(e) for e in wl.identity_view(session, item.identity).events] if item.identity else []
        data = item_json(item) | {"summary": item.summary, "versions": [version_json(v) for v in item.versions],
                                  "changes": [change_json(c) for c in changes], "moves": moves}
        if json_out:
            print_json(data)
            return
        data["raw_status"] = describe_raw(item.raw_status)
        if data["happened"] or data["latest_action_only"]:  # an undated list row's reading is marked too
            data["happened"] = status_said(data)
        for name in ("key", "source", "kind", "identity", "title", "url", "status", "happened", "status_action",
                     "raw_status", "first_seen", "last_changed"):
            if data[name] is not None:
                console.print(f"{name}: {data[name]}", markup=False, highlight=False)
        print_table(["version", "created", "hash"],
                    [[v.version, v.created_at, v.content_hash[:12]] for v in item.versions], title="versions")
        print_table(["id", "type", "field", "old", "new", "detected"],
                    [[c.id, c.type, c.field, cut(c.old, 60), cut(c.new, 60), c.detected_at] for c in changes],
                    title="changes")
        if item.identity:
            print_moves(item.identity, moves)


def _show_identity(view: IdentityView, json_out: bool) -> None:
    """Every provider's view of one identity side by side, whether they agree, and its status moves."""
    from monitor.cli import watchlist_admin as wl

    providers = [wl.provider_view(i) for i in view.items]
    moves = [wl.move_json(e) for e in view.events]
    current = view.status_item
    if json_out:
        print_json({"identity": view.identity, "agree": view.agree, "status": current.status if current else None,
                    "status_source": current.source_id if current else None, "providers": providers,
                    "moves": moves})
        return
    said = [f"{plural(len(providers), 'provider view')} ({', '.join(p['source'] for p in providers)})"]
    if len(providers) > 1:  # one provider has nobody to agree with
        said.append("they agree" if view.agree else "PROVIDERS DISAGREE")
    if current:
        said.append(f"status {current.status} (from {current.source_id})")
    console.print(f"identity: {view.identity}: " + "; ".join(said), markup=False, highlight=False)
    fields = [("title", "title"), ("kind", "kind"), ("status", "happened"), ("moved by", "status_action"),
              ("raw status", "raw_status"), ("detected", "status_changed_at"), ("key", "key"), ("url", "url")]
    rows = []
    for label, name in fields:
        cells: list[Any] = []
        for p in providers:
            value = p[name]
            if name == "happened":
                value = status_said(p, "no status")
            elif name == "raw_status":
                value = describe_raw(value) if value and value != p["status_action"] else None
            cells.append(value)
        rows.append([label, *cells])
    print_table(["", *[p["source"] for p in providers]], rows, title="every provider's view")
    print_moves(view.identity, moves)


def _old_new(old: str | None, new: str | None) -> str:
    """"old → new" for a change of value; just the value for a new item (no empty "→")."""
    if not old:
        return cut(new, 80)
    return f"{cut(old, 40)} → {cut(new, 40)}"


@changes_app.command("list")
def changes_list(
    since: Annotated[str | None, typer.Option("--since", metavar="DATE",
                                              help="Only changes detected at or after this ISO date/time.")] = None,
    source: Annotated[str | None, typer.Option("--source", "-s", metavar="ID",
                                               help="Only changes of this source id.")] = None,
    limit: Annotated[int, typer.Option(metavar="N", callback=between(1),
                                       help="At most this many, newest first.")] = 200,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List detected changes (new items, status moves, field changes), newest first.

    Example: monitor changes list --since 2026-01-01 --json
    """
    from sqlalchemy import select

    from monitor.cli.views import change_json
    from monitor.models import Change, Item

    after = parse_since(since)
    database = open_db(db, create=False)
    with database.session() as session:
        query = select(Change).join(Item).order_by(Change.id.desc()).limit(limit)
        if after is not None:
            query = query.where(Change.detected_at >= after)
        if source:
            query = query.where(Item.source_id == source)
        changes = list(session.scalars(query))
        if json_out:
            print_json([change_json(c) for c in changes])
            return
        print_table(["id", "item", "type", "field", "value (old → new)", "detected"],
                    [[c.id, c.item.key, c.type, c.field, _old_new(c.old, c.new), c.detected_at]
                     for c in changes])
