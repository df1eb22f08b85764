"""The notify pipeline: reclaim → build → claim → render → send → record, one message at a time.

A message's id and rows are committed before its first send, so a retry resends exactly that
message under that id (the webhook-id, the email's Message-ID); a crash between a send and its
record is the one window for a duplicate, and the duplicate carries the same id. A claim is a
conditional UPDATE, so two dispatchers (SQLite or PostgreSQL) never send one message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import uuid
from collections.abc import Callable, Collection
from contextlib import nullcontext
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Any

import httpx
from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from alerts import channel_for_target
from alerts.base import Message, MessageChange, mask_target
from alerts.http import channel_client
from alerts.slack import MAX_CHANGES as SLACK_MAX_CHANGES
from monitor.changes.events import corroboration, release_holds
from monitor.db import Database
from monitor.errors import ConfigError, DeliveryError
from monitor.failpoints import failpoint
from monitor.models import Change, Delivery, DeliveryAttempt, Digest, Source, Subscription, Watchlist, utcnow
from monitor.normalise.actiontext import latest_action_only
from monitor.outbox.states import DeliveryKind, DeliveryState, DigestState
from monitor.redact import redact_for_target, remember_target
from monitor.store.lease import new_owner, owner_dead

log = logging.getLogger(__name__)

RETRY_SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)  # then every 12 h
RETRY_EVERY = 12 * 3600
MAX_RETRY_AFTER = 24 * 3600  # a longer Retry-After counts as a day (as for sources)
GIVE_UP_AFTER = dt.timedelta(days=3)
LEASE = dt.timedelta(minutes=5)  # for an owner not known dead; a dead one is taken at once
MERGE_UP_TO = SLACK_MAX_CHANGES  # alert changes merged into one message: what every channel shows in full
MAX_CHANGES_PER_MESSAGE = 25
MAX_CHANGES_PER_DIGEST = 100
GROUPS_PER_PASS = 100
MESSAGES_PER_PASS = 200
ADMIN_ENV = "MONITOR_ADMIN_TARGET"
PUBLIC_URL_ENV = "MONITOR_PUBLIC_URL"
BURST = 3  # messages a target may take at once before the one-a-second pace applies
DUE = Delivery.state == DeliveryState.PENDING  # digest rows wait as 'queued' until their day is claimed


def not_silenced(now: dt.datetime) -> ColumnElement[bool]:
    """An alert of a paused or snoozed watchlist waits for its end, even one queued before (pause
    means nothing at all; snooze, no immediate alerts); it goes out once the watchlist is heard again."""
    quiet = (select(Subscription.id).join(Subscription.watchlist)
             .where(or_(Watchlist.paused, Watchlist.snooze_until > now)))
    return or_(Delivery.kind != DeliveryKind.ALERT, Delivery.subscription_id.is_(None),
               Delivery.subscription_id.not_in(quiet))


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds until the next try: the receiver's Retry-After (capped), else the schedule with jitter.
    A Retry-After is waited at least 1, 2, 4 … seconds by the try, so a receiver answering
    'Retry-After: 0' every time is not posted to once a second for the days before we give up."""
    if retry_after is not None:
        floor = 2.0 ** min(attempts - 1, 16)
        return min(max(retry_after, floor), MAX_RETRY_AFTER) + random.uniform(0, 0.25)
    base = RETRY_SCHEDULE[attempts - 1] if attempts <= len(RETRY_SCHEDULE) else RETRY_EVERY
    return base * random.uniform(0.9, 1.1)


