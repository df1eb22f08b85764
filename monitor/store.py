"""Writing one poll's results: upsert items, versions, changes and outbox rows in one transaction.

This is the transactional outbox: an item version, the changes it implies and the deliveries
those changes trigger are committed together with the source's new validators and watermark,
so a crash at any point loses no change and duplicates none.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Date, Integer, Row, String, bindparam, case, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from monitor.diff import diff
from monitor.fetch import CacheEntry
from monitor.matching import CompiledWatchlist
from monitor.models import (Change, Delivery, HttpCache, Item, ItemVersion, JSONText, Poll, Source, Subscription,
                            Watchlist, utcnow)
from monitor.outbox import Recipient, deliveries
from monitor.query import MatchDoc
from monitor.sources.base import Hashed, ItemRecord

CHUNK = 500
T = TypeVar("T")

# The statements a poll runs, built once: SQLAlchemy then reuses their cache keys and compiled SQL
# instead of rebuilding both for each of thousands of polls.
_items, _versions, _sources = Item.__table__, ItemVersion.__table__, Source.__table__
_MOMENT = _items.c.last_seen.type
_EXISTING = select(_items.c.key, _items.c.id, _items.c.content_hash, _items.c.version, _items.c.status).where(
    _items.c.key.in_(bindparam("keys", expanding=True)))
_SEEN = update(_items).where(_items.c.id.in_(bindparam("ids", expanding=True))).values(
    last_seen=bindparam("now", type_=_MOMENT))
_INSERT_ITEMS = insert(_items).returning(_items.c.key, _items.c.id)
_INSERT_POLL = insert(Poll.__table__).returning(Poll.__table__.c.id)
_INSERT_VERSIONS = insert(_versions)
_INSERT_VERSIONS_RETURNING = insert(_versions).returning(_versions.c.item_id, _versions.c.id)
_CACHE_UPDATE = update(HttpCache.__table__).where(HttpCache.__table__.c.url_hash == bindparam("h"))
_CACHE_INSERT = insert(HttpCache.__table__)
_SUCCESS = update(_sources).where(_sources.c.id == bindparam("sid")).values(
    last_attempt_at=bindparam("now", type_=_MOMENT), last_success_at=bindparam("now", type_=_MOMENT),
    consecutive_failures=0, last_error=None, last_outcome=bindparam("outcome", type_=String),
    deferred_reason=None, polls_total=_sources.c.polls_total + 1,
    polls_unchanged=_sources.c.polls_unchanged + bindparam("unchanged", type_=Integer),
    items_seen=_sources.c.items_seen + bindparam("seen", type_=Integer), baseline_done=True, auth_blocked=None,
    last_items_at=func.coalesce(bindparam("items_at", type_=_MOMENT), _sources.c.last_items_at),
    last_change_at=func.coalesce(bindparam("change_at", type_=_MOMENT), _sources.c.last_change_at),
    watermark=func.coalesce(bindparam("watermark", type_=String), _sources.c.watermark),
    requests_today=case((_sources.c.requests_day == bindparam("today", type_=Date), _sources.c.requests_today
                         + bindparam("n", type_=Integer)), else_=bindparam("n", type_=Integer)),
    requests_day=bindparam("today", type_=Date),
)


class Outcome(enum.Enum):
    insert = "insert"
    update = "update"
    noop = "noop"


@dataclass
class PollSummary:
    source_id: str
    outcome: str  # changed|unchanged|failed|deferred|skipped
    seen: int = 0
    new: int = 0
    changed: int = 0
    alerts: int = 0
    baseline: bool = False
    error: str | None = None
    requests: int = 0
    poll_id: int | None = None
    change_ids: list[int] = field(default_factory=list)


def url_key(url: str) -> str:
    import hashlib

    return hashlib.sha256(url.encode()).hexdigest()


def save_cache(conn: Connection | Session, source_id: str, updated: dict[str, CacheEntry]) -> None:
    """Store new validators (Core statements: this runs on the cheap unchanged path too)."""
    for url, entry in updated.items():
        values = {"etag": entry.etag, "last_modified": entry.last_modified, "body_hash": entry.body_hash,
                  "updated_at": utcnow()}
        if not conn.execute(_CACHE_UPDATE, {"h": url_key(url), **values}).rowcount:
            conn.execute(_CACHE_INSERT, {"url_hash": url_key(url), "source_id": source_id, "url": url, **values})


def match_doc(item: Item | ItemRecord, source_id: str) -> MatchDoc:
    return MatchDoc(key=item.key, kind=item.kind, source=source_id, title=item.title or "",
                    summary=item.summary or "", text=item.text or "", identity=item.identity,
                    jurisdiction=item.jurisdiction, court=item.court, status=item.status,
                    status_action=item.status_action, data=item.data or {})


_WATCHLIST_FIELDS = ("id", "name", "query", "pinned", "muted", "on_new", "on_status", "on_field", "paused",
                     "snooze_until")


@functools.lru_cache(maxsize=256)
def _compiled(values: tuple[Any, ...]) -> CompiledWatchlist:
    """Memoised on the watchlist's values: a query is parsed once per run, and an edit still counts."""
    return CompiledWatchlist.compile(Watchlist(**dict(zip(_WATCHLIST_FIELDS, values))))


