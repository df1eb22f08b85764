"""Enqueue: a change that fired a watchlist rule becomes outbox rows, in the poll's transaction.

One row per change x subscription, keyed ``<change>:<subscription>`` under a UNIQUE constraint, so
the same pair is never queued twice. A group key names the rows that belong in one message (one
poll's alerts for one subscription); digest rows wait as ``queued`` for their subscriber's hour,
and a snoozed watchlist queues digest rows only, so its changes reach the first digest after it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import Connection, select

from monitor.changes.match import CompiledWatchlist
from monitor.models import Subscription
from monitor.outbox.states import DeliveryKind, DeliveryState


def recipients(conn: Connection) -> dict[int, list[tuple[int, str]]]:
    """The enabled subscriptions (id, mode: immediate|digest), by the watchlist they follow."""
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    s = Subscription
    for sub_id, watchlist_id, mode in conn.execute(select(s.id, s.watchlist_id, s.mode)
                                                   .where(s.enabled.is_(True)).order_by(s.id)):
        out[watchlist_id].append((sub_id, mode))
    return out


def deliveries(change_id: int, watchlist: CompiledWatchlist, recipients: list[tuple[int, str]], rule: str, *,
               group: str, now: dt.datetime, hold_until: dt.datetime | None) -> list[dict[str, object]]:
    """The ``deliveries`` rows for one change (``group`` names its poll), for one INSERT per poll.

    ``hold_until``: immediate alerts wait as ``held`` until a second provider confirms the move
    or this time-out passes (``monitor.changes.events``)."""
    rows: list[dict[str, object]] = []
    for sub_id, mode in recipients:
        due = now
        if mode == "digest":  # its group key is set when its day is claimed
            kind, state, key = DeliveryKind.DIGEST, DeliveryState.QUEUED, f"digest:s{sub_id}"
        elif watchlist.snoozed(now):
            continue
        else:
            kind, state, key = DeliveryKind.ALERT, DeliveryState.PENDING, f"{group}:s{sub_id}"
            if hold_until is not None:
                state, due = DeliveryState.HELD, hold_until
        rows.append(
            {
                "idempotency_key": f"{change_id}:{sub_id}",
                "group_key": key,
                "change_id": change_id,
                "subscription_id": sub_id,
                "kind": kind,
                "rule": f"{watchlist.name}: {rule}",
                "state": state,
                "next_attempt_at": due,
                "created_at": now,
            }
        )
    return rows
