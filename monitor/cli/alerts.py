"""``monitor alerts list|show|retry`` (the delivery ledger) and ``monitor digest preview``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from monitor.cli import app
from monitor.cli.common import (
    MAX_ID,
    DbOpt,
    JsonOpt,
    PlainTyper,
    between,
    console,
    fail,
    open_db,
    print_json,
    print_table,
)
from monitor.text import plural

if TYPE_CHECKING:
    from monitor.models import Delivery

alerts_app = PlainTyper(rich_markup_mode=None, help="The delivery ledger: what was sent, what failed, and why.",
                         no_args_is_help=True)
digest_app = PlainTyper(rich_markup_mode=None, help="Daily email digests.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
app.add_typer(digest_app, name="digest")


def _row(d: Delivery) -> dict[str, Any]:
    from alerts.base import mask_target

    change = d.change
    return {"id": d.id, "kind": d.kind, "state": d.state, "attempts": d.attempts,
            "target": mask_target(d.subscription.target) if d.subscription else "admin",
            "watchlist": d.subscription.watchlist.name if d.subscription else None, "rule": d.rule,
            "item": change.item.title if change else (d.payload or {}).get("text"),
            "change": f"{change.type}{':' + change.field if change and change.field else ''}" if change else None,
            "created_at": d.created_at, "sent_at": d.sent_at, "next_attempt_at": d.next_attempt_at,
            "last_error": d.last_error}


@alerts_app.command("list")
def alerts_list(
    failed: Annotated[bool, typer.Option("--failed", help="Only deliveries that failed for good.")] = False,
    limit: Annotated[int, typer.Option(metavar="N", callback=between(1), help="How many, newest first.")] = 50,
    db: DbOpt = None, json_out: JsonOpt = False,
) -> None:
    """List deliveries, newest first.

    Example: monitor alerts list --failed --json
    """
    from sqlalchemy import select

    from monitor.models import Delivery
    from monitor.outbox.states import DeliveryState

    database = open_db(db, create=False)
    with database.session() as session:
        query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
        if failed:
            query = query.where(Delivery.state == DeliveryState.FAILED)
        data = [_row(d) for d in session.scalars(query)]
    if json_out:
        print_json(data)
        return
    print_table(["id", "state", "tries", "watchlist", "item", "target", "last error"],
                [[d["id"], d["state"], d["attempts"], d["watchlist"], d["item"], d["target"], d["last_error"]]
                 for d in data])


@alerts_app.command("show")
def alerts_show(delivery_id: Annotated[int, typer.Argument(metavar="DELIVERY_ID", callback=between(1, MAX_ID),
                                                           help="The delivery id from `monitor alerts list`.")],
                db: DbOpt = None, json_out: JsonOpt = False) -> None:
    """One delivery with every attempt and the receiver's answer.

    Example: monitor alerts show 42
    """
    from sqlalchemy import select

    from monitor.models import Delivery, DeliveryAttempt

    database = open_db(db, create=False)
    with database.session() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None:
            fail(f"no delivery {delivery_id} (see `monitor alerts list`)")
        data = _row(delivery)
        data["attempts_log"] = [{"at": a.at, "outcome": a.outcome, "status": a.status_code, "answer": a.response}
                                for a in session.scalars(select(DeliveryAttempt).where(
                                    DeliveryAttempt.delivery_id == delivery_id).order_by(DeliveryAttempt.id))]
    if json_out:
        print_json(data)
        return
    for key, value in data.items():
        if key != "attempts_log":
            console.print(f"{key}: {'' if value is None else value}", markup=False)
    print_table(["at", "outcome", "status", "answer"],
                [[a["at"], a["outcome"], a["status"], a["answer"]] for a in data["attempts_log"]], title="attempts")


@alerts_app.command("retry")
def alerts_retry(
    delivery_id: Annotated[int | None, typer.Argument(metavar="DELIVERY_ID", callback=between(1, MAX_ID),
                                                      help="The failed delivery to send again.")] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="Retry every failed delivery.")] = False,
    db: DbOpt = None,
) -> None:
    """Queue failed deliveries again (and re-enable their subscriptions).

    Example: monitor alerts retry --all-failed
    """
    from sqlalchemy import select, update

    from monitor.models import Delivery, utcnow
    from monitor.outbox.states import DeliveryState

    if (delivery_id is None) == (not all_failed):
        raise typer.BadParameter("give a delivery ID or --all-failed, not both")
    database = open_db(db, create=False)
    with database.session() as session:
        query = select(Delivery).where(Delivery.state == DeliveryState.FAILED)
        if delivery_id is not None:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None:
                fail(f"no delivery {delivery_id} (see `monitor alerts list`)")
            if delivery.state != DeliveryState.FAILED:
                fail(f"delivery {delivery_id} is {delivery.state}, not failed: nothing to retry")
            # its whole message: resent under its id, it must carry what it carried the first time
            query = query.where(Delivery.message_id == delivery.message_id if delivery.message_id
                                else Delivery.group_key == delivery.group_key)
        # an alert failed because its recipient unsubscribed stays failed: a retry never subscribes them again
        rows = [row for row in session.scalars(query) if row.subscription is None or not row.subscription.unsubscribed]
        if delivery_id is not None and not rows:
            fail(f"delivery {delivery_id}: its recipient unsubscribed; only they can subscribe again")
        now = utcnow()
        for row in rows:
            if row.subscription is not None and not row.subscription.enabled:
                row.subscription.enabled = True
                row.subscription.disabled_reason = None
        session.execute(update(Delivery).where(Delivery.id.in_([r.id for r in rows]))
                        .values(state=DeliveryState.PENDING, next_attempt_at=now, created_at=now, last_error=None))
    console.print(f"{plural(len(rows), 'delivery', 'deliveries')} queued again; the dispatcher sends them "
                  "within seconds", markup=False)


@digest_app.command("preview")
def digest_preview(
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help=(
        "Where to write it: an email digest's HTML, another channel's message as JSON (Slack's blocks)."))],
    subscription: Annotated[int | None, typer.Option("--subscription", metavar="ID", help="A subscription id.")] = None,
    email: Annotated[str | None, typer.Option("--email", metavar="ADDR",
                                              help="Every digest subscription of this address.")] = None,
    date: Annotated[str | None, typer.Option("--date", metavar="YYYY-MM-DD",
                                             help="The local date, YYYY-MM-DD (default: today).")] = None,
    db: DbOpt = None,
) -> None:
    """Render exactly the digest that would be sent, without sending it.

    Example: monitor digest preview --email ana@example.org --out digest.html
    """
    from sqlalchemy import select

    from alerts import channel_for_target
    from alerts.base import zone_or_utc
    from monitor.delivery.digest import preview_message
    from monitor.models import Subscription, utcnow

    if (subscription is None) == (email is None):
        fail("give --subscription ID or --email ADDR")
    database = open_db(db, create=False)
    with database.session() as session:
        query = select(Subscription).where(Subscription.mode == "digest")
        query = query.where(Subscription.id == subscription) if subscription is not None else \
            query.where(Subscription.target == f"email:{email}")
        subs = list(session.scalars(query.order_by(Subscription.id)))
        if not subs:
            fail("no digest subscription matches (see `monitor subscriptions list`)")
        try:
            day = dt.date.fromisoformat(date) if date else utcnow().astimezone(zone_or_utc(subs[0].timezone)).date()
        except ValueError:
            fail(f"--date {date!r}: expected YYYY-MM-DD")
        message = preview_message(session, subs, day)
        rendered = channel_for_target(subs[0].target, secret=subs[0].secret).render(message)
    html = rendered.get("html")  # an email; another channel's digest is the message it would post
    out.write_text(str(html) if html is not None else json.dumps(rendered, indent=2, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    console.print(f"{message.subject()}\nwritten to {out}", markup=False)