def compiled_watchlists(conn: Connection) -> list[tuple[CompiledWatchlist, list[Recipient]]]:
    """The watchlists someone is subscribed to, compiled, with their enabled subscriptions.

    Read for each poll that has changes to match (two small queries), so an edit made while the
    service runs applies to the next poll; a watchlist nobody hears from is never evaluated."""
    s, w = Subscription.__table__.c, Watchlist.__table__.c
    recipients: dict[int, list[Recipient]] = {}
    for sub in conn.execute(select(s.id, s.watchlist_id, s.mode).where(s.enabled.is_(True)).order_by(s.id)):
        recipients.setdefault(sub.watchlist_id, []).append(Recipient(sub.id, sub.mode))
    if not recipients:
        return []
    rows = conn.execute(select(*(w[name] for name in _WATCHLIST_FIELDS)).where(w.id.in_(recipients)).order_by(w.id))
    return [(_compiled(tuple(tuple(v) if isinstance(v, list) else v for v in row)), recipients[row.id])
            for row in rows]


def chunks(seq: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


_ITEM_FIELDS = ("kind", "title", "url", "identity", "jurisdiction", "court", "status", "raw_status",
                "status_action", "status_date", "published_at", "summary", "text")


@dataclass
class _Written:
    """An item this poll wrote a version of: ``old`` is the previous version's snapshot (None: new)."""

    new: Hashed
    item_id: int = 0
    version: int = 1
    old: dict[str, Any] | None = None
    old_status: str | None = None


def _item_values(w: _Written, now: dt.datetime) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(w.new.record, name) for name in _ITEM_FIELDS}
    values.update(data=JSONText(w.new.data_json), content_hash=w.new.content_hash, last_changed=now, last_seen=now)
    return values


