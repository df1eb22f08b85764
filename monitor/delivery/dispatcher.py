"""The notify pipeline: reclaim → build → claim → render → send → record, one message at a time.

- **reclaim**: rows a dispatcher claimed and never settled go back to ``pending``: at once when
  their owner was a process on this host that is gone (``LeaseOwner``: host, pid and the pid's
  start time, so a reused pid is not mistaken for the owner) or a ``monitor worker`` on any host
  that its heartbeats declare dead (``known_dead``), else when the lease runs out.
- **build**: due rows that are in no message yet become messages, and each message's id and rows
  are committed before anything is sent: the rows of one poll for one subscription are one
  group, and the alert groups of one subscription due together travel together, up to
  ``MERGE_UP_TO`` changes a message (what every channel shows in full), so ten feeds changing at
  once make one message, not ten paced a second apart. From then on the message is fixed: a
  retry sends exactly those rows under the same id (the webhook-id, the email's Message-ID);
  changes that arrive later go into a new message.
- **claim**: a conditional UPDATE (``state='pending' AND next_attempt_at <= now``) moves one
  message's rows to ``sending`` under this dispatcher's lease; ``rowcount`` says whether we won,
  on SQLite and PostgreSQL alike, so two dispatchers never send one message.
- **render** is pure (the channel's ``render``); **send** is the only I/O.
- **record**: right after each send, in its own transaction, the rows become ``sent`` (only
  after the channel confirmed), ``pending`` again (retry) or ``failed``. The one window where a
  crash causes a duplicate is one message's send and that commit; the duplicate carries the
  same id, so a receiver that de-duplicates on it drops it.
- retries follow ``RETRY_SCHEDULE`` with jitter and honour a receiver's Retry-After up to
  ``MAX_RETRY_AFTER``; after ``GIVE_UP_AFTER`` the rows fail. A permanent error fails the rows,
  disables the subscription and tells the admin target once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Any

import httpx
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from alerts import channel_for_target
from alerts.base import Message, MessageChange, mask_target
from alerts.http import channel_client
from alerts.slack import MAX_CHANGES as SLACK_MAX_CHANGES
from monitor.changes.events import corroboration, release_holds
from monitor.db import Database
from monitor.errors import ConfigError, DeliveryError
from monitor.failpoints import failpoint
from monitor.models import (
    Change,
    Delivery,
    DeliveryAttempt,
    Digest,
    Item,
    Source,
    Subscription,
    utcnow,
)
from monitor.outbox.enqueue import GroupKey
from monitor.outbox.states import DeliveryKind, DeliveryState, DigestState
from monitor.redact import redact_for_target, remember_target

log = logging.getLogger(__name__)

RETRY_SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)  # then every 12 h
RETRY_EVERY = 12 * 3600
MAX_RETRY_AFTER = 24 * 3600  # a longer Retry-After counts as a day (as for sources)
GIVE_UP_AFTER = dt.timedelta(days=3)
LEASE = dt.timedelta(minutes=5)  # for an owner not known dead; a dead one is taken at once
MAX_CHANGES_PER_MESSAGE = 25
MAX_CHANGES_PER_DIGEST = 100
GROUPS_PER_PASS = 100
MESSAGES_PER_PASS = 200
# digest rows wait as 'queued' until monitor.delivery.digest claims a day
DISPATCHED_KINDS = (DeliveryKind.ALERT, DeliveryKind.DIGEST, DeliveryKind.ADMIN)
ADMIN_ENV = "MONITOR_ADMIN_TARGET"
PUBLIC_URL_ENV = "MONITOR_PUBLIC_URL"
HOST = socket.gethostname()[:40]


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds until the next try after ``attempts`` failed ones: the receiver's Retry-After
    (at most ``MAX_RETRY_AFTER``) when it gave one, else the schedule with ±10% jitter."""
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER) + random.uniform(0, 0.25)
    base = RETRY_SCHEDULE[attempts - 1] if attempts <= len(RETRY_SCHEDULE) else RETRY_EVERY
    return base * random.uniform(0.9, 1.1)


