"""Shared by the alert tests: a seeded ledger (source, items, changes, watchlist, subscription, outbox)."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from typing import Any

from sqlalchemy import select

from alerts.webhook import new_secret
from monitor.db import Database
from monitor.delivery.dispatcher import Dispatcher, DispatchStats
from monitor.models import Change, Delivery, Item, Source, Subscription, Watchlist, utcnow

T0 = dt.datetime(2026, 2, 2, 15, 0, tzinfo=dt.UTC)

STATUS_MOVE = {"identity": "us/119/s/3470", "title": "S. 3470 — Bivens Act of 2026", "kind": "bill",
                   "url": "https://www.congress.gov/bill/119th-congress/senate-bill/3470",
                   "status": "reported", "raw_status": "14000", "status_date": "2026-01-29",
                   "status_action": "Committee on the Judiciary. Reported by Senator Durbin with an amendment.",
                   "type": "status", "old": "in_committee", "new": "reported"}
NEW_OPINION = {"identity": None, "title": "Doe v. Immigration Officer Smith (Bivens claim allowed)", "kind": "opinion",
                   "url": "https://www.ca9.uscourts.gov/opinions/2026/doe-v-smith.pdf", "status": "published",
                   "raw_status": "Opinion filed", "status_date": "2026-02-02", "type": "new", "old": None, "new": None,
                   "summary": "<p>Panel holds <b>Bivens</b> remedy available.</p><script>alert(1)</script>"
                           "<a href='javascript:alert(1)'>x</a>"}
# A congress.gov list row (congress_recent): its status read from its latest action alone.
LIST_ROW_MOVE = {"identity": "us/119/hr/6091", "title": "H.R. 6091 — Federal Officer Accountability Act",
                 "kind": "bill", "url": "https://www.congress.gov/bill/119th-congress/house-bill/6091",
                 "status": "passed_one_chamber", "raw_status": None, "status_date": "2026-01-29",
                 "status_action": "Passed/agreed to in House: On passage Passed by recorded vote: 218 - 212.",
                 "type": "status", "old": "reported", "new": "passed_one_chamber",
                 "data": {"status_basis": "latest_action"}}
FIELD_EDIT = {"identity": None, "title": "Roe v. Doe", "kind": "opinion", "url": "https://example.org/roe",
                  "status": "published", "raw_status": "Opinion amended", "type": "field", "old": "first summary",
                  "new": "amended summary",
                  "field": "summary"}


def day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def seed_watchlist(db: Database, name: str = "bivens", target: str = "slack:http://127.0.0.1:1/x", *,
                   mode: str = "immediate", digest_at: str | None = None, tz: str | None = None,
                   secret: str | None = None, title: str | None = None) -> int:
    with db.session() as s:
        if s.get(Source, "ca9") is None:
            s.add(Source(id="ca9", kind="rss", url="https://www.ca9.uscourts.gov/opinions/rss"))
        wl = s.scalar(select(Watchlist).where(Watchlist.name == name))
        if wl is None:
            wl = Watchlist(name=name, title=title or f"{name.capitalize()} remedies",
                           feed_token=secrets.token_urlsafe(24))
            s.add(wl)
            s.flush()
        sub = Subscription(watchlist_id=wl.id, channel=target.split(":")[0], target=target, mode=mode,
                           digest_at=digest_at, timezone=tz, unsubscribe_token=secrets.token_urlsafe(24),
                           secret=secret or (new_secret() if target.startswith("webhook:") else None))
        s.add(sub)
        s.flush()
        return sub.id


def seed_changes(db: Database, subscription_id: int, *specs: dict[str, Any], poll: str = "p1",
                 now: dt.datetime | None = None) -> list[int]:
    """One change per spec, queued for the subscription the way monitor.outbox.enqueue does it."""
    now = now or utcnow()
    ids = []
    with db.session() as s:
        sub = s.get(Subscription, subscription_id)
        assert sub is not None
        for n, spec in enumerate(specs):
            key = f"ca9:{spec['title'][:200]}:{n}:{utcnow().timestamp()}"  # keys are at most 400 characters
            item = Item(key=key, source_id="ca9", kind=spec["kind"], identity=spec["identity"], title=spec["title"],
                        url=spec["url"], status=spec["status"], raw_status=spec["raw_status"],
                        status_action=spec.get("status_action"), status_date=day(spec.get("status_date")),
                        summary=spec.get("summary"), data=spec.get("data") or {}, content_hash="x")
            s.add(item)
            s.flush()
            change = Change(item_id=item.id, type=spec["type"], field=spec.get("field"), old=spec["old"],
                            new=spec["new"], detected_at=now)
            s.add(change)
            s.flush()
            digest = sub.mode == "digest"
            rule = {"status": "status-move", "new": "new-item", "field": "field-change"}[str(spec["type"])]
            pinned = f"pinned {spec['identity']}" if spec["identity"] else "query"
            delivery = Delivery(idempotency_key=f"{change.id}:{sub.id}", change_id=change.id, subscription_id=sub.id,
                                group_key=f"digest:s{sub.id}" if digest else f"{poll}:s{sub.id}",
                                kind="digest" if digest else "alert", state="queued" if digest else "pending",
                                rule=f"{sub.watchlist.name}: {rule} ({pinned})", next_attempt_at=now, created_at=now)
            s.add(delivery)
            s.flush()
            ids.append(delivery.id)
    return ids


def dispatch(db: Database, now: dt.datetime | None = None) -> DispatchStats:
    return asyncio.run(Dispatcher(db).run_once(now or utcnow()))


def deliveries(db: Database) -> list[Delivery]:
    with db.session() as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


def subscription(db: Database, sub_id: int) -> Subscription:
    with db.session() as s:
        sub = s.get(Subscription, sub_id)
        assert sub is not None
        return sub