def store_poll(session: Session, source_id: str, records: Sequence[ItemRecord | Hashed], *, baseline: bool,
               requests: int = 0, cache_updates: dict[str, CacheEntry] | None = None,
               watermark: str | None = None, now: dt.datetime | None = None) -> PollSummary:
    """Upsert ``records`` for ``source_id`` and everything that follows from them, in ``session``'s
    transaction.

    Core statements on the session's connection, one per table and poll (multi-row INSERTs,
    one UPDATE for the items seen again), not ORM flushes: a cold 50-entry poll is a handful of
    statements, and its snapshots are taken and hashed once.
    """
    now = now or utcnow()
    conn = session.connection()
    hashed = [r if isinstance(r, Hashed) else Hashed.of(r) for r in records]
    existing = _existing(conn, [h.record.key for h in hashed])

    seen_ids: list[int] = []
    fresh: list[_Written] = []
    updated: list[_Written] = []
    for h in hashed:
        known = existing.get(h.record.key)
        if known is None:
            fresh.append(_Written(h))
        elif known.content_hash == h.content_hash:
            seen_ids.append(known.id)
        else:
            updated.append(_Written(h, known.id, known.version + 1, old_status=known.status))
    summary = PollSummary(source_id, "changed" if fresh or updated else "unchanged", seen=len(records),
                          new=len(fresh), changed=len(updated), baseline=baseline, requests=requests)
    summary.poll_id = conn.execute(_INSERT_POLL, {
        "source_id": source_id, "started_at": now, "finished_at": utcnow(), "outcome": summary.outcome,
        "baseline": baseline, "items_seen": summary.seen, "items_new": summary.new,
        "items_changed": summary.changed, "requests": requests}).scalar_one()

    for ids in chunks(seen_ids):
        conn.execute(_SEEN, {"ids": ids, "now": now})
    if fresh:
        inserted = dict(conn.execute(_INSERT_ITEMS, [
            _item_values(w, now) | {"key": w.new.record.key, "source_id": source_id, "first_seen": now, "version": 1,
                                    "status_changed_at": now if w.new.record.status else None} for w in fresh]).all())
        for w in fresh:
            w.item_id = inserted[w.new.record.key]
    if updated:
        _update_items(conn, updated, now)
    written = fresh + updated
    if written:
        rows = [{"item_id": w.item_id, "version": w.version, "poll_id": summary.poll_id,
                 "content_hash": w.new.content_hash, "snapshot": JSONText(w.new.snapshot_json), "created_at": now}
                for w in written]
        if baseline:  # no changes to point at the versions: nothing to read back
            conn.execute(_INSERT_VERSIONS, rows)
        else:
            version_ids = dict(conn.execute(_INSERT_VERSIONS_RETURNING, rows).all())
            _record_changes(conn, source_id, written, version_ids, summary, now)

    if cache_updates:
        save_cache(conn, source_id, cache_updates)
    record_success(conn, source_id, summary, watermark=watermark, now=now)
    return summary


def _existing(conn: Connection, keys: list[str]) -> dict[str, Row[Any]]:
    """Stored items by key: id, content hash, version, status."""
    found: dict[str, Row[Any]] = {}
    for chunk in chunks(keys):
        found.update((row.key, row) for row in conn.execute(_EXISTING, {"keys": chunk}))
    return found


def _update_items(conn: Connection, updated: list[_Written], now: dt.datetime) -> None:
    """New content for known items; their previous snapshots (for the diff) read in one query."""
    for chunk in chunks(updated):
        previous = {row.item_id: row.snapshot for row in conn.execute(
            select(_versions.c.item_id, _versions.c.snapshot).join(_items, _items.c.id == _versions.c.item_id)
            .where(_versions.c.item_id.in_([w.item_id for w in chunk]), _versions.c.version == _items.c.version))}
        for w in chunk:
            w.old = previous.get(w.item_id)
            values = _item_values(w, now) | {"version": w.version}
            if w.old_status != w.new.record.status:
                values["status_changed_at"] = now
            conn.execute(update(_items).where(_items.c.id == w.item_id).values(**values))


def _record_changes(conn: Connection, source_id: str, written: list[_Written], version_ids: dict[int, int],
                    summary: PollSummary, now: dt.datetime) -> None:
    """Change rows for every written version, then the outbox rows of the rules they fire."""
    changes = Change.__table__
    specs = [(w, spec) for w in written for spec in diff(w.old, w.new.record)]
    if not specs:
        return
    summary.change_ids = list(conn.execute(insert(changes).returning(changes.c.id, sort_by_parameter_order=True), [
        {"item_id": w.item_id, "version_id": version_ids[w.item_id], "poll_id": summary.poll_id, "type": spec.type,
         "field": spec.field, "old": spec.old, "new": spec.new, "detected_at": now} for w, spec in specs]).scalars())
    watchlists = compiled_watchlists(conn)
    if not watchlists:
        return
    rows: list[dict[str, object]] = []
    docs: dict[int, MatchDoc] = {}
    for change_id, (w, spec) in zip(summary.change_ids, specs):
        doc = docs.get(w.item_id) or docs.setdefault(w.item_id, match_doc(w.new.record, source_id))
        for watchlist, recipients in watchlists:
            rule = watchlist.rule_for(spec, doc)
            if rule is not None:
                rows += deliveries(change_id, watchlist, recipients, rule, group=f"p{summary.poll_id}", now=now)
    if rows:
        conn.execute(insert(Delivery.__table__), rows)
    summary.alerts = len(rows)