class Outcome(StrEnum):
    """What one try of a message came to; stored in ``delivery_attempts.outcome``."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass
class DispatchStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of a process, from Linux's /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], fields[19]


@dataclass(frozen=True)
class LeaseOwner:
    """Who claimed a row: a process (host, pid, the pid's start time) and one dispatcher in it.

    Stored as ``host:pid:start:tag`` in ``lease_owner``; read back only to ask ``alive()``.
    """

    host: str
    pid: int
    start: str
    tag: str

    @classmethod
    def mine(cls) -> LeaseOwner:
        pid = os.getpid()
        stat = _proc_stat(pid)
        return cls(HOST, pid, stat[1] if stat else "-", uuid.uuid4().hex[:8])

    @classmethod
    def from_text(cls, text: str) -> LeaseOwner | None:
        host, _, rest = text.partition(":")
        pid, _, rest = rest.partition(":")
        start, _, tag = rest.partition(":")
        return cls(host, int(pid), start, tag) if pid.isdigit() and tag else None

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.start}:{self.tag}"

    def alive(self) -> bool:
        """False only when the owner is known dead: a process of this host that is gone, a zombie,
        or a pid that now belongs to a process started later. Another host's owner counts as alive
        (its lease decides)."""
        if self.host != HOST:
            return True
        stat = _proc_stat(self.pid)
        if stat is not None:
            state, start = stat
            return state not in ("Z", "X") and (self.start == "-" or start == self.start)
        try:  # no /proc (not Linux): ask the kernel whether the pid exists
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # someone else's process
            pass
        return True


def reclaim(session: Session, now: dt.datetime, known_dead: Collection[str] = ()) -> None:
    """Unsettled rows of a dispatcher known dead (a gone process of this host, or an owner in
    ``known_dead``), or whose lease ran out, become due again; they keep their message, so the
    retry sends the same one."""
    owners = session.scalars(
        select(Delivery.lease_owner)
        .where(Delivery.state == DeliveryState.SENDING, Delivery.lease_owner.is_not(None))
        .distinct()
    )
    dead = [
        text
        for text in owners
        if text in known_dead
        or ((owner := LeaseOwner.from_text(text or "")) and not owner.alive())
    ]
    session.execute(
        update(Delivery)
        .where(
            Delivery.state == DeliveryState.SENDING,
            or_(Delivery.lease_until < now, Delivery.lease_owner.in_(dead)),
        )
        .values(state=DeliveryState.PENDING, lease_owner=None, lease_until=None)
    )


def _due() -> Any:
    return (Delivery.state == DeliveryState.PENDING) & Delivery.kind.in_(DISPATCHED_KINDS)


def build_messages(session: Session, now: dt.datetime) -> None:
    """Give due rows that are in no message yet their message: ids assigned and committed
    before any send, so a message's content never changes after this."""
    unbuilt = _due() & (Delivery.next_attempt_at <= now) & Delivery.message_id.is_(None)
    keys = (
        select(Delivery.group_key)
        .where(unbuilt)
        .group_by(Delivery.group_key)
        .order_by(func.min(Delivery.id))
        .limit(GROUPS_PER_PASS)
    )
    groups: dict[str, list[Delivery]] = {}
    for row in session.scalars(
        select(Delivery)
        .where(unbuilt, Delivery.group_key.in_(keys.scalar_subquery()))
        .order_by(Delivery.id)
    ):
        groups.setdefault(row.group_key, []).append(row)
    for rows in pack(list(groups.values())):
        session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_([r.id for r in rows]),
                Delivery.message_id.is_(None),
                Delivery.state == DeliveryState.PENDING,
            )
            .values(message_id=f"rm_{uuid.uuid4().hex}")
        )


