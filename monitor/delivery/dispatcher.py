"""The notify pipeline: claim → group → render → send → record.

- **claim**: a conditional UPDATE (``state='pending' AND next_attempt_at <= now``) moves a
  group's rows to ``sending`` under this dispatcher's lease; ``rowcount`` says whether we won,
  on SQLite and PostgreSQL alike, so two dispatchers never send one delivery. An expired lease
  (a dispatcher that died) puts the rows back to ``pending``.
- **group**: the rows of one poll for one subscription are one group; the alert groups of one
  subscription claimed in the same pass travel together, up to ``MERGE_UP_TO`` changes a
  message (what every channel shows in full), so ten feeds changing at once make one message,
  not ten paced a second apart. Each row is still recorded on its own (sent only after the
  channel's confirmation; a failed message retries all its rows).
- **render** is pure (the channel's ``render``); **send** is the only I/O.
- **record**: rows become ``sent`` only after the channel confirmed. Between send and record
  lies the one window where a crash can cause a duplicate; the message's ``event_id`` stays
  the same across retries so receivers can drop it.
- retries follow ``RETRY_SCHEDULE`` with jitter and honour Retry-After; a permanent error
  fails the rows, disables the subscription and tells the admin target once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from functools import partial

import httpx
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from alerts import channel_for_target
from alerts.base import Message, MessageChange, mask_target
from alerts.http import channel_client
from alerts.slack import MAX_CHANGES as SLACK_MAX_CHANGES
from monitor.db import Database
from monitor.errors import ConfigError, DeliveryError
from monitor.models import Change, Delivery, DeliveryAttempt, Digest, Item, Source, Subscription, utcnow
from monitor.redact import redact

log = logging.getLogger(__name__)

RETRY_SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)  # then every 12 h
RETRY_EVERY = 12 * 3600
GIVE_UP_AFTER = dt.timedelta(days=3)
LEASE = dt.timedelta(minutes=5)
MAX_CHANGES_PER_MESSAGE = 25
MAX_CHANGES_PER_DIGEST = 100
DISPATCHED_KINDS = ("alert", "admin", "digest")  # digest rows wait as 'queued' until monitor.delivery.digest claims a day
ADMIN_ENV = "MONITOR_ADMIN_TARGET"
PUBLIC_URL_ENV = "MONITOR_PUBLIC_URL"
# Crash tests: the dispatcher stops dead at this named point (claimed|sent|recorded) so a test
# can SIGKILL it there. Unset in normal operation.
PAUSE_ENV = "MONITOR_DISPATCH_PAUSE_AT"


def checkpoint(name: str) -> None:
    if os.environ.get(PAUSE_ENV) != name:
        return
    marker = os.environ.get(PAUSE_ENV + "_FILE")
    if marker:
        with open(marker, "w") as handle:
            handle.write(name)
    time.sleep(3600)


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds until the next try after ``attempts`` failed ones: the receiver's Retry-After
    when it gave one, else the schedule with ±10% jitter."""
    if retry_after is not None:
        return retry_after + random.uniform(0, 0.25)
    base = RETRY_SCHEDULE[attempts - 1] if attempts <= len(RETRY_SCHEDULE) else RETRY_EVERY
    return base * random.uniform(0.9, 1.1)


@dataclass
class DispatchStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)


def release_expired_leases(session: Session, now: dt.datetime) -> int:
    result = session.execute(
        update(Delivery)
        .where(Delivery.state == "sending", Delivery.lease_until < now)
        .values(state="pending", lease_owner=None, lease_until=None)
    )
    return result.rowcount or 0


def due_groups(session: Session, now: dt.datetime, limit: int = 100) -> list[str]:
    rows = session.execute(
        select(Delivery.group_key)
        .where(Delivery.state == "pending", Delivery.next_attempt_at <= now,
               Delivery.kind.in_(DISPATCHED_KINDS))
        .group_by(Delivery.group_key)
        .order_by(Delivery.group_key)
        .limit(limit)
    )
    return [r[0] for r in rows]


