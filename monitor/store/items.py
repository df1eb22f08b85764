"""Writing one poll's results: upsert items, versions, changes and outbox rows in one transaction.

This is the transactional outbox: an item version, the changes it implies and the deliveries
those changes trigger are committed together with the source's new validators and watermark,
so a crash at any point loses no change and duplicates none.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Date, Integer, String, Table, bindparam, case, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine
from sqlalchemy.orm import Session

from monitor.changes.diff import diff
from monitor.fetch import CacheEntry
from monitor.changes.match import CompiledWatchlist
from monitor.models import (Change, Delivery, HttpCache, Item, ItemVersion, JSONText, Poll, Source, Subscription,
                            Watchlist, utcnow)
from monitor.outbox.enqueue import Recipient, deliveries
from monitor.changes.query import MatchDoc
from monitor.sources.base import Hashed, ItemRecord

CHUNK = 500
T = TypeVar("T")

# The statements a poll runs, built once: SQLAlchemy then reuses their cache keys and compiled SQL
# instead of rebuilding both for each of thousands of polls.
_items, _versions, _sources = Item.__table__, ItemVersion.__table__, Source.__table__
_MOMENT = _items.c.last_seen.type


def _requests_spent(requests: Any, today: Any) -> dict[str, Any]:
    """SET values counting ``requests`` into the source's UTC day (a new day starts from zero);
    either may be a value or a bound parameter."""
    c = _sources.c
    return {"requests_today": case((c.requests_day == today, c.requests_today + requests), else_=requests),
            "requests_day": today}


_SEEN = update(_items).where(_items.c.id.in_(bindparam("ids", expanding=True))).values(
    last_seen=bindparam("now", type_=_MOMENT))
_INSERT_POLL = insert(Poll.__table__).returning(Poll.__table__.c.id)
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
    **_requests_spent(bindparam("n", type_=Integer), bindparam("today", type_=Date)),
)


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


def begin_writing(session: Session) -> None:
    """Open the session's transaction for writing now, before any savepoint.

    Python's sqlite3 begins a transaction only before an INSERT/UPDATE/DELETE, so a SAVEPOINT
    sent first would start one itself, and releasing it would commit: each savepoint would
    then be a transaction of its own. BEGIN IMMEDIATE also takes the write lock up front."""
    conn = session.connection()
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


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


# in the tables' column order, which the compiled statements bind in
_NEW_ITEM = ("key", "source_id", "kind", "identity", "title", "url", "jurisdiction", "court", "status", "raw_status",
             "status_action", "status_date", "status_changed_at", "published_at", "summary", "text", "data",
             "first_seen", "last_seen", "last_changed", "content_hash", "version")
_VERSION = ("item_id", "version", "poll_id", "content_hash", "snapshot", "created_at")


@dataclass(frozen=True)
class _RawInsert:
    """A multi-row INSERT sent to the driver as it is, rows as tuples already in their stored form.

    SQLAlchemy's per-row parameter processing was a third of a cold poll's store time; the few
    columns that need converting (dates, times) are converted once per value here instead."""

    sql: str  # one row's INSERT, in the driver's paramstyle
    names: tuple[str, ...]
    returning: bool

    @classmethod
    def of(cls, conn: Connection, table: Table, columns: tuple[str, ...], returning: tuple[str, ...] = ()
           ) -> _RawInsert:
        key = (conn.dialect.name, conn.dialect.driver, table.name, columns, returning)
        found = _RAW_INSERTS.get(key)
        if found is None:
            stmt = insert(table).values({name: bindparam(name) for name in columns})
            if returning:
                stmt = stmt.returning(*(table.c[name] for name in returning))
            compiled = stmt.compile(dialect=conn.dialect)
            if compiled.positional and tuple(compiled.positiontup or ()) != columns:
                raise ValueError(f"{table.name}: columns must be listed in the order the table has them")
            sql = compiled.string if returning else compiled.string.partition(" RETURNING ")[0]  # PG's implicit one
            found = _RAW_INSERTS[key] = cls(sql, columns, bool(returning))
        return found

    def run(self, conn: Connection, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Insert ``rows`` (in ``names`` order); the RETURNING rows, in any order."""
        cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if conn.dialect.name != "postgresql":  # SQLite: one statement of n rows, prepared once per n
                if not self.returning:
                    cursor.executemany(self.sql, rows)
                    return []
                head, _, tail = self.sql.partition(" VALUES ")
                values, _, returning = tail.partition(" RETURNING ")
                cursor.execute(f"{head} VALUES {', '.join([values] * len(rows))} RETURNING {returning}",
                               [v for row in rows for v in row])
                return list(cursor.fetchall())
            # psycopg: a pipelined executemany of one prepared statement (a long multi-row text
            # costs more to parse client-side than the inserts take)
            cursor.executemany(self.sql, [dict(zip(self.names, row)) for row in rows], returning=self.returning)
            out: list[tuple[Any, ...]] = []
            while self.returning:
                out += cursor.fetchall()
                if not cursor.nextset():
                    break
            return out
        finally:
            cursor.close()


