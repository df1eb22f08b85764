"""Enqueue: a change that fired a watchlist rule becomes outbox rows, in the poll's transaction.

One row per change x subscription, keyed ``<change>:<subscription>`` under a UNIQUE constraint,
so the same pair can never be queued twice. Immediate subscriptions get ``alert`` rows grouped
per poll (one message per poll per subscription); digest subscriptions get ``digest`` rows that
wait in state ``queued`` for their subscriber's hour. A snoozed watchlist queues digest rows
only: its changes stay in history and reach the first digest after the snooze.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, select

from monitor.changes.match import CompiledWatchlist
from monitor.models import Subscription
from monitor.outbox.states import DeliveryKind, DeliveryState


@dataclass(frozen=True)
class GroupKey:
    """The rows that belong in one message: one poll's alerts for one subscription, one digest
    day of a target, or one admin notice. Stored as text (``str(key)``) and never parsed back:
    the dispatcher reads kind, subscription and day from the rows' own columns."""

    kind: DeliveryKind
    scope: str = ""  # the poll ("p12"), the digest's local day, or the admin notice's key
    subscription_id: int | None = None

    def __str__(self) -> str:
        if self.kind is DeliveryKind.ALERT:
            return f"{self.scope}:s{self.subscription_id}"
        if self.kind is DeliveryKind.DIGEST:
            return f"digest:s{self.subscription_id}" + (f":{self.scope}" if self.scope else "")
        return f"admin:{self.scope}"


class Recipient(NamedTuple):
    """An enabled subscription, as much of it as enqueueing needs."""

    id: int
    mode: str  # immediate|digest


def recipients(conn: Connection) -> dict[int, list[Recipient]]:
    """The enabled subscriptions, by the watchlist they follow."""
    s = Subscription.__table__.c
    out: dict[int, list[Recipient]] = {}
    enabled = select(s.id, s.watchlist_id, s.mode).where(s.enabled.is_(True)).order_by(s.id)
    for sub in conn.execute(enabled):
        out.setdefault(sub.watchlist_id, []).append(Recipient(sub.id, sub.mode))
    return out


def deliveries(
    change_id: int,
    watchlist: CompiledWatchlist,
    recipients: list[Recipient],
    rule: str,
    *,
    group: str,
    now: dt.datetime,
    hold_until: dt.datetime | None = None,
) -> list[dict[str, object]]:
    """The ``deliveries`` rows for one change (``group`` names its poll); the caller inserts a
    poll's rows in one statement.

    ``hold_until``: immediate alerts wait as ``held`` until a second provider confirms the move
    or this time-out passes (``monitor.changes.events``); digest rows wait for their hour anyway."""
    rows: list[dict[str, object]] = []
    for recipient in recipients:
        due = now
        if recipient.mode == "digest":
            kind, state, scope = DeliveryKind.DIGEST, DeliveryState.QUEUED, ""
        elif watchlist.snoozed(now):
            continue
        else:
            kind, state, scope = DeliveryKind.ALERT, DeliveryState.PENDING, group
            if hold_until is not None:
                state, due = DeliveryState.HELD, hold_until
        rows.append(
            {
                "idempotency_key": f"{change_id}:{recipient.id}",
                "group_key": str(GroupKey(kind, scope, recipient.id)),
                "change_id": change_id,
                "subscription_id": recipient.id,
                "kind": kind.value,
                "rule": f"{watchlist.name}: {rule}",
                "state": state.value,
                "attempts": 0,
                "next_attempt_at": due,
                "created_at": now,
            }
        )
    return rows
