"""Subscriber links: one-click unsubscribe (RFC 8058) and a per-watchlist Atom feed.

- ``GET /unsubscribe/<token>`` shows a confirmation page with a button; only ``POST`` (the
  button, or what mail clients send for ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``)
  disables the subscription. ``HEAD`` (Starlette answers it through the GET route), mail
  scanners and link previewers change nothing. No cookies, no login: the token is the capability.
  ``?all=1`` (the link in a combined digest) disables every digest subscription of the same target.
- ``GET /feeds/<watchlist>.atom?token=…``: the watchlist's latest alerts for feed readers.

Tokens are ``secrets.token_urlsafe`` values; they are compared with ``hmac.compare_digest`` so
the answer time says nothing about how much of a guess was right.
"""

from __future__ import annotations

import hmac
import xml.etree.ElementTree as ET

from markupsafe import escape
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from alerts.base import MessageChange
from monitor.db import Database
from monitor.delivery.dispatcher import message_change
from monitor.models import UNSUBSCRIBED, Delivery, Subscription, Watchlist
from monitor.outbox.states import DeliveryState

FEED_ENTRIES = 50
ATOM = "http://www.w3.org/2005/Atom"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title></head>"
            f"<body style='font-family:sans-serif;max-width:40em;margin:2em auto'>{body}</body></html>")
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def find_subscription(db: Database, token: str) -> int | None:
    """The subscription whose token equals ``token``, compared in constant time."""
    with db.session() as session:
        rows = session.execute(select(Subscription.id, Subscription.unsubscribe_token)
                               .where(Subscription.unsubscribe_token.is_not(None))).all()
    found = None
    for sub_id, stored in rows:
        if hmac.compare_digest(str(stored).encode(), token.encode()):
            found = sub_id
    return found


async def unsubscribe(request: Request) -> Response:
    db: Database = request.app.state.db
    token = request.path_params["token"]
    sub_id = find_subscription(db, token)
    if sub_id is None:
        return _page("Unknown link",
                     "<p>This unsubscribe link is not valid (or was already used and removed).</p>", 404)
    every = request.query_params.get("all") == "1"
    with db.session() as session:
        sub = session.get(Subscription, sub_id)
        assert sub is not None
        name = sub.watchlist.title or sub.watchlist.name
        if request.method != "POST" and sub.unsubscribed and not every:
            return _page("Unsubscribed", f"<h1>Unsubscribed</h1><p>You are already unsubscribed from alerts for "
                         f"“{escape(name)}”.</p>")
        if request.method != "POST":  # GET, and HEAD through the GET route: read-only
            action = f"/unsubscribe/{token}" + ("?all=1" if every else "")
            what = "all your digests" if every else f"alerts for “{escape(name)}”"
            return _page("Unsubscribe", f"<h1>Unsubscribe</h1><p>Stop {what}?</p>"
                         f"<form method=post action='{escape(action)}'><button type=submit>Unsubscribe</button></form>")
        subs = [sub]
        if every:
            subs = list(session.scalars(select(Subscription).where(Subscription.target == sub.target,
                                                                   Subscription.mode == sub.mode)))
        for each in subs:
            each.enabled = False
            each.disabled_reason = UNSUBSCRIBED
    return _page("Unsubscribed", f"<h1>Unsubscribed</h1><p>You will get no more alerts for “{escape(name)}”"
                 + (" or your other digests" if every else "") + ".</p>")


def atom_feed(watchlist: Watchlist, changes: list[MessageChange], base_url: str, self_url: str) -> bytes:
    """The watchlist's latest alerts as Atom (RFC 4287); pure. `self_url` is the feed's own address, which
    feed readers and validators expect in a rel="self" link."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    sub(feed, "id", f"urn:remedy-monitor:watchlist:{watchlist.name}")
    sub(feed, "title", f"Remedy Monitor: {watchlist.title or watchlist.name}")
    updated = max((c.detected_at for c in changes if c.detected_at), default=watchlist.created_at)
    sub(feed, "updated", updated.isoformat())
    sub(sub(feed, "author"), "name", "Remedy Monitor")
    sub(feed, "link", rel="self", href=self_url)
    if base_url:
        sub(feed, "link", rel="alternate", href=base_url)
    for change in changes:
        entry = sub(feed, "entry")
        # one poll's changes of an item share their detection time: a field edit's id also names its field
        edited = f":{change.field}" if change.type == "field" else ""
        sub(entry, "id", f"urn:remedy-monitor:change:{change.item_key}:{change.detected_at:%Y%m%dT%H%M%S%f}{edited}"
            if change.detected_at else f"urn:remedy-monitor:item:{change.item_key}{edited}")
        sub(entry, "title", change.headline())
        sub(entry, "updated", (change.detected_at or updated).isoformat())
        if change.url and change.url.startswith(("http://", "https://")):
            sub(entry, "link", rel="alternate", href=change.url)
        source = f"Source: {change.source_id}" + (f" ({change.source_url})" if change.source_url else "")
        evidence, when = [source, *change.evidence()], change.when()
        if change.edit():
            evidence.insert(0, str(change.edit()))
        if when:
            evidence.append(when)
        sub(entry, "summary", "\n".join([change.headline(), *evidence]))
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))


async def watchlist_feed(request: Request) -> Response:
    db: Database = request.app.state.db
    name = request.path_params["name"]
    token = request.query_params.get("token", "")
    if "\x00" in name:  # no watchlist has one, and PostgreSQL refuses NUL in a text parameter
        return Response("unknown feed or wrong token\n", status_code=404, media_type="text/plain")
    with db.session() as session:
        watchlist = session.scalar(select(Watchlist).where(Watchlist.name == name))
        stored = (watchlist.feed_token or "") if watchlist else ""
        if watchlist is None or not stored or not hmac.compare_digest(stored.encode(), token.encode()):
            return Response("unknown feed or wrong token\n", status_code=404, media_type="text/plain")
        deliveries = session.scalars(
            select(Delivery).join(Subscription, Delivery.subscription_id == Subscription.id)
            .where(Subscription.watchlist_id == watchlist.id, Delivery.change_id.is_not(None),
                   Delivery.state != DeliveryState.HELD)  # waiting for a second provider: not an alert yet
            .order_by(Delivery.change_id.desc()).limit(FEED_ENTRIES * 4)).all()
        seen: set[int] = set()
        changes: list[MessageChange] = []
        for delivery in deliveries:
            change = delivery.change
            if change is None or change.id in seen or len(changes) >= FEED_ENTRIES:
                continue
            seen.add(change.id)
            changes.append(message_change(session, delivery, change))
        body = atom_feed(watchlist, changes, str(request.base_url), str(request.url))
    return Response(body, media_type="application/atom+xml")


def routes() -> list[BaseRoute]:
    return [
        Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"]),
        Route("/feeds/{name}.atom", watchlist_feed, methods=["GET"]),
    ]