_RAW_INSERTS: dict[tuple[Any, ...], _RawInsert] = {}


def _stored_form(conn: Connection, type_: TypeEngine[Any]) -> Callable[[Any], Any]:
    """What SQLAlchemy would bind for a ``type_`` value on this connection's database."""
    process = type_.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    if process is None:
        return lambda value: value
    return lambda value: None if value is None else process(value)


def _insert_items(conn: Connection, source_id: str, fresh: list[_Written], now: dt.datetime) -> None:
    """New items' rows, their ids read back into ``fresh``."""
    moment, day = _stored_form(conn, _MOMENT), _stored_form(conn, Date())
    stamp = moment(now)
    raw = _RawInsert.of(conn, _items, _NEW_ITEM, ("key", "id"))
    for chunk in chunks(fresh):
        rows = []
        for w in chunk:
            r = w.new.record
            rows.append((r.key, source_id, r.kind, r.identity, r.title, r.url, r.jurisdiction, r.court, r.status,
                         r.raw_status, r.status_action, day(r.status_date), stamp if r.status else None,
                         moment(r.published_at), r.summary, r.text, w.new.data_json, stamp, stamp, stamp,
                         w.new.content_hash, 1))
        inserted = dict(raw.run(conn, rows))
        for w in chunk:
            w.item_id = inserted[w.new.record.key]


def _insert_versions(conn: Connection, poll_id: int, written: list[_Written], now: dt.datetime, *,
                     returning: bool) -> dict[int, int]:
    """One version row per written item; with ``returning``, their ids by item id."""
    stamp = _stored_form(conn, _MOMENT)(now)
    raw = _RawInsert.of(conn, _versions, _VERSION, ("item_id", "id") if returning else ())
    ids: dict[int, int] = {}
    for chunk in chunks(written):
        rows = [(w.item_id, w.version, poll_id, w.new.content_hash, w.new.snapshot_json, stamp) for w in chunk]
        ids.update(raw.run(conn, rows))
    return ids


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
        _insert_items(conn, source_id, fresh, now)
    if updated:
        _update_items(conn, updated, now)
    written = fresh + updated
    if written:
        # a baseline has no changes to point at the versions: nothing to read back
        version_ids = _insert_versions(conn, summary.poll_id, written, now, returning=not baseline)
        if not baseline:
            _record_changes(conn, source_id, written, version_ids, summary, now)

    if cache_updates:
        save_cache(conn, source_id, cache_updates)
    record_success(conn, source_id, summary, watermark=watermark, now=now)
    return summary


_EXISTING_SQL = "SELECT key, id, content_hash, version, status FROM items WHERE key"


class _Known(NamedTuple):
    key: str
    id: int
    content_hash: str
    version: int
    status: str | None


def _existing(conn: Connection, keys: list[str]) -> dict[str, _Known]:
    """Stored items by key: id, content hash, version, status.

    Sent to the driver as it is (an expanding IN through SQLAlchemy cost more than the query).
    On PostgreSQL it is never a prepared statement: psycopg prepares a query after its fifth
    run, and the generic plan PostgreSQL then keeps was costed while ``items`` was nearly
    empty, as a cold cycle starts: a sequential scan, 17 ms a poll by 15,000 items."""
    found: dict[str, _Known] = {}
    postgres = conn.dialect.name == "postgresql"
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for chunk in chunks(keys):
            if postgres:
                cursor.execute(f"{_EXISTING_SQL} = ANY(%s)", (list(chunk),), prepare=False)
            else:
                cursor.execute(f"{_EXISTING_SQL} IN ({', '.join('?' * len(chunk))})", chunk)
            found.update((row[0], _Known(*row)) for row in cursor.fetchall())
    finally:
        cursor.close()
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
    conn.execute(update(Source.__table__).where(c.id == bindparam("sid")).values(
        last_attempt_at=now, last_success_at=now, consecutive_failures=0, last_error=None,
        last_outcome="unchanged", deferred_reason=None, polls_total=c.polls_total + 1,
        polls_unchanged=c.polls_unchanged + 1, auth_blocked=None,
        **_requests_spent(bindparam("n", type_=Integer), now.date()),
    ), [{"sid": source_id, "n": requests} for source_id, requests, _ in polls])


def record_failure(session: Session, source_id: str, error: str, *, requests: int = 0,
                   now: dt.datetime | None = None, auth_blocked: str | None = None) -> PollSummary:
    """A failed poll; ``auth_blocked`` (a 401/403) holds the source until its config or key changes."""
    now = now or utcnow()
    session.execute(update(Source).where(Source.id == source_id).values(
        last_attempt_at=now, consecutive_failures=Source.consecutive_failures + 1, last_error=error[:1000],
        last_outcome="failed", polls_total=Source.polls_total + 1, auth_blocked=auth_blocked,
        **_requests_spent(requests, now.date()),
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
        **_requests_spent(requests, now.date()),
    ))
    return PollSummary(source_id, "deferred", error=reason, requests=requests)
