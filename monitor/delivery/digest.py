"""Daily digests: at each subscriber's local hour, claim the day once and hand the rows to the dispatcher.

The outbox queues digest rows as ``kind='digest', state='queued'``. Every minute the service
calls ``claim_digests``: for each enabled digest subscription whose local clock (its own time
zone) has passed ``digest_at`` today and that has no ``digests`` row for today's local date, one
transaction inserts that row (UNIQUE(subscription_id, digest_date): a day is claimed once, even
by two processes or after a crash) and moves the queued rows to ``pending`` under one group key.
From there the dispatcher's lease, retries and record-after-send apply as for any alert.

Subscriptions of one target that fall due together share one message (one email a day, grouped
by watchlist). A snoozed or paused watchlist's digest waits: its day is not claimed until the
snooze ends, so the held rows arrive that day. Without news the day is claimed and nothing is
sent, unless the subscription asked for a "no news" digest.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.base import Message
from monitor.db import Database
from monitor.delivery.dispatcher import build_message
from monitor.errors import ConfigError
from monitor.models import Delivery, Digest, Subscription, Watchlist, utcnow
from monitor.outbox.enqueue import GroupKey
from monitor.outbox.states import DeliveryKind, DeliveryState, DigestState

log = logging.getLogger(__name__)

DEFAULT_AT = "08:00"


def parse_at(text: str | None) -> dt.time:
    try:
        hour, minute = (text or DEFAULT_AT).split(":")
        return dt.time(int(hour), int(minute))
    except ValueError:
        raise ConfigError(f"digest time {text!r}: expected HH:MM, e.g. 07:30") from None


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r} (use an IANA name like America/Chicago)") from None


def due_date(subscription: Subscription, now: dt.datetime) -> dt.date | None:
    """Today's local date if the subscriber's digest hour has passed, else None."""
    local = now.astimezone(zone(subscription.timezone))
    return local.date() if local.time() >= parse_at(subscription.digest_at) else None


def held(watchlist: Watchlist, now: dt.datetime) -> bool:
    return watchlist.paused or (watchlist.snooze_until is not None and now < watchlist.snooze_until)


def group_key(subscription_ids: list[int], day: dt.date) -> str:
    return str(GroupKey(DeliveryKind.DIGEST, day.isoformat(), min(subscription_ids)))


def due_subscriptions(session: Session, now: dt.datetime) -> dict[tuple[str, dt.date], list[Subscription]]:
    """Digest subscriptions due now and not yet claimed for their local day, by (target, day)."""
    due: dict[tuple[str, dt.date], list[Subscription]] = defaultdict(list)
    subs = session.scalars(select(Subscription).where(Subscription.mode == "digest", Subscription.enabled.is_(True))
                           .order_by(Subscription.id))
    for sub in subs:
        try:
            day = due_date(sub, now)
        except ConfigError as exc:
            log.warning("subscription %s: %s", sub.id, exc)
            continue
        if day is None or held(sub.watchlist, now):
            continue
        if session.scalar(select(Digest.id).where(Digest.subscription_id == sub.id, Digest.digest_date == day)):
            continue
        due[(sub.target, day)].append(sub)
    return due


def claim_digests(db: Database, now: dt.datetime | None = None) -> list[str]:
    """Claim every due digest day; returns the group keys handed to the dispatcher."""
    now = now or utcnow()
    with db.session() as session:
        due = {key: [s.id for s in subs] for key, subs in due_subscriptions(session, now).items()}
    claimed = []
    for (_target, day), ids in due.items():
        key = group_key(ids, day)
        try:
            with db.session() as session:
                if claim_day(session, ids, day, key, now):
                    claimed.append(key)
        except IntegrityError:  # another process claimed one of these days first
            log.info("digest %s already claimed elsewhere", key)
    return claimed


def claim_day(session: Session, ids: list[int], day: dt.date, key: str, now: dt.datetime) -> bool:
    """In one transaction: the day's ``digests`` rows and the queued rows moved under ``key``."""
    for sub_id in ids:
        session.add(Digest(subscription_id=sub_id, digest_date=day, state=DigestState.PENDING, created_at=now))
    session.flush()
    due_at = min(now, utcnow())
    moved = session.scalars(
        update(Delivery)
        .where(Delivery.subscription_id.in_(ids), Delivery.kind == DeliveryKind.DIGEST,
               Delivery.state == DeliveryState.QUEUED)
        .values(state=DeliveryState.PENDING, group_key=key, payload={"date": day.isoformat()},
                next_attempt_at=due_at)
        .returning(Delivery.id)
    ).all()
    if moved:
        return True
    wanting = [s for s in ids if (sub := session.get(Subscription, s)) is not None and sub.send_empty_digest]
    if not wanting:
        session.execute(update(Digest).where(Digest.subscription_id.in_(ids), Digest.digest_date == day)
                        .values(state=DigestState.EMPTY))
        return False
    session.add(Delivery(idempotency_key=f"{key}:empty", group_key=key, subscription_id=wanting[0],
                         kind=DeliveryKind.DIGEST, state=DeliveryState.PENDING, payload={"date": day.isoformat()},
                         next_attempt_at=due_at, created_at=now))
    return True


def preview_message(session: Session, subscriptions: list[Subscription], day: dt.date) -> Message:
    """What the digest for ``day`` holds: the rows already claimed for it, else the rows waiting now."""
    ids = [s.id for s in subscriptions]
    claimed = list(session.scalars(select(Delivery).where(
        Delivery.subscription_id.in_(ids), Delivery.kind == DeliveryKind.DIGEST,
        Delivery.payload.is_not(None), Delivery.state != DeliveryState.QUEUED).order_by(Delivery.id)))
    rows = [d for d in claimed if (d.payload or {}).get("date") == day.isoformat()]
    if not rows:
        rows = list(session.scalars(select(Delivery).where(
            Delivery.subscription_id.in_(ids), Delivery.kind == DeliveryKind.DIGEST,
            Delivery.state == DeliveryState.QUEUED).order_by(Delivery.id)))
    if not rows:
        rows = [Delivery(idempotency_key=f"{group_key(ids, day)}:empty", group_key=group_key(ids, day),
                         kind=DeliveryKind.DIGEST, subscription=subscriptions[0], created_at=utcnow())]
    message, _subs = build_message(session, rows)
    return replace(message, extra={**message.extra, "date": day.isoformat()})
