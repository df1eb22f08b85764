"""Writing one poll's results: upsert items, versions, changes and outbox rows in one transaction.

This is the transactional outbox: an item version, the changes it implies and the deliveries
those changes trigger are committed together with the source's new validators and watermark,
so a crash at any point loses no change and duplicates none.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from monitor.diff import ChangeSpec, diff
from monitor.fetch import CacheEntry
from monitor.matching import CompiledWatchlist
from monitor.models import Change, HttpCache, Item, ItemVersion, Poll, Source, Subscription, Watchlist, utcnow
from monitor.outbox import enqueue
from monitor.query import MatchDoc
from monitor.sources.base import ItemRecord

CHUNK = 500


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
    table = HttpCache.__table__
    for url, entry in updated.items():
        values = {"etag": entry.etag, "last_modified": entry.last_modified, "body_hash": entry.body_hash,
                  "updated_at": utcnow()}
        result = conn.execute(update(table).where(table.c.url_hash == url_key(url)).values(**values))
        if not result.rowcount:
            conn.execute(insert(table).values(url_hash=url_key(url), source_id=source_id, url=url, **values))


def match_doc(item: Item | ItemRecord, source_id: str) -> MatchDoc:
    return MatchDoc(key=item.key, kind=item.kind, source=source_id, title=item.title or "",
                    summary=item.summary or "", text=item.text or "", identity=item.identity,
                    jurisdiction=item.jurisdiction, court=item.court, status=item.status,
                    status_action=item.status_action, data=item.data or {})


def compiled_watchlists(session: Session) -> list[tuple[CompiledWatchlist, list[Subscription]]]:
    """Every watchlist, compiled, with its enabled subscriptions (loaded once per poll)."""
    out = []
    for watchlist in session.scalars(select(Watchlist).order_by(Watchlist.id)):
        subs = [s for s in watchlist.subscriptions if s.enabled]
        out.append((CompiledWatchlist.compile(watchlist), subs))
    return out


def chunks(seq: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


_ITEM_FIELDS = ("kind", "title", "url", "identity", "jurisdiction", "court", "status", "raw_status",
                "status_action", "status_date", "published_at", "summary", "text", "data")


def _item_values(record: ItemRecord, content_hash: str, now: dt.datetime) -> dict[str, object]:
    values: dict[str, object] = {name: getattr(record, name) for name in _ITEM_FIELDS}
    values.update(content_hash=content_hash, last_changed=now, last_seen=now)
    return values


def store_poll(session: Session, source_id: str, records: list[ItemRecord], *, baseline: bool,
               requests: int = 0, cache_updates: dict[str, CacheEntry] | None = None,
               watermark: str | None = None, now: dt.datetime | None = None) -> PollSummary:
    """Upsert ``records`` for ``source_id`` and everything that follows from them, in ``session``.

    Items and versions are written with one multi-row INSERT each (RETURNING their ids) rather
    than an ORM flush per row: a cold poll of a 50-entry feed is a handful of statements.
    """
    now = now or utcnow()
    poll = Poll(source_id=source_id, started_at=now, outcome="changed", baseline=baseline,
                items_seen=len(records), requests=requests)
    session.add(poll)
    session.flush()
    summary = PollSummary(source_id, "changed", seen=len(records), baseline=baseline, poll_id=poll.id,
                          requests=requests)

    existing: dict[str, tuple[int, str, int, str | None]] = {}  # key -> (id, hash, version, status)
    for chunk in chunks([r.key for r in records]):
        rows = session.execute(select(Item.key, Item.id, Item.content_hash, Item.version, Item.status)
                               .where(Item.key.in_(chunk)))
        existing.update((key, (id_, h, v, st)) for key, id_, h, v, st in rows)

    seen_ids: list[int] = []
    fresh: list[tuple[ItemRecord, str]] = []
    updated: list[tuple[ItemRecord, str, int, int, str | None]] = []
    for record in records:
        content_hash = record.content_hash()
        known = existing.get(record.key)
        if known is None:
            fresh.append((record, content_hash))
        elif known[1] == content_hash:
            seen_ids.append(known[0])
        else:
            updated.append((record, content_hash, known[0], known[2], known[3]))
    for ids in chunks(seen_ids):
        session.execute(update(Item).where(Item.id.in_(ids)).values(last_seen=now),
                        execution_options={"synchronize_session": False})

    # (record, item id, version, old snapshot)
    written: list[tuple[ItemRecord, int, int, dict | None]] = []
    if fresh:
        rows = [_item_values(r, h, now) | {"key": r.key, "source_id": source_id, "first_seen": now, "version": 1,
                                           "status_changed_at": now if r.status else None} for r, h in fresh]
        ids = dict(session.execute(insert(Item).returning(Item.key, Item.id), rows).all())
        written.extend((r, ids[r.key], 1, None) for r, _ in fresh)
        summary.new = len(fresh)
    for record, content_hash, item_id, version, old_status in updated:
        old = session.scalar(select(ItemVersion.snapshot).where(ItemVersion.item_id == item_id)
                             .order_by(ItemVersion.version.desc()).limit(1))
        values = _item_values(record, content_hash, now) | {"version": version + 1}
        if old_status != record.status:
            values["status_changed_at"] = now
        session.execute(update(Item).where(Item.id == item_id).values(**values),
                        execution_options={"synchronize_session": False})
        written.append((record, item_id, version + 1, old))
        summary.changed += 1
    if written:
        hashes = {r.key: h for r, h in fresh} | {r.key: h for r, h, *_ in updated}
        version_ids = dict(session.execute(
            insert(ItemVersion).returning(ItemVersion.item_id, ItemVersion.id),
            [{"item_id": item_id, "version": version, "poll_id": poll.id, "content_hash": hashes[r.key],
              "snapshot": r.snapshot(), "created_at": now} for r, item_id, version, _ in written],
        ).all())
        if not baseline:
            watchlists = compiled_watchlists(session)
            for record, item_id, _, old in written:
                summary.alerts += _record_changes(session, item_id, version_ids[item_id], poll.id,
                                                  diff(old, record), match_doc(record, source_id), watchlists,
                                                  now, summary)

    poll.items_new, poll.items_changed = summary.new, summary.changed
    poll.outcome = "changed" if summary.new or summary.changed else "unchanged"
    poll.finished_at = utcnow()
    summary.outcome = poll.outcome
    if cache_updates:
        save_cache(session, source_id, cache_updates)
    record_success(session, source_id, summary, watermark=watermark, now=now)
    return summary


def _record_changes(session: Session, item_id: int, version_id: int, poll_id: int, specs: list[ChangeSpec],
                    doc: MatchDoc, watchlists: list[tuple[CompiledWatchlist, list[Subscription]]],
                    now: dt.datetime, summary: PollSummary) -> int:
    queued = 0
    for spec in specs:
        change = Change(item_id=item_id, version_id=version_id, poll_id=poll_id, type=spec.type,
                        field=spec.field, old=spec.old, new=spec.new, detected_at=now)
        session.add(change)
        session.flush()
        summary.change_ids.append(change.id)
        for watchlist, subscriptions in watchlists:
            rule = watchlist.rule_for(spec, doc)
            if rule is not None:
                queued += enqueue(session, change, watchlist, subscriptions, rule, group=f"p{poll_id}", now=now)
    return queued


def _requests_spent(requests: int, now: dt.datetime) -> dict[str, object]:
    """SET values counting ``requests`` into the source's UTC day (a new day starts from zero)."""
    today = now.date()
    return {"requests_today": case((Source.requests_day == today, Source.requests_today + requests),
                                   else_=requests),
            "requests_day": today}


def record_success(session: Session, source_id: str, summary: PollSummary, *, watermark: str | None,
                   now: dt.datetime) -> None:
    values: dict[str, object] = {
        "last_attempt_at": now, "last_success_at": now, "consecutive_failures": 0, "last_error": None,
        "last_outcome": summary.outcome, "deferred_reason": None, "polls_total": Source.polls_total + 1,
        "items_seen": Source.items_seen + summary.seen, "baseline_done": True, "auth_blocked": None,
        **_requests_spent(summary.requests, now),
    }
    if summary.outcome == "unchanged":
        values["polls_unchanged"] = Source.polls_unchanged + 1
    if summary.seen:
        values["last_items_at"] = now
    if summary.new or summary.changed:
        values["last_change_at"] = now
    if watermark is not None:
        values["watermark"] = watermark
    session.execute(update(Source).where(Source.id == source_id).values(**values))


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