def due_messages(session: Session, now: dt.datetime) -> list[str]:
    """Ids of the messages due now, oldest first."""
    rows = session.scalars(
        select(Delivery.message_id)
        .where(_due(), Delivery.next_attempt_at <= now, Delivery.message_id.is_not(None))
        .group_by(Delivery.message_id)
        .order_by(func.min(Delivery.id))
        .limit(MESSAGES_PER_PASS)
    )
    return [message_id for message_id in rows if message_id]


def claim_message(
    session: Session, message_id: str, owner: str, now: dt.datetime
) -> list[Delivery]:
    """Take one message's rows under our lease; an empty list means another dispatcher won."""
    won = session.scalars(
        update(Delivery)
        .where(
            Delivery.message_id == message_id,
            Delivery.state == DeliveryState.PENDING,
            Delivery.next_attempt_at <= now,
        )
        .values(state=DeliveryState.SENDING, lease_owner=owner, lease_until=now + LEASE)
        .returning(Delivery.id)
    ).all()
    if not won:
        return []
    return list(session.scalars(select(Delivery).where(Delivery.id.in_(won)).order_by(Delivery.id)))


def message_change(
    delivery: Delivery, change: Change, item: Item, source: Source | None, *, corroboration: str | None = None
) -> MessageChange:
    """The change as an alert shows it: status, action and action date as of the version the
    change wrote (a later poll may have moved the item on since)."""
    subscription = delivery.subscription
    at = change.version.snapshot if change.version is not None else {}
    status_date = at.get("status_date") if at else item.status_date
    return MessageChange(
        type=change.type, item_key=item.key, title=item.title, url=item.url, kind=item.kind,
        source_id=item.source_id, source_url=source.url if source else None, identity=item.identity,
        status=at.get("status", item.status), field=change.field, old=change.old, new=change.new,
        raw_status=at.get("raw_status", item.raw_status),
        status_action=at.get("status_action", item.status_action),
        status_date=dt.date.fromisoformat(status_date) if isinstance(status_date, str) else status_date,
        detected_at=change.detected_at, rule=delivery.rule,
        watchlist=subscription.watchlist.name if subscription else None, summary=item.summary,
        corroboration=corroboration,
    )


def unsubscribe_url(subscription: Subscription) -> str | None:
    """The one-click link for this subscription, when the service has a public address."""
    base = os.environ.get(PUBLIC_URL_ENV, "").rstrip("/")
    if not base or not subscription.unsubscribe_token:
        return None
    return f"{base}/unsubscribe/{subscription.unsubscribe_token}"


