"""Enqueue: turn a change that fired a watchlist rule into outbox rows, inside the poll's transaction.

One row per change x subscription, keyed ``<change>:<subscription>`` under a UNIQUE constraint,
so the same pair can never be queued twice. Immediate subscriptions get ``alert`` rows grouped
per poll (one message per poll per subscription); digest subscriptions get ``digest`` rows that
wait in state ``queued`` for their subscriber's hour. A snoozed watchlist queues digest rows
only: its changes stay in history and reach the first digest after the snooze.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from monitor.matching import CompiledWatchlist
from monitor.models import Change, Delivery, Subscription


def enqueue(session: Session, change: Change, watchlist: CompiledWatchlist, subscriptions: list[Subscription],
            rule: str, *, group: str, now: dt.datetime) -> int:
    queued = 0
    for subscription in subscriptions:
        if subscription.mode == "digest":
            kind, state, group_key = "digest", "queued", f"digest:s{subscription.id}"
        elif watchlist.snoozed(now):
            continue
        else:
            kind, state, group_key = "alert", "pending", f"{group}:s{subscription.id}"
        session.add(Delivery(
            idempotency_key=f"{change.id}:{subscription.id}", group_key=group_key, change_id=change.id,
            subscription_id=subscription.id, kind=kind, rule=f"{watchlist.name}: {rule}", state=state,
            next_attempt_at=now, created_at=now,
        ))
        queued += 1
    return queued