def claim_group(session: Session, group_key: str, owner: str, now: dt.datetime) -> list[Delivery]:
    """Take the group's due rows under our lease; an empty list means another dispatcher won."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.group_key == group_key, Delivery.state == "pending", Delivery.next_attempt_at <= now)
        .values(state="sending", lease_owner=owner, lease_until=now + LEASE)
    )
    if not result.rowcount:
        return []
    return list(session.scalars(
        select(Delivery).where(Delivery.group_key == group_key, Delivery.state == "sending",
                               Delivery.lease_owner == owner).order_by(Delivery.id)
    ))


def message_change(delivery: Delivery, change: Change, item: Item, source: Source | None) -> MessageChange:
    """The change as an alert shows it: status, action and action date as of the version the
    change wrote (a later poll may have moved the item on since)."""
    subscription = delivery.subscription
    at = change.version.snapshot if change.version is not None else {}
    status_date = at.get("status_date") if at else item.status_date
    return MessageChange(
        type=change.type, item_key=item.key, title=item.title, url=item.url, kind=item.kind,
        source_id=item.source_id, source_url=source.url if source else None, identity=item.identity,
        status=at.get("status", item.status), field=change.field, old=change.old, new=change.new,
        raw_status=at.get("raw_status", item.raw_status), status_action=at.get("status_action", item.status_action),
        status_date=dt.date.fromisoformat(status_date) if isinstance(status_date, str) else status_date,
        detected_at=change.detected_at, rule=delivery.rule,
        watchlist=subscription.watchlist.name if subscription else None, summary=item.summary,
    )


def unsubscribe_url(subscription: Subscription) -> str | None:
    """The one-click link for this subscription, when the service has a public address."""
    base = os.environ.get(PUBLIC_URL_ENV, "").rstrip("/")
    if not base or not subscription.unsubscribe_token:
        return None
    return f"{base}/unsubscribe/{subscription.unsubscribe_token}"


def build_message(session: Session, deliveries: list[Delivery]) -> tuple[Message, list[Subscription]]:
    """The message for one claimed group, capped at MAX_CHANGES_PER_MESSAGE with "and N more".

    Pure reads: nothing here sends or writes. A digest group may span several subscriptions of
    one target (one email a day, not one per watchlist); its rows carry the digest date.
    """
    first = deliveries[0]
    if first.kind == "admin":
        payload = first.payload or {}
        return Message(watchlist="admin", kind="admin", text=str(payload.get("text", "")),
                       event_id=first.idempotency_key, total=1), []
    subscriptions = sorted({d.subscription for d in deliveries if d.subscription is not None}, key=lambda s: s.id)
    with_change = [(d, d.change) for d in deliveries if d.change is not None]
    cap = MAX_CHANGES_PER_MESSAGE
    if first.kind == "digest":
        cap = MAX_CHANGES_PER_DIGEST
        with_change.sort(key=lambda p: (p[0].subscription_id or 0, p[1].type != "status", p[1].type != "new", p[0].id))
    changes = [message_change(delivery, change, change.item, session.get(Source, change.item.source_id))
               for delivery, change in with_change[:cap]]
    main = subscriptions[0]
    link = unsubscribe_url(main)
    extra: dict[str, Any] = {
        "unsubscribe_url": link,
        "unsubscribe_urls": {s.watchlist.name: unsubscribe_url(s) for s in subscriptions},
        "watchlist_titles": {s.watchlist.name: s.watchlist.title or s.watchlist.name for s in subscriptions},
    }
    if first.kind == "digest":
        extra["date"] = str((first.payload or {}).get("date", ""))
        if len(subscriptions) > 1:
            # One link for the whole digest: it unsubscribes every digest of this target.
            extra["unsubscribe_url"] = f"{link}?all=1" if link else None
    watchlist = main.watchlist
    return Message(
        watchlist=watchlist.name, watchlist_title=watchlist.title, changes=tuple(changes), total=len(with_change),
        kind=first.kind, event_id=f"rm_{first.group_key}_{first.id}".replace(":", "_"), created_at=first.created_at,
        timezone=main.timezone, extra=extra,
    ), subscriptions


def queue_admin_notice(session: Session, text: str, key: str, now: dt.datetime | None = None) -> bool:
    """Queue one admin notice under an idempotency ``key`` (one per incident); False if already queued."""
    if session.scalar(select(Delivery.id).where(Delivery.idempotency_key == f"admin:{key}")) is not None:
        return False
    now = now or utcnow()
    session.add(Delivery(idempotency_key=f"admin:{key}", group_key=f"admin:{key}", kind="admin", state="pending",
                         payload={"text": text}, next_attempt_at=now, created_at=now))
    return True


def mark_digest(session: Session, group_key: str, outcome: str) -> None:
    """A digest group ``digest:s<id>:<date>`` settles the day's ``digests`` rows of its subscriptions."""
    ids = {d for d in session.scalars(select(Delivery.subscription_id).where(Delivery.group_key == group_key))}
    day = dt.date.fromisoformat(group_key.rsplit(":", 1)[1])
    session.execute(update(Digest).where(Digest.subscription_id.in_(ids), Digest.digest_date == day)
                    .values(state=outcome))