def build_message(
    session: Session, deliveries: list[Delivery]
) -> tuple[Message, list[Subscription]]:
    """The message for one message's rows, capped at MAX_CHANGES_PER_MESSAGE with "and N more".

    Pure reads: nothing here sends or writes. A digest may span several subscriptions of one
    target (one email a day, not one per watchlist); its rows carry the digest date.
    """
    first = deliveries[0]
    event_id = first.message_id or ""
    if first.kind == DeliveryKind.ADMIN:
        text = str((first.payload or {}).get("text", ""))
        return Message(watchlist="admin", kind=DeliveryKind.ADMIN, text=text, event_id=event_id, total=1), []
    subscriptions = sorted(
        {d.subscription for d in deliveries if d.subscription is not None}, key=lambda s: s.id
    )
    with_change = [(d, d.change) for d in deliveries if d.change is not None]
    cap = MAX_CHANGES_PER_MESSAGE
    if first.kind == DeliveryKind.DIGEST:
        cap = MAX_CHANGES_PER_DIGEST
        # per subscription: status changes first, then new items, then the rest
        with_change.sort(key=lambda p: (p[0].subscription_id or 0, p[1].type != "status",
                                        p[1].type != "new", p[0].id))
    changes = [
        message_change(
            delivery,
            change,
            change.item,
            session.get(Source, change.item.source_id),
            corroboration=corroboration(
                session,
                change.id,
                delivery.subscription.watchlist if delivery.subscription else None,
                delivery.next_attempt_at,
            ),
        )
        for delivery, change in with_change[:cap]
    ]
    main = subscriptions[0]
    link = unsubscribe_url(main)
    extra: dict[str, Any] = {
        "unsubscribe_url": link,
        "unsubscribe_urls": {s.watchlist.name: unsubscribe_url(s) for s in subscriptions},
        "watchlist_titles": {
            s.watchlist.name: s.watchlist.title or s.watchlist.name for s in subscriptions
        },
    }
    if first.kind == DeliveryKind.DIGEST:
        extra["date"] = str((first.payload or {}).get("date", ""))
        if len(subscriptions) > 1:
            # One link for the whole digest: it unsubscribes every digest of this target.
            extra["unsubscribe_url"] = f"{link}?all=1" if link else None
    watchlist = main.watchlist
    return Message(
        watchlist=watchlist.name,
        watchlist_title=watchlist.title,
        changes=tuple(changes),
        total=len(with_change),
        kind=first.kind,
        event_id=event_id,
        created_at=min(d.created_at for d in deliveries),
        timezone=main.timezone,
        extra=extra,
    ), subscriptions


def queue_admin_notice(
    session: Session, text: str, key: str, now: dt.datetime | None = None
) -> bool:
    """Queue one admin notice under an idempotency ``key`` (one per incident); False if it was.

    Without ``MONITOR_ADMIN_TARGET`` there is nowhere to send it: the notice is logged as a
    warning and not queued, so it never counts as a failed delivery."""
    if not os.environ.get(ADMIN_ENV):
        log.warning("admin notice (set %s to receive these): %s", ADMIN_ENV, text)
        return False
    idempotency_key = f"admin:{key}"
    if session.scalar(select(Delivery.id).where(Delivery.idempotency_key == idempotency_key)):
        return False
    now = now or utcnow()
    session.add(
        Delivery(
            idempotency_key=idempotency_key,
            group_key=str(GroupKey(DeliveryKind.ADMIN, key)),
            kind=DeliveryKind.ADMIN,
            state=DeliveryState.PENDING,
            payload={"text": text},
            next_attempt_at=now,
            created_at=now,
        )
    )
    return True


def mark_digest(session: Session, delivery_ids: list[int], state: DigestState) -> None:
    """Settle the ``digests`` rows of the subscriptions and day these digest rows were sent for."""
    rows = session.execute(
        select(Delivery.subscription_id, Delivery.payload).where(Delivery.id.in_(delivery_ids))
    )
    for subscription_id, payload in rows:
        day = (payload or {}).get("date")
        if subscription_id is not None and day:
            session.execute(
                update(Digest)
                .where(
                    Digest.subscription_id == subscription_id,
                    Digest.digest_date == dt.date.fromisoformat(str(day)),
                )
                .values(state=state)
            )


def disable_subscription(
    session: Session, subscription_id: int, answer: str, notify: bool, now: dt.datetime
) -> None:
    """Turn a subscription off for good, telling the admin once (unless ``notify`` is False)."""
    sub = session.get(Subscription, subscription_id)
    if sub is None or not sub.enabled:
        return
    sub.enabled = False
    sub.disabled_reason = answer[:500]
    if notify:
        queue_admin_notice(
            session,
            f"Subscription {sub.id} ({mask_target(sub.target)}) on watchlist "
            f"'{sub.watchlist.name}' was disabled: {answer}",
            key=f"sub-disabled:{sub.id}:{now:%Y%m%d%H%M%S}",
            now=now,
        )


MERGE_UP_TO = SLACK_MAX_CHANGES  # changes per merged message: what every channel shows in full


