"""``monitor watchlist …``, ``monitor subscribe``, ``monitor subscriptions list``."""

from __future__ import annotations

import re
import secrets
from typing import Annotated

import typer
from sqlalchemy import select

from alerts.base import channel_for_target, mask_target, split_target
from alerts.webhook import new_secret
from monitor.cli import app
from monitor.cli.common import DbOpt, JsonOpt, console, fail, open_db, print_json, print_table
from monitor.models import Subscription, Watchlist

watchlist_app = typer.Typer(help="Watchlists: the remedies you track and how loudly.", no_args_is_help=True)
subscriptions_app = typer.Typer(help="Who hears about which watchlist.", no_args_is_help=True)
app.add_typer(watchlist_app, name="watchlist")
app.add_typer(subscriptions_app, name="subscriptions")

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


@watchlist_app.command("add")
def watchlist_add(
    name: Annotated[str, typer.Argument(help="A slug: lower-case letters, digits and dashes.")],
    query: Annotated[str, typer.Option("--query", "-q", help="What to match, e.g. 'bivens ice'.")] = "",
    title: Annotated[str | None, typer.Option(help="A human title.")] = None,
    db: DbOpt = None,
) -> None:
    """Create a watchlist.

    Example: monitor watchlist add bivens --query 'bivens' --title 'Bivens claims against ICE officers'
    """
    if not SLUG.match(name):
        fail(f"watchlist name {name!r} must be a slug (lower-case letters, digits, dashes)")
    database = open_db(db)
    with database.session() as session:
        if session.scalar(select(Watchlist).where(Watchlist.name == name)) is not None:
            fail(f"watchlist {name!r} already exists")
        session.add(Watchlist(name=name, query=query, title=title, feed_token=secrets.token_urlsafe(24)))
    console.print(f"watchlist {name} created", markup=False)


@watchlist_app.command("list")
def watchlist_list(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """List watchlists.

    Example: monitor watchlist list --json
    """
    database = open_db(db)
    with database.session() as session:
        rows = list(session.scalars(select(Watchlist).order_by(Watchlist.name)))
        data = [{"name": w.name, "title": w.title, "query": w.query, "pinned": w.pinned, "paused": w.paused,
                 "subscriptions": len(w.subscriptions)} for w in rows]
    if json_out:
        print_json(data)
        return
    print_table(["name", "title", "query", "subscriptions"],
                [[d["name"], d["title"], d["query"], d["subscriptions"]] for d in data])


@app.command()
def subscribe(
    name: Annotated[str, typer.Argument(help="The watchlist name.")],
    target: Annotated[str, typer.Argument(help="Where to send: slack:https://hooks.slack.com/…")],
    db: DbOpt = None,
) -> None:
    """Subscribe a target to a watchlist's alerts.

    Example: monitor subscribe bivens slack:https://hooks.slack.com/services/T000/B000/XXXX
    """
    channel, address = split_target(target)
    cls = type(channel_for_target(target))
    cls.validate(address)
    database = open_db(db)
    with database.session() as session:
        watchlist = session.scalar(select(Watchlist).where(Watchlist.name == name))
        if watchlist is None:
            fail(f"no watchlist named {name!r} (see `monitor watchlist list`)")
        signing = new_secret() if channel == "webhook" else None
        sub = Subscription(watchlist_id=watchlist.id, channel=channel, target=target, secret=signing,
                           unsubscribe_token=secrets.token_urlsafe(24))
        session.add(sub)
        session.flush()
        console.print(f"subscription {sub.id}: {mask_target(target)} → {name}", markup=False)
        if signing:
            console.print(f"signing secret (shown once; verify webhook-signature with it): {signing}", markup=False)


@subscriptions_app.command("list")
def subscriptions_list(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """List subscriptions (targets are shown masked).

    Example: monitor subscriptions list --json
    """
    database = open_db(db)
    with database.session() as session:
        rows = list(session.scalars(select(Subscription).order_by(Subscription.id)))
        data = [{"id": s.id, "watchlist": s.watchlist.name, "channel": s.channel, "target": mask_target(s.target),
                 "mode": s.mode, "enabled": s.enabled, "disabled_reason": s.disabled_reason} for s in rows]
    if json_out:
        print_json(data)
        return
    print_table(["id", "watchlist", "target", "mode", "enabled", "disabled because"],
                [[d["id"], d["watchlist"], d["target"], d["mode"], d["enabled"], d["disabled_reason"]] for d in data])