MERGE_UP_TO = SLACK_MAX_CHANGES  # changes per merged message: what every channel shows in full


def sent_together(group_keys: list[str]) -> list[list[str]]:
    """Due groups in the order they go out: the alert groups of one subscription (``p<poll>:s<id>``)
    together, admin and digest groups each on their own."""
    batches: dict[str, list[str]] = {}
    for key in group_keys:
        alone = key.startswith(("admin:", "digest:"))
        batches.setdefault(key if alone else key.rsplit(":", 1)[1], []).append(key)
    return list(batches.values())


def pack(groups: list[list[Delivery]], limit: int = MERGE_UP_TO) -> list[list[Delivery]]:
    """Whole groups into as few messages as fit ``limit`` rows each (a bigger group goes alone,
    with its "and N more"); only alert groups are merged."""
    packs: list[list[Delivery]] = []
    for rows in groups:
        last = packs[-1] if packs else None
        if last is not None and rows[0].kind == "alert" and last[0].kind == "alert" and len(last) + len(rows) <= limit:
            last.extend(rows)
        else:
            packs.append(list(rows))
    return packs


@dataclass
class Outgoing:
    """One message ready to send and the outbox rows it settles."""

    group_key: str
    ids: list[int]
    message: Message
    subscription_ids: list[int]
    target: str
    secret: str | None
    disabled: str | None  # why the subscription is off, if it is
    attempts: int
    created: dt.datetime