class Outcome(StrEnum):
    """What one try of a message came to; stored in ``delivery_attempts.outcome``."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass
class DispatchStats:
    """The totals of one or more passes (``run --once`` sends after each poll, then once more)."""

    sent: int = 0
    retried: int = 0  # tries that ended in "retry later"; one row may count in several passes
    failed: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)
    waiting: set[int] = field(default_factory=set)  # rows left to retry after these passes


def reclaim(session: Session, now: dt.datetime, known_dead: Collection[str] = ()) -> None:
    """Claims of an owner known dead, or whose lease ran out, become due again; they keep their
    message, so the retry sends the same one."""
    owners = session.scalars(select(Delivery.lease_owner).where(Delivery.state == DeliveryState.SENDING)
                             .distinct())
    dead = [owner for owner in owners if owner and (owner in known_dead or owner_dead(owner))]
    session.execute(
        update(Delivery)
        .where(Delivery.state == DeliveryState.SENDING,
               or_(Delivery.lease_until < now, Delivery.lease_owner.in_(dead)))
        .values(state=DeliveryState.PENDING, lease_owner=None, lease_until=None)
    )


def build_messages(session: Session, now: dt.datetime) -> None:
    """Give due rows in no message yet their message id, committed before any send so a message
    never changes; later changes go into a new message.

    One poll's rows for one subscription are a group; the alert groups of one subscription share
    a message while they fit ``MERGE_UP_TO`` (ten feeds changing at once make one message, not
    ten paced a second apart); a digest or admin group goes alone."""
    unbuilt = DUE & (Delivery.next_attempt_at <= now) & Delivery.message_id.is_(None) & not_silenced(now)
    keys = (select(Delivery.group_key).where(unbuilt).group_by(Delivery.group_key)
            .order_by(func.min(Delivery.id)).limit(GROUPS_PER_PASS))
    groups: dict[str, list[Delivery]] = {}
    for row in session.scalars(select(Delivery).where(unbuilt, Delivery.group_key.in_(keys.scalar_subquery()))
                               .order_by(Delivery.id)):
        groups.setdefault(row.group_key, []).append(row)
    messages: list[list[Delivery]] = []
    filling: dict[int | None, list[Delivery]] = {}  # per subscription: its newest alert message
    for rows in groups.values():
        alert = rows[0].kind == DeliveryKind.ALERT
        last = filling.get(rows[0].subscription_id) if alert else None
        if last is not None and len(last) + len(rows) <= MERGE_UP_TO:
            last.extend(rows)
            continue
        messages.append(rows)
        if alert:
            filling[rows[0].subscription_id] = rows
    for rows in messages:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_([r.id for r in rows]), Delivery.message_id.is_(None), DUE)
            .values(message_id=f"rm_{uuid.uuid4().hex}")
        )


def due_messages(session: Session, now: dt.datetime) -> list[str]:
    """Ids of the messages due now, oldest first."""
    rows = session.scalars(
        select(Delivery.message_id)
        .where(DUE, Delivery.next_attempt_at <= now, Delivery.message_id.is_not(None), not_silenced(now))
        .group_by(Delivery.message_id)
        .order_by(func.min(Delivery.id))
        .limit(MESSAGES_PER_PASS)
    )
    return [message_id for message_id in rows if message_id]


def claim_message(session: Session, message_id: str, owner: str, now: dt.datetime) -> list[Delivery]:
    """Take one message's rows under our lease; an empty list means another dispatcher won."""
    won = session.scalars(
        update(Delivery)
        .where(Delivery.message_id == message_id, DUE, Delivery.next_attempt_at <= now)
        .values(state=DeliveryState.SENDING, lease_owner=owner, lease_until=now + LEASE)
        .returning(Delivery)
    )
    return sorted(won, key=lambda row: row.id)


def message_change(session: Session, delivery: Delivery, change: Change) -> MessageChange:
    """The change as an alert shows it: the item as of the version the change wrote (a later poll
    may have moved it on since), so a message resent under its id says what it said the first time."""
    item = change.item
    source = session.get(Source, item.source_id)
    watchlist = delivery.subscription.watchlist if delivery.subscription else None
    at = change.version.snapshot if change.version is not None else {}
    kept = delivery.payload or {}
    said = (kept["corroboration"] if "corroboration" in kept
            else corroboration(session, change.id, watchlist, delivery.next_attempt_at))
    status_date = at.get("status_date") if at else item.status_date
    published_at = at.get("published_at") if at else item.published_at
    data = at.get("data", item.data) or {}
    set_aside = data.get("impossible_dates", {})
    return MessageChange(
        type=change.type, item_key=item.key, title=at.get("title", item.title), url=at.get("url", item.url),
        kind=at.get("kind", item.kind), source_id=item.source_id, source_url=source.url if source else None,
        identity=at.get("identity", item.identity),
        status=at.get("status", item.status), field=change.field, old=change.old, new=change.new,
        raw_status=at.get("raw_status", item.raw_status),
        status_action=at.get("status_action", item.status_action),
        status_date=dt.date.fromisoformat(status_date) if isinstance(status_date, str) else status_date,
        published_at=dt.datetime.fromisoformat(published_at) if isinstance(published_at, str) else published_at,
        detected_at=change.detected_at, rule=delivery.rule,
        watchlist=watchlist.name if watchlist else None, summary=at.get("summary", item.summary),
        corroboration=str(said) if said else None,
        latest_action_only=latest_action_only(data),
        impossible_date=(set_aside.get("status_date") or set_aside.get("published_at") or "")[:10] or None,
    )


