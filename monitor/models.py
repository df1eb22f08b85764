"""The SQL schema: every table Remedy Monitor keeps, as SQLAlchemy 2 typed ORM classes, alike on SQLite
and PostgreSQL; only the Alembic migrations in ``migrations/`` create and change it."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from monitor.outbox.states import DeliveryKind, DeliveryState, DigestState


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A datetime stored and read back aware, in UTC, so both backends compare alike; a naive one
    (SQLite returns them) is UTC already."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)

    process_result_value = process_bind_param


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Source(Base):
    """One configured source and its health. The config itself lives in sources.yaml."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    config_hash: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(Text)  # public URL shown as evidence (no keys)
    title: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # health
    last_attempt_at: Mapped[dt.datetime | None]
    last_success_at: Mapped[dt.datetime | None]
    last_items_at: Mapped[dt.datetime | None]  # last poll that yielded at least one item
    last_change_at: Mapped[dt.datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_outcome: Mapped[str | None] = mapped_column(String(20))  # changed|unchanged|failed|deferred
    deferred_reason: Mapped[str | None] = mapped_column(Text)
    polls_total: Mapped[int] = mapped_column(Integer, default=0)
    polls_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    baseline_done: Mapped[bool] = mapped_column(Boolean, default=False)
    watermark: Mapped[str | None] = mapped_column(Text)  # a date, or the pages a poll still owes (URLs)
    requests_today: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    requests_day: Mapped[dt.date | None] = mapped_column(Date)  # the UTC day requests_today counts
    # fingerprint of config + key that got a 401/403: not polled again until it changes
    auth_blocked: Mapped[str | None] = mapped_column(String(64))
    # scheduling and the row lease that keeps one source to one poller
    next_run_at: Mapped[dt.datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None]
    # silent-source incident currently open (one admin alert per incident)
    incident_open: Mapped[bool] = mapped_column(Boolean, default=False)
    incident_reason: Mapped[str | None] = mapped_column(Text)


class HttpCache(Base):
    """HTTP validators and body hash per URL, so an unchanged response costs nothing."""

    __tablename__ = "http_cache"

    url_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(Text)  # redacted: no keys in query strings
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Poll(Base):
    """One poll of one source; changes from one poll travel together in alerts."""

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    outcome: Mapped[str] = mapped_column(String(20))  # changed|unchanged|failed|deferred
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_changed: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class Item(Base):
    """The current state of one thing a source reports: a bill, an opinion, a docket, an entry."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    identity: Mapped[str | None] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    jurisdiction: Mapped[str | None] = mapped_column(String(20))
    court: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str | None] = mapped_column(String(40))
    raw_status: Mapped[str | None] = mapped_column(Text)
    status_action: Mapped[str | None] = mapped_column(Text)
    status_date: Mapped[dt.date | None] = mapped_column(Date)
    status_changed_at: Mapped[dt.datetime | None]
    published_at: Mapped[dt.datetime | None]
    summary: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_changed: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)

    versions: Mapped[list[ItemVersion]] = relationship(order_by="ItemVersion.version", cascade="all, delete-orphan")


class ItemVersion(Base):
    """Every distinct version of an item, in order, with the full normalised snapshot."""

    __tablename__ = "item_versions"
    __table_args__ = (UniqueConstraint("item_id", "version", name="uq_item_versions_item_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    poll_id: Mapped[int | None] = mapped_column(ForeignKey("polls.id", ondelete="SET NULL"))
    content_hash: Mapped[str] = mapped_column(String(64))
    snapshot: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Change(Base):
    """A detected change: a new item, a status move, or one changed field."""

    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("item_versions.id", ondelete="CASCADE"))
    poll_id: Mapped[int | None] = mapped_column(ForeignKey("polls.id", ondelete="SET NULL"), index=True)
    type: Mapped[str] = mapped_column(String(10))  # new|status|field
    field: Mapped[str | None] = mapped_column(String(60))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)
    detected_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    item: Mapped[Item] = relationship()
    version: Mapped[ItemVersion | None] = relationship()  # the item as this change left it


class StatusEvent(Base):
    """One real-world status move of one identity (``us/119/s/3470`` reported on Nov 24, 2026),
    whichever providers report it: alerted once, by the first report's change."""

    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(40))
    status_date: Mapped[dt.date | None] = mapped_column(Date)
    first_source_id: Mapped[str] = mapped_column(String(100))
    # the change whose deliveries carry the alert; None when the first provider stood at this
    # status before alerts began (its baseline), so nobody was told of the move
    first_change_id: Mapped[int | None] = mapped_column(ForeignKey("changes.id", ondelete="SET NULL"))
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    reports: Mapped[list[StatusReport]] = relationship(order_by="StatusReport.id", cascade="all, delete-orphan")


