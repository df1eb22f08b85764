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

from sqlalchemy import select, update
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


def load_cache(session: Session, source_id: str) -> dict[str, CacheEntry]:
    rows = session.scalars(select(HttpCache).where(HttpCache.source_id == source_id))
    return {r.url: CacheEntry(r.etag, r.last_modified, r.body_hash) for r in rows}


def save_cache(session: Session, source_id: str, updated: dict[str, CacheEntry]) -> None:
    for url, entry in updated.items():
        row = session.get(HttpCache, url_key(url))
        if row is None:
            session.add(HttpCache(url_hash=url_key(url), source_id=source_id, url=url, etag=entry.etag,
                                  last_modified=entry.last_modified, body_hash=entry.body_hash))
        else:
            row.etag, row.last_modified, row.body_hash = entry.etag, entry.last_modified, entry.body_hash


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


def _chunks(seq: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


def _apply(item: Item, record: ItemRecord, content_hash: str, now: dt.datetime) -> None:
    for name in ("kind", "title", "url", "identity", "jurisdiction", "court", "status", "raw_status",
                 "status_action", "status_date", "published_at", "summary", "text", "data"):
        setattr(item, name, getattr(record, name))
    item.content_hash = content_hash
    item.last_changed = now
    item.last_seen = now


def store_poll(session: Session, source_id: str, records: list[ItemRecord], *, baseline: bool,
               requests: int = 0, cache_updates: dict[str, CacheEntry] | None = None,
               watermark: str | None = None, now: dt.datetime | None = None) -> PollSummary:
    """Upsert ``records`` for ``source_id`` and everything that follows from them, in ``session``."""
    now = now or utcnow()
    poll = Poll(source_id=source_id, started_at=now, outcome="changed", baseline=baseline,
                items_seen=len(records), requests=requests)
    session.add(poll)
    session.flush()
    summary = PollSummary(source_id, "changed", seen=len(records), baseline=baseline, poll_id=poll.id,
                          requests=requests)

    existing: dict[str, Item] = {}
    keys = [r.key for r in records]
    for chunk in _chunks(keys):
        for item in session.scalars(select(Item).where(Item.key.in_(chunk))):
            existing[item.key] = item

    watchlists = None if baseline else compiled_watchlists(session)
    for record in records:
        content_hash = record.content_hash()
        item = existing.get(record.key)
        if item is not None and item.content_hash == content_hash:
            item.last_seen = now
            continue
        old_snapshot = item.versions[-1].snapshot if item is not None and item.versions else None
        if item is None:
            item = Item(key=record.key, source_id=source_id, first_seen=now, version=1, content_hash="")
            _apply(item, record, content_hash, now)
            item.status_changed_at = now if record.status else None
            session.add(item)
            summary.new += 1
        else:
            if item.status != record.status:
                item.status_changed_at = now
            _apply(item, record, content_hash, now)
            item.version += 1
            summary.changed += 1
        session.flush()
        version = ItemVersion(item_id=item.id, version=item.version, poll_id=poll.id,
                              content_hash=content_hash, snapshot=record.snapshot(), created_at=now)
        session.add(version)
        if baseline:
            continue
        session.flush()
        specs = diff(old_snapshot, record)
        summary.alerts += _record_changes(session, item, version, poll.id, specs, source_id, watchlists or [], now,
                                          summary)

    poll.items_new, poll.items_changed = summary.new, summary.changed
    poll.outcome = "changed" if summary.new or summary.changed else "unchanged"
    poll.finished_at = utcnow()
    summary.outcome = poll.outcome
    if cache_updates:
        save_cache(session, source_id, cache_updates)
    record_success(session, source_id, summary, watermark=watermark, now=now)
    return summary


def _record_changes(session: Session, item: Item, version: ItemVersion, poll_id: int, specs: list[ChangeSpec],
                    source_id: str, watchlists: list[tuple[CompiledWatchlist, list[Subscription]]],
                    now: dt.datetime, summary: PollSummary) -> int:
    doc = match_doc(item, source_id)
    queued = 0
    for spec in specs:
        change = Change(item_id=item.id, version_id=version.id, poll_id=poll_id, type=spec.type,
                        field=spec.field, old=spec.old, new=spec.new, detected_at=now)
        session.add(change)
        session.flush()
        summary.change_ids.append(change.id)
        for watchlist, subscriptions in watchlists:
            rule = watchlist.rule_for(spec, doc)
            if rule is not None:
                queued += enqueue(session, change, watchlist, subscriptions, rule, group=f"p{poll_id}", now=now)
    return queued


def record_success(session: Session, source_id: str, summary: PollSummary, *, watermark: str | None,
                   now: dt.datetime) -> None:
    values: dict[str, object] = {
        "last_attempt_at": now, "last_success_at": now, "consecutive_failures": 0, "last_error": None,
        "last_outcome": summary.outcome, "deferred_reason": None, "polls_total": Source.polls_total + 1,
        "items_seen": Source.items_seen + summary.seen, "baseline_done": True,
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


def record_unchanged(session: Session, source_id: str, *, requests: int,
                     cache_updates: dict[str, CacheEntry] | None, now: dt.datetime | None = None) -> PollSummary:
    """The cheap path: a 304 or an identical body. Health only, no items touched, no poll row."""
    now = now or utcnow()
    summary = PollSummary(source_id, "unchanged", requests=requests)
    if cache_updates:
        save_cache(session, source_id, cache_updates)
    session.execute(update(Source).where(Source.id == source_id).values(
        last_attempt_at=now, last_success_at=now, consecutive_failures=0, last_error=None,
        last_outcome="unchanged", deferred_reason=None, polls_total=Source.polls_total + 1,
        polls_unchanged=Source.polls_unchanged + 1,
    ))
    return summary


def record_failure(session: Session, source_id: str, error: str, *, requests: int = 0,
                   now: dt.datetime | None = None) -> PollSummary:
    now = now or utcnow()
    session.execute(update(Source).where(Source.id == source_id).values(
        last_attempt_at=now, consecutive_failures=Source.consecutive_failures + 1, last_error=error[:1000],
        last_outcome="failed", polls_total=Source.polls_total + 1,
    ))
    session.add(Poll(source_id=source_id, started_at=now, finished_at=now, outcome="failed", error=error[:1000],
                     requests=requests))
    return PollSummary(source_id, "failed", error=error, requests=requests)