def keep_corroboration(session: Session, rows: list[Delivery]) -> None:
    """Store in each claimed alert row who had reported its move when the message first went out:
    a later confirmation must not change a message resent under its id."""
    for row in rows:
        if row.change_id is not None and "corroboration" not in (row.payload or {}):
            watchlist = row.subscription.watchlist if row.subscription else None
            said = corroboration(session, row.change_id, watchlist, row.next_attempt_at)
            row.payload = {**(row.payload or {}), "corroboration": said}


def unsubscribe_url(subscription: Subscription) -> str | None:
    """The one-click link for this subscription, when the service has a public address."""
    base = os.environ.get(PUBLIC_URL_ENV, "").rstrip("/")
    token = subscription.unsubscribe_token
    return f"{base}/unsubscribe/{token}" if base and token else None


def build_message(session: Session, deliveries: list[Delivery]) -> tuple[Message, list[Subscription]]:
    """One message's rows as the channels render them, capped with "and N more"; a digest may span
    several subscriptions of one target (one email a day, not one per watchlist)."""
    first = deliveries[0]
    event_id = first.message_id or ""
    if first.kind == DeliveryKind.ADMIN:
        text = str((first.payload or {}).get("text", ""))
        return Message(watchlist="admin", kind=DeliveryKind.ADMIN, text=text, event_id=event_id, total=1), []
    subscriptions = sorted({d.subscription for d in deliveries if d.subscription is not None}, key=lambda s: s.id)
    with_change = [(d, d.change) for d in deliveries if d.change is not None]
    digest = first.kind == DeliveryKind.DIGEST
    if digest:  # per subscription: status changes first, then new items, then the rest
        with_change.sort(key=lambda p: (p[0].subscription_id or 0, p[1].type != "status",
                                        p[1].type != "new", p[0].id))
    cap = MAX_CHANGES_PER_DIGEST if digest else MAX_CHANGES_PER_MESSAGE
    main = subscriptions[0]
    link = unsubscribe_url(main)
    extra: dict[str, Any] = {
        "unsubscribe_url": link,
        "unsubscribe_urls": {s.watchlist.name: unsubscribe_url(s) for s in subscriptions},
        "watchlist_titles": {s.watchlist.name: s.watchlist.title or s.watchlist.name for s in subscriptions},
    }
    if digest:
        extra["date"] = str((first.payload or {}).get("date", ""))
        if len(subscriptions) > 1:  # one link for the whole digest: it unsubscribes every digest of this target
            extra["unsubscribe_url"] = f"{link}?all=1" if link else None
    return Message(
        watchlist=main.watchlist.name,
        watchlist_title=main.watchlist.title,
        changes=tuple(message_change(session, d, change) for d, change in with_change[:cap]),
        total=len(with_change),
        kind=DeliveryKind(first.kind),
        event_id=event_id,
        created_at=min(d.created_at for d in deliveries),
        timezone=main.timezone,
        extra=extra,
    ), subscriptions