def _requests_spent(requests: int, now: dt.datetime) -> dict[str, object]:
    """SET values counting ``requests`` into the source's UTC day (a new day starts from zero)."""
    today = now.date()
    return {"requests_today": case((Source.requests_day == today, Source.requests_today + requests),
                                   else_=requests),
            "requests_day": today}


def record_success(conn: Connection, source_id: str, summary: PollSummary, *, watermark: str | None,
                   now: dt.datetime) -> None:
    conn.execute(_SUCCESS, {
        "sid": source_id, "now": now, "outcome": summary.outcome, "unchanged": int(summary.outcome == "unchanged"),
        "seen": summary.seen, "items_at": now if summary.seen else None,
        "change_at": now if summary.new or summary.changed else None, "watermark": watermark,
        "today": now.date(), "n": summary.requests})


def record_unchanged(conn: Connection | Session, source_id: str, *, requests: int,
                     cache_updates: dict[str, CacheEntry] | None, now: dt.datetime | None = None) -> PollSummary:
    """The cheap path: a 304 or an identical body. Health only, no items touched, no poll row, no ORM."""
    record_unchanged_many(conn, [(source_id, requests, cache_updates or {})], now=now)
    return PollSummary(source_id, "unchanged", requests=requests)


def record_unchanged_many(conn: Connection | Session, polls: list[tuple[str, int, dict[str, CacheEntry]]], *,
                          now: dt.datetime | None = None) -> None:
    """Many unchanged polls in one statement (executemany): (source id, requests sent, new validators)."""
    now = now or utcnow()
    for source_id, _, cache_updates in polls:
        if cache_updates:
            save_cache(conn, source_id, cache_updates)
    c = Source.__table__.c
    today = now.date()
    conn.execute(update(Source.__table__).where(c.id == bindparam("sid")).values(
        last_attempt_at=now, last_success_at=now, consecutive_failures=0, last_error=None,
        last_outcome="unchanged", deferred_reason=None, polls_total=c.polls_total + 1,
        polls_unchanged=c.polls_unchanged + 1, auth_blocked=None,
        requests_today=case((c.requests_day == today, c.requests_today + bindparam("n")), else_=bindparam("n")),
        requests_day=today,
    ), [{"sid": source_id, "n": requests} for source_id, requests, _ in polls])


def record_failure(session: Session, source_id: str, error: str, *, requests: int = 0,
                   now: dt.datetime | None = None, auth_blocked: str | None = None) -> PollSummary:
    """A failed poll; ``auth_blocked`` (a 401/403) holds the source until its config or key changes."""
    now = now or utcnow()
    session.execute(update(Source).where(Source.id == source_id).values(
        last_attempt_at=now, consecutive_failures=Source.consecutive_failures + 1, last_error=error[:1000],
        last_outcome="failed", polls_total=Source.polls_total + 1, auth_blocked=auth_blocked,
        **_requests_spent(requests, now),
    ))
    session.add(Poll(source_id=source_id, started_at=now, finished_at=now, outcome="failed", error=error[:1000],
                     requests=requests))
    return PollSummary(source_id, "failed", error=error, requests=requests)


def record_deferred(session: Session, source_id: str, reason: str, *, until: dt.datetime, requests: int = 0,
                    now: dt.datetime | None = None) -> PollSummary:
    """A poll the budget did not allow: nothing was sent for it, so it is neither success nor failure.

    The source is due again when the budget reopens (``until``), not a whole interval later:
    the workers' dispatch reads ``next_run_at``, so deferred sources go first in the next window
    instead of losing it to sources that were polled in this one (``monitor run`` overwrites it
    with its scheduler's next slot)."""
    now = now or utcnow()
    session.execute(update(Source).where(Source.id == source_id).values(
        last_attempt_at=now, last_outcome="deferred", deferred_reason=reason[:1000], next_run_at=until,
        **_requests_spent(requests, now),
    ))
    return PollSummary(source_id, "deferred", error=reason, requests=requests)