class StatusReport(Base):
    """One provider's report of a status event: the first one, or a later confirmation."""

    __tablename__ = "status_reports"
    __table_args__ = (UniqueConstraint("event_id", "source_id", name="uq_status_reports_event_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("status_events.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(String(100))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    change_id: Mapped[int | None] = mapped_column(ForeignKey("changes.id", ondelete="SET NULL"))
    status_date: Mapped[dt.date | None] = mapped_column(Date)
    reported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Watchlist(Base):
    """A tracked remedy: what to match, which identities to follow, and how loudly."""

    __tablename__ = "watchlists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text, default="")
    pinned: Mapped[list[Any]] = mapped_column(default=list)
    on_new: Mapped[bool] = mapped_column(Boolean, default=True)
    on_status: Mapped[str] = mapped_column(String(10), default="ladder")  # ladder|any|off
    on_field: Mapped[bool] = mapped_column(Boolean, default=False)
    muted: Mapped[list[Any]] = mapped_column(default=list)
    snooze_until: Mapped[dt.datetime | None]
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    follow_matches: Mapped[bool] = mapped_column(Boolean, default=True)  # a matching new bill is followed
    # hold a status move until this many providers reported it, at most confirm_timeout seconds
    confirm: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    confirm_timeout: Mapped[int] = mapped_column(Integer, default=86400, server_default="86400")
    feed_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="watchlist", cascade="all, delete-orphan"
    )


UNSUBSCRIBED = "unsubscribed by the recipient"  # Subscription.disabled_reason of an unsubscribe link


class Subscription(Base):
    """Who hears about a watchlist, through which channel target, immediately or in a digest."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watchlist_id: Mapped[int] = mapped_column(ForeignKey("watchlists.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # slack|email|webhook|apprise
    target: Mapped[str] = mapped_column(Text)  # secret: shown masked
    mode: Mapped[str] = mapped_column(String(10), default="immediate")  # immediate|digest
    digest_at: Mapped[str | None] = mapped_column(String(5))  # HH:MM local
    timezone: Mapped[str | None] = mapped_column(String(60))
    send_empty_digest: Mapped[bool] = mapped_column(Boolean, default=False)
    secret: Mapped[str | None] = mapped_column(Text)  # webhook signing secret
    unsubscribe_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def unsubscribed(self) -> bool:
        """Turned off by its recipient (an unsubscribe link): theirs to undo, never an operator's retry."""
        return not self.enabled and self.disabled_reason == UNSUBSCRIBED

    watchlist: Mapped[Watchlist] = relationship(back_populates="subscriptions")


class Delivery(Base):
    """The outbox: one row per change x subscription, written with the change itself.

    ``group_key`` bundles the rows that belong in one message (one poll, one subscription);
    ``idempotency_key`` makes a second enqueue of the same pair impossible. ``message_id`` is set
    once, when the dispatcher first builds the message that carries the row: every retry sends
    the rows of that id, under that id (the webhook-id / Message-ID), and nothing else.
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    group_key: Mapped[str] = mapped_column(String(200), index=True)
    change_id: Mapped[int | None] = mapped_column(ForeignKey("changes.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10), default=DeliveryKind.ALERT)
    rule: Mapped[str | None] = mapped_column(String(300))  # "<watchlist>: <rule that fired>"
    state: Mapped[str] = mapped_column(String(10), default=DeliveryState.PENDING)
    message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # admin text, digest date, alert's first corroboration
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]

    change: Mapped[Change | None] = relationship()
    subscription: Mapped[Subscription | None] = relationship()


class DeliveryAttempt(Base):
    """What happened on each try of a delivery: for ``monitor alerts show``."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(10))  # sent|retry|failed
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text)


class Digest(Base):
    """One row per subscription per local day: the once-a-day guarantee for digests."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("subscription_id", "digest_date", name="uq_digests_sub_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    digest_date: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10), default=DigestState.PENDING)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """A pushed event (CourtListener webhooks), stored raw before it is processed."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    event_type: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class BudgetSpend(Base):
    """Requests spent per provider per window (minute/hour/day), shared by all processes."""

    __tablename__ = "budget_spend"

    provider: Mapped[str] = mapped_column(String(60), primary_key=True)
    window: Mapped[str] = mapped_column(String(10), primary_key=True)  # minute|hour|day
    window_start: Mapped[dt.datetime] = mapped_column(primary_key=True)
    spent: Mapped[int] = mapped_column(BigInteger, default=0)
    blocked_until: Mapped[dt.datetime | None]


class Setting(Base):
    """Small key/value store: secrets set through the CLI, schema markers, worker heartbeats."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FollowedBill(Base):
    """A bill a discovery feed found and a watchlist matched: polled from then on (monitor.follow)."""

    __tablename__ = "followed_bills"
    __table_args__ = (UniqueConstraint("watchlist_id", "identity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watchlist_id: Mapped[int] = mapped_column(ForeignKey("watchlists.id", ondelete="CASCADE"), index=True)
    identity: Mapped[str] = mapped_column(String(200), index=True)  # us/119/hr/1234, il/104/hb/1312
    label: Mapped[str] = mapped_column(String(60))  # H.R. 1234
    title: Mapped[str] = mapped_column(Text, default="")
    found_by: Mapped[str] = mapped_column(String(200))  # the discovery source's id
    item_key: Mapped[str] = mapped_column(String(500))  # the item that matched
    why: Mapped[str] = mapped_column(String(200))  # the watchlist's reason: "query", "pinned …"
    followed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