def queue_admin_notice(session: Session, text: str, key: str, now: dt.datetime) -> bool:
    """Queue one admin notice per incident ``key``; False if it was queued already or, without
    ``MONITOR_ADMIN_TARGET``, only logged (so it never counts as a failed delivery)."""
    if not os.environ.get(ADMIN_ENV):
        log.warning("admin notice (set %s to receive these): %s", ADMIN_ENV, text)
        return False
    idempotency_key = f"admin:{key}"
    if session.scalar(select(Delivery.id).where(Delivery.idempotency_key == idempotency_key)):
        return False
    session.add(Delivery(idempotency_key=idempotency_key, group_key=idempotency_key, kind=DeliveryKind.ADMIN,
                         state=DeliveryState.PENDING, payload={"text": text}, next_attempt_at=now, created_at=now))
    return True


class Pacer:
    """Slack's posting limit, kept per target: one message a second, short bursts allowed
    (api.slack.com/docs/rate-limits). A bucket of ``BURST`` sends refilled at one a second, so
    the few messages of one pass go out at once and a flood is still paced."""

    def __init__(self, burst: int = BURST) -> None:
        self.burst = burst
        self.buckets: dict[str, tuple[float, float]] = {}  # target: (sends left, at this time)

    def wait(self, target: str, now: float) -> float:
        """Seconds to wait before sending to ``target`` at ``now``; the send is counted."""
        left, then = self.buckets.get(target, (self.burst, now))
        left = min(self.burst, left + (now - then))  # below zero while earlier sends still wait
        wait = max(1.0 - left, 0.0)
        self.buckets[target] = (left + wait - 1.0, now + wait)
        return wait