class Dispatcher:
    """Delivers due outbox rows. Safe to run in several processes at once."""

    def __init__(self, db: Database, *, owner: str | None = None, client: httpx.AsyncClient | None = None) -> None:
        self.db = db
        self.owner = owner or f"dispatcher-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._client = client
        self._last_send: dict[str, float] = {}

    async def run_once(self, now: dt.datetime | None = None) -> DispatchStats:
        stats = DispatchStats()
        client = self._client or channel_client()
        try:
            now = now or utcnow()
            with self.db.session() as session:
                release_expired_leases(session, now)
                groups = due_groups(session, now)
            for group_keys in sent_together(groups):
                await self._deliver_groups(client, group_keys, stats, now)
        finally:
            if self._client is None:
                await client.aclose()
        return stats

    async def _deliver_groups(self, client: httpx.AsyncClient, group_keys: list[str], stats: DispatchStats,
                              now: dt.datetime) -> None:
        with self.db.session() as session:
            claimed = [rows for key in group_keys if (rows := claim_group(session, key, self.owner, now))]
            outgoing = [self._prepare(session, rows) for rows in pack(claimed)]
        if not outgoing:
            return
        checkpoint("claimed")
        for out in outgoing:
            await self._send(client, out, stats)

    @staticmethod
    def _prepare(session: Session, claimed: list[Delivery]) -> Outgoing:
        message, subscriptions = build_message(session, claimed)
        off = next((s for s in subscriptions if not s.enabled), None)
        main = subscriptions[0] if subscriptions else None
        return Outgoing(
            group_key=claimed[0].group_key, ids=[d.id for d in claimed], message=message,
            subscription_ids=[s.id for s in subscriptions],
            target=main.target if main else os.environ.get(ADMIN_ENV, ""), secret=main.secret if main else None,
            disabled=None if off is None else (off.disabled_reason or "by an operator"),
            attempts=max(d.attempts for d in claimed) + 1, created=min(d.created_at for d in claimed))

    async def _send(self, client: httpx.AsyncClient, out: Outgoing, stats: DispatchStats) -> None:
        stats.messages += 1
        target = out.target
        record = partial(self._record, out.ids, out.subscription_ids, group_key=out.group_key,
                         attempts=out.attempts, stats=stats)
        if not target:
            record(outcome="failed", answer=f"no target: set {ADMIN_ENV}", permanent=True, notify=False)
            return
        if out.disabled is not None:  # unsubscribed or disabled after these rows were queued
            record(outcome="failed", answer=f"subscription disabled: {out.disabled}")
            return
        try:
            channel = channel_for_target(target, secret=out.secret)
            rendered = channel.render(out.message)
            await self._pace(target)
            answer = await channel.send(client, rendered)
        except ConfigError as exc:
            record(outcome="failed", answer=redact(str(exc)), permanent=True, target=target)
            return
        except DeliveryError as exc:
            reason = redact(exc.reason)
            gave_up = utcnow() - out.created > GIVE_UP_AFTER
            if exc.permanent or gave_up:
                reason = reason if exc.permanent else f"gave up after {GIVE_UP_AFTER.days} days: {reason}"
                record(outcome="failed", answer=reason, permanent=True, target=target, status=exc.status)
            else:
                record(outcome="retry", answer=reason, retry_in=retry_delay(out.attempts, exc.retry_after),
                       status=exc.status)
            return
        except Exception as exc:  # a channel bug must not stop the other deliveries
            log.exception("delivery group %s: unexpected error", out.group_key)
            record(outcome="retry", answer=redact(f"internal error: {type(exc).__name__}"),
                   retry_in=retry_delay(out.attempts))
            return
        checkpoint("sent")
        record(outcome="sent", answer=redact(answer))
        checkpoint("recorded")

    async def _pace(self, target: str) -> None:
        """At most one message per second per target (Slack's posting limit)."""
        loop = asyncio.get_running_loop()
        last = self._last_send.get(target)
        if last is not None:
            wait = 1.0 - (loop.time() - last)
            if wait > 0:
                await asyncio.sleep(wait)
        self._last_send[target] = loop.time()

    def _record(self, ids: list[int], subscription_ids: list[int], *, group_key: str, outcome: str, answer: str,
                attempts: int, stats: DispatchStats, permanent: bool = False, retry_in: float = 0.0,
                target: str = "", status: int | None = None, notify: bool = True) -> None:
        now = utcnow()
        mine = and_(Delivery.id.in_(ids), Delivery.lease_owner == self.owner, Delivery.state == "sending")
        with self.db.session() as session:
            if outcome == "sent":
                values: dict[str, object] = {"state": "sent", "sent_at": now, "last_error": None}
                stats.sent += len(ids)
            elif outcome == "retry":
                values = {"state": "pending", "next_attempt_at": now + dt.timedelta(seconds=retry_in),
                          "last_error": answer}
                stats.retried += len(ids)
            else:
                values = {"state": "failed", "last_error": answer}
                stats.failed += len(ids)
                stats.errors.append(answer)
            session.execute(update(Delivery).where(mine).values(
                attempts=attempts, lease_owner=None, lease_until=None, **values))
            for delivery_id in ids:
                session.add(DeliveryAttempt(delivery_id=delivery_id, at=now, outcome=outcome, status_code=status,
                                            response=answer[:500]))
            if group_key.startswith("digest:") and outcome != "retry":
                mark_digest(session, group_key, outcome)
            if permanent:
                for subscription_id in subscription_ids:
                    self._disable(session, subscription_id, answer, target, notify, now)
        log.info("delivery %s: %s (%s)", ids, outcome, answer)

    @staticmethod
    def _disable(session: Session, subscription_id: int, answer: str, target: str, notify: bool,
                 now: dt.datetime) -> None:
        sub = session.get(Subscription, subscription_id)
        if sub is None or not sub.enabled:
            return
        sub.enabled = False
        sub.disabled_reason = answer[:500]
        if notify:
            queue_admin_notice(
                session,
                f"Subscription {sub.id} ({mask_target(target or sub.target)}) on watchlist "
                f"'{sub.watchlist.name}' was disabled: {answer}",
                key=f"sub-disabled:{sub.id}:{now:%Y%m%d%H%M%S}", now=now)

    def next_due(self) -> dt.datetime | None:
        with self.db.session() as session:
            return session.scalar(select(Delivery.next_attempt_at).where(
                Delivery.state == "pending", Delivery.kind.in_(DISPATCHED_KINDS)
            ).order_by(Delivery.next_attempt_at).limit(1))
