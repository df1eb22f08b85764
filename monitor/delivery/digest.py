"""Daily digests: at each subscriber's local hour, claim the day once and hand its rows to the dispatcher.

A day is claimed by inserting its ``digests`` row (UNIQUE per subscription and date: once, even by
two processes or after a crash) in the transaction that moves the queued rows to ``pending``; from
there retries and record-after-send apply as for any alert. Subscriptions of one target due
together share one message; a snoozed or paused watchlist's day waits until the snooze ends.
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
from monitor.models import Delivery, Digest, Subscription, utcnow
from monitor.outbox.states import DeliveryKind, DeliveryState, DigestState

log = logging.getLogger(__name__)

DEFAULT_AT = "08:00"


def due_subscriptions(session: Session, now: dt.datetime) -> dict[tuple[str, dt.date], list[Subscription]]:
    """Digest subscriptions past their local hour and not yet claimed for that day, by (target, day)."""
    due: dict[tuple[str, dt.date], list[Subscription]] = defaultdict(list)
    subs = session.scalars(select(Subscription).where(Subscription.mode == "digest", Subscription.enabled.is_(True))
                           .order_by(Subscription.id))
    for sub in subs:
        watchlist = sub.watchlist
        if watchlist.paused or (watchlist.snooze_until is not None and now < watchlist.snooze_until):
            continue
        try:
            zone = ZoneInfo(sub.timezone or "UTC")
            at = dt.datetime.strptime(sub.digest_at or DEFAULT_AT, "%H:%M").time()
        except (ZoneInfoNotFoundError, ValueError) as exc:  # a zone this machine's tz database lacks
            log.warning("subscription %s: no digest: %s", sub.id, exc)
            continue
        local = now.astimezone(zone)
        day = local.date()
        hour = dt.datetime.combine(day, at, tzinfo=zone)
        # subscribed since today's hour went by: the first digest is tomorrow's, not one at the next pass
        claimed = select(Digest.id).where(Digest.subscription_id == sub.id, Digest.digest_date == day)
        if local.time() < at or hour < sub.created_at <= now or session.scalar(claimed):
            continue
        due[(sub.target, day)].append(sub)
    return due


def claim_digests(db: Database, now: dt.datetime | None = None) -> list[str]:
    """Claim every due digest day; returns the group keys handed to the dispatcher."""
    now = now or utcnow()
    with db.session() as session:
        due = due_subscriptions(session, now)
    claimed = []
    for (_target, day), subs in due.items():
        key = f"digest:s{subs[0].id}:{day.isoformat()}"
        try:
            with db.session() as session:  # the day's UNIQUE digests rows make the claim at commit
                sending = claim_day(session, subs, day, key, now)
        except IntegrityError:  # another process claimed one of these days first
            log.info("digest %s already claimed elsewhere", key)
            continue
        if sending:
            claimed.append(key)
    return claimed


def claim_day(session: Session, subs: list[Subscription], day: dt.date, key: str, now: dt.datetime) -> bool:
    """In one transaction: the queued rows moved under ``key`` and the day's ``digests`` rows (whose
    UNIQUE constraint makes the claim); False when the day had nothing to send and nobody asked
    for a "no news" digest."""
    ids = [s.id for s in subs]
    due_at = min(now, utcnow())
    moved = session.scalars(
        update(Delivery)
        .where(Delivery.subscription_id.in_(ids), Delivery.kind == DeliveryKind.DIGEST,
               Delivery.state == DeliveryState.QUEUED)
        .values(state=DeliveryState.PENDING, group_key=key, payload={"date": day.isoformat()},
                next_attempt_at=due_at)
        .returning(Delivery.id)
    ).all()
    wanting = next((s.id for s in subs if s.send_empty_digest), None)
    sending = bool(moved) or wanting is not None
    session.add_all(Digest(subscription_id=sub_id, digest_date=day, created_at=now,
                           state=DigestState.PENDING if sending else DigestState.EMPTY) for sub_id in ids)
    if not moved and wanting is not None:
        session.add(Delivery(idempotency_key=f"{key}:empty", group_key=key, subscription_id=wanting,
                             kind=DeliveryKind.DIGEST, state=DeliveryState.PENDING,
                             payload={"date": day.isoformat()}, next_attempt_at=due_at, created_at=now))
    return sending


def preview_message(session: Session, subscriptions: list[Subscription], day: dt.date) -> Message:
    """What the digest for ``day`` holds: the rows already claimed for it, else the rows waiting now."""
    rows = session.scalars(select(Delivery).where(Delivery.subscription_id.in_([s.id for s in subscriptions]),
                                                  Delivery.kind == DeliveryKind.DIGEST).order_by(Delivery.id)).all()
    claimed = [d for d in rows if d.state != DeliveryState.QUEUED and (d.payload or {}).get("date") == day.isoformat()]
    waiting = [d for d in rows if d.state == DeliveryState.QUEUED]
    message, _subs = build_message(session, claimed or waiting or [
        Delivery(kind=DeliveryKind.DIGEST, subscription=subscriptions[0], created_at=utcnow())])
    return replace(message, extra={**message.extra, "date": day.isoformat()})