class Dispatcher:
    """Delivers due outbox rows. Safe to run in several processes at once."""

    def __init__(self, db: Database, *, client: httpx.AsyncClient | None = None,
                 known_dead: Callable[[Session], Collection[str]] | None = None) -> None:
        """``known_dead`` names the lease owners known dead beyond this host (a cluster's
        heartbeats, see ``monitor.drivers.workers.dead_lease_owners``)."""
        self.db = db
        self.owner = new_owner()
        self._known_dead = known_dead
        self._client = client
        self._pacer = Pacer()

    async def run_once(self, now: dt.datetime | None = None, stats: DispatchStats | None = None) -> DispatchStats:
        """One pass, its counts added to ``stats`` when given."""
        stats = DispatchStats() if stats is None else stats
        now = now or utcnow()
        with self.db.session() as session:  # committed before any send
            reclaim(session, now, self._known_dead(session) if self._known_dead else ())
            release_holds(session, now)
            build_messages(session, now)
            due = due_messages(session, now)
        async with (nullcontext(self._client) if self._client else channel_client()) as client:
            for message_id in due:
                await self._deliver(client, message_id, stats, now)
        return stats

    async def _deliver(self, client: httpx.AsyncClient, message_id: str, stats: DispatchStats,
                       now: dt.datetime) -> None:
        """Claim, send and record one message, each step committed before the next."""
        with self.db.session() as session:
            rows = claim_message(session, message_id, self.owner, now)
            if not rows:
                return
            keep_corroboration(session, rows)
            broken: str | None = None
            try:
                message, subscriptions = build_message(session, rows)
            except Exception as exc:  # a broken row (say, its subscription deleted by hand) must not block the rest
                log.exception("message %s: cannot be built", message_id)
                broken = f"internal error: the message cannot be built: {type(exc).__name__}: {exc}"
        stats.messages += 1
        if broken is not None:
            self._record(rows, [], max(d.attempts for d in rows) + 1, stats, Outcome.FAILED, broken)
            return
        failpoint("dispatch.after-claim")
        main = subscriptions[0] if subscriptions else None
        target = main.target if main else os.environ.get(ADMIN_ENV, "")
        off = next((s for s in subscriptions if not s.enabled), None)
        attempts = max(d.attempts for d in rows) + 1
        record = partial(self._record, rows, subscriptions, attempts, stats)
        if not target:
            record(Outcome.FAILED, f"no target: set {ADMIN_ENV}")
            return
        if off is not None:  # unsubscribed or disabled after these rows were queued
            record(Outcome.FAILED, f"subscription disabled: {off.disabled_reason or 'by an operator'}")
            return
        remember_target(target)
        try:
            channel = channel_for_target(target, secret=main.secret if main else None)
            rendered = channel.render(message)
            await asyncio.sleep(self._pacer.wait(target, asyncio.get_running_loop().time()))
            answer = await channel.send(client, rendered)
        except ConfigError as exc:  # an operator setting is missing or wrong: held, the subscriber keeps it
            held = redact_for_target(f"held until the operator fixes it: {exc}", target)
            record(Outcome.RETRY, held)
        except DeliveryError as exc:
            reason = redact_for_target(exc.reason, target)
            gave_up = not exc.permanent and utcnow() - min(d.created_at for d in rows) > GIVE_UP_AFTER
            if gave_up:
                reason = f"gave up after {GIVE_UP_AFTER.days} days: {reason}"
            if exc.permanent or gave_up:
                record(Outcome.FAILED, reason, disable=True, status=exc.status)
            else:
                record(Outcome.RETRY, reason, retry_after=exc.retry_after, status=exc.status)
        except Exception as exc:  # a channel bug must not stop the other deliveries
            log.exception("message %s: unexpected error", message.event_id)
            record(Outcome.RETRY, f"internal error: {type(exc).__name__}")
        else:
            failpoint("dispatch.after-send")
            record(Outcome.SENT, redact_for_target(answer, target))

    def _record(self, rows: list[Delivery], subscriptions: list[Subscription], attempts: int,
                stats: DispatchStats, outcome: Outcome, answer: str, *, retry_after: float | None = None,
                status: int | None = None, disable: bool = False) -> None:
        """Settle one message's rows in one commit; ``disable`` turns its subscriptions off."""
        now = utcnow()
        ids = [d.id for d in rows]
        subscription_ids = [s.id for s in subscriptions]
        values: dict[str, object] = {"state": DeliveryState.FAILED, "last_error": answer}
        if outcome is Outcome.SENT:
            values = {"state": DeliveryState.SENT, "sent_at": now, "last_error": None}
            stats.sent += len(ids)
        elif outcome is Outcome.RETRY:
            next_at = now + dt.timedelta(seconds=retry_delay(attempts, retry_after))
            values = {"state": DeliveryState.PENDING, "next_attempt_at": next_at, "last_error": answer}
            stats.retried += len(ids)
            stats.waiting.update(ids)
        else:
            stats.failed += len(ids)
            stats.errors.append(answer)
        if outcome is not Outcome.RETRY:
            stats.waiting.difference_update(ids)
        with self.db.session() as session:
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids), Delivery.lease_owner == self.owner,
                       Delivery.state == DeliveryState.SENDING)
                .values(attempts=attempts, lease_owner=None, lease_until=None, **values)
            )
            session.add_all(DeliveryAttempt(delivery_id=delivery_id, at=now, outcome=outcome,
                                            status_code=status, response=answer[:500]) for delivery_id in ids)
            if rows[0].kind == DeliveryKind.DIGEST and outcome is not Outcome.RETRY:
                day = dt.date.fromisoformat(str((rows[0].payload or {})["date"]))
                session.execute(
                    update(Digest)
                    .where(Digest.subscription_id.in_(subscription_ids), Digest.digest_date == day)
                    .values(state=DigestState.SENT if outcome is Outcome.SENT else DigestState.FAILED)
                )
            if disable:  # for good, telling the admin once
                enabled = Subscription.id.in_(subscription_ids) & Subscription.enabled.is_(True)
                for sub in session.scalars(select(Subscription).where(enabled).order_by(Subscription.id)):
                    sub.enabled = False
                    sub.disabled_reason = answer[:500]
                    queue_admin_notice(session, f"Subscription {sub.id} ({mask_target(sub.target)}) on watchlist "
                                       f"'{sub.watchlist.name}' was disabled: {answer}",
                                       f"sub-disabled:{sub.id}:{now:%Y%m%d%H%M%S}", now)
        log.info("message %s (deliveries %s): %s (%s)", rows[0].message_id, ids, outcome, answer)
        failpoint("dispatch.after-record")

    def next_due(self) -> dt.datetime | None:
        with self.db.session() as session:
            return session.scalar(
                select(Delivery.next_attempt_at)
                .where((DUE & not_silenced(utcnow())) | (Delivery.state == DeliveryState.HELD))
                .order_by(Delivery.next_attempt_at)
                .limit(1)
            )
