"""Enqueue: turn a change that fired a watchlist rule into outbox rows, inside the poll's transaction.

One row per change x subscription, keyed ``<change>:<subscription>`` under a UNIQUE constraint,
so the same pair can never be queued twice. Immediate subscriptions get ``alert`` rows grouped
per poll (one message per poll per subscription); digest subscriptions get ``digest`` rows that
wait in state ``queued`` for their subscriber's hour. A snoozed watchlist queues digest rows
only: its changes stay in history and reach the first digest after the snooze.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from monitor.changes.match import CompiledWatchlist


class Recipient(NamedTuple):
    """An enabled subscription, as much of it as enqueueing needs."""

    id: int
    mode: str  # immediate|digest


def deliveries(change_id: int, watchlist: CompiledWatchlist, recipients: list[Recipient], rule: str, *,
               group: str, now: dt.datetime) -> list[dict[str, object]]:
    """The ``deliveries`` rows for one change; the caller inserts a poll's rows in one statement."""
    rows: list[dict[str, object]] = []
    for recipient in recipients:
        if recipient.mode == "digest":
            kind, state, group_key = "digest", "queued", f"digest:s{recipient.id}"
        elif watchlist.snoozed(now):
            continue
        else:
            kind, state, group_key = "alert", "pending", f"{group}:s{recipient.id}"
        rows.append({
            "idempotency_key": f"{change_id}:{recipient.id}", "group_key": group_key, "change_id": change_id,
            "subscription_id": recipient.id, "kind": kind, "rule": f"{watchlist.name}: {rule}", "state": state,
            "attempts": 0, "next_attempt_at": now, "created_at": now,
        })
    return rows