def pack(groups: list[list[Delivery]], limit: int = MERGE_UP_TO) -> list[list[Delivery]]:
    """Due groups as messages: the alert groups of one subscription share a message while they fit
    ``limit`` rows (a bigger group goes alone, with its "and N more"); digest and admin groups
    each go alone."""
    packs: list[list[Delivery]] = []
    filling: dict[int | None, list[Delivery]] = {}  # per subscription: its newest alert message
    for rows in groups:
        first = rows[0]
        last = filling.get(first.subscription_id) if first.kind == DeliveryKind.ALERT else None
        if last is not None and len(last) + len(rows) <= limit:
            last.extend(rows)
            continue
        packs.append(list(rows))
        if first.kind == DeliveryKind.ALERT:
            filling[first.subscription_id] = packs[-1]
    return packs


@dataclass
class Outgoing:
    """One message ready to send and the outbox rows it settles."""

    message_id: str
    kind: DeliveryKind
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

    def __init__(
        self,
        db: Database,
        *,
        client: httpx.AsyncClient | None = None,
        known_dead: Callable[[Session], Collection[str]] | None = None,
    ) -> None:
        """``known_dead`` names the lease owners known dead beyond this host (a cluster's
        heartbeats, see ``monitor.drivers.workers.dead_lease_owners``)."""
        self.db = db
        self.owner = str(LeaseOwner.mine())
        self._known_dead = known_dead
        self._client = client
        self._last_send: dict[str, float] = {}

    async def run_once(self, now: dt.datetime | None = None) -> DispatchStats:
        stats = DispatchStats()
        client = self._client or channel_client()
        try:
            now = now or utcnow()
            with self.db.session() as session:
                reclaim(session, now, self._known_dead(session) if self._known_dead else ())
                release_holds(session, now)
            with self.db.session() as session:
                build_messages(session, now)
            with self.db.session() as session:
                due = due_messages(session, now)
            for message_id in due:
                await self._deliver(client, message_id, stats, now)
        finally:
            if self._client is None:
                await client.aclose()
        return stats

    async def _deliver(
        self, client: httpx.AsyncClient, message_id: str, stats: DispatchStats, now: dt.datetime
    ) -> None:
        """Claim, send and record one message, each step committed before the next."""
        with self.db.session() as session:
            claimed = claim_message(session, message_id, self.owner, now)
            out = self._prepare(session, message_id, claimed) if claimed else None
        if out is None:
            return
        failpoint("dispatch.after-claim")
        await self._send(client, out, stats)
        failpoint("dispatch.after-record")

    @staticmethod
    def _prepare(session: Session, message_id: str, claimed: list[Delivery]) -> Outgoing:
        message, subscriptions = build_message(session, claimed)
        off = next((s for s in subscriptions if not s.enabled), None)
        main = subscriptions[0] if subscriptions else None
        return Outgoing(
            message_id=message_id,
            kind=DeliveryKind(claimed[0].kind),
            ids=[d.id for d in claimed],
            message=message,
            subscription_ids=[s.id for s in subscriptions],
            target=main.target if main else os.environ.get(ADMIN_ENV, ""),
            secret=main.secret if main else None,
            disabled=None if off is None else (off.disabled_reason or "by an operator"),
            attempts=max(d.attempts for d in claimed) + 1,
            created=min(d.created_at for d in claimed),
        )

    async def _send(self, client: httpx.AsyncClient, out: Outgoing, stats: DispatchStats) -> None:
        stats.messages += 1
        target = out.target
        record = partial(self._record, out, stats)
        if not target:
            record(Outcome.FAILED, f"no target: set {ADMIN_ENV}", permanent=True, notify=False)
            return
        if out.disabled is not None:  # unsubscribed or disabled after these rows were queued
            record(Outcome.FAILED, f"subscription disabled: {out.disabled}")
            return
        remember_target(target)
        try:
            channel = channel_for_target(target, secret=out.secret)
            rendered = channel.render(out.message)
            await self._pace(target)
            answer = await channel.send(client, rendered)
        except ConfigError as exc:  # an operator setting is missing or wrong: held, the subscriber keeps it
            held = redact_for_target(f"held until the operator fixes it: {exc}", target)
            record(Outcome.RETRY, held, retry_in=retry_delay(out.attempts))
        except DeliveryError as exc:
            reason = redact_for_target(exc.reason, target)
            if exc.permanent:
                record(Outcome.FAILED, reason, permanent=True, status=exc.status)
            elif utcnow() - out.created > GIVE_UP_AFTER:
                reason = f"gave up after {GIVE_UP_AFTER.days} days: {reason}"
                record(Outcome.FAILED, reason, permanent=True, status=exc.status)
            else:
                retry_in = retry_delay(out.attempts, exc.retry_after)
                record(Outcome.RETRY, reason, retry_in=retry_in, status=exc.status)
        except Exception as exc:  # a channel bug must not stop the other deliveries
            log.exception("message %s: unexpected error", out.message_id)
            answer = f"internal error: {type(exc).__name__}"
            record(Outcome.RETRY, answer, retry_in=retry_delay(out.attempts))
        else:
            failpoint("dispatch.after-send")
            record(Outcome.SENT, redact_for_target(answer, target))

    async def _pace(self, target: str) -> None:
        """At most one message per second per target (Slack's posting limit)."""
        loop = asyncio.get_running_loop()
        last = self._last_send.get(target)
        if last is not None:
            wait = 1.0 - (loop.time() - last)
            if wait > 0:
                await asyncio.sleep(wait)
        self._last_send[target] = loop.time()

    def _record(
        self,
        out: Outgoing,
        stats: DispatchStats,
        outcome: Outcome,
        answer: str,
        *,
        permanent: bool = False,
        retry_in: float = 0.0,
        status: int | None = None,
        notify: bool = True,
    ) -> None:
        """Settle one message's rows in one commit; a permanent failure disables the subscriptions."""
        now = utcnow()
        ids = out.ids
        values: dict[str, object]
        if outcome is Outcome.SENT:
            values = {"state": DeliveryState.SENT, "sent_at": now, "last_error": None}
            stats.sent += len(ids)
        elif outcome is Outcome.RETRY:
            next_at = now + dt.timedelta(seconds=retry_in)
            values = {"state": DeliveryState.PENDING, "next_attempt_at": next_at, "last_error": answer}
            stats.retried += len(ids)
        else:
            values = {"state": DeliveryState.FAILED, "last_error": answer}
            stats.failed += len(ids)
            stats.errors.append(answer)
        with self.db.session() as session:
            session.execute(
                update(Delivery)
                .where(
                    Delivery.id.in_(ids),
                    Delivery.lease_owner == self.owner,
                    Delivery.state == DeliveryState.SENDING,
                )
                .values(attempts=out.attempts, lease_owner=None, lease_until=None, **values)
            )
            session.add_all(
                DeliveryAttempt(delivery_id=delivery_id, at=now, outcome=outcome,
                                status_code=status, response=answer[:500])
                for delivery_id in ids
            )
            if out.kind is DeliveryKind.DIGEST and outcome is not Outcome.RETRY:
                mark_digest(session, ids, DigestState.SENT if outcome is Outcome.SENT else DigestState.FAILED)
            if permanent:
                for subscription_id in out.subscription_ids:
                    disable_subscription(session, subscription_id, answer, notify, now)
        log.info("message %s (deliveries %s): %s (%s)", out.message_id, ids, outcome, answer)

    def next_due(self) -> dt.datetime | None:
        with self.db.session() as session:
            return session.scalar(
                select(Delivery.next_attempt_at)
                .where(_due() | (Delivery.state == DeliveryState.HELD))
                .order_by(Delivery.next_attempt_at)
                .limit(1)
            )
