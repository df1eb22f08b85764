"""Storing one poll's items: upsert ``items`` and append ``item_versions``.

Only storage: it answers which items are new or changed, with the snapshot each changed item
had before, and the pipeline takes it from there (diff, match, outbox). It runs inside the
caller's transaction, so the versions commit together with everything that follows from them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from monitor.models import Item, ItemVersion
from monitor.sources.base import ItemRecord, snapshot_hash

CHUNK = 500  # ids or keys per IN (…) list: well under every backend's parameter limit
T = TypeVar("T")

_ITEM_FIELDS = ("kind", "title", "url", "identity", "jurisdiction", "court", "status", "raw_status",
                "status_action", "status_date", "published_at", "summary", "text", "data")


def chunks(seq: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


@dataclass
class Written:
    """An item this poll wrote a version of; ``old``: the snapshot it replaced (None: new item)."""

    record: ItemRecord
    item_id: int
    version_id: int
    old: dict[str, Any] | None


@dataclass
class _Incoming:
    record: ItemRecord
    snapshot: dict[str, Any]
    content_hash: str
    item_id: int = 0
    version: int = 1
    old_status: str | None = None


# built once: building each statement and its cache key again for every poll cost more than
# running it (the same reason as monitor.store.health's)
_KNOWN = (select(Item.key, Item.id, Item.content_hash, Item.version, Item.status)
          .where(Item.key.in_(bindparam("keys", expanding=True))))
_SEEN = (update(Item).where(Item.id.in_(bindparam("ids", expanding=True)))
         .values(last_seen=bindparam("now", type_=Item.last_seen.type)))
_NEW_ITEMS = insert(Item).returning(Item.key, Item.id)
_NEW_VERSIONS = insert(ItemVersion).returning(ItemVersion.item_id, ItemVersion.id)


def upsert(conn: Connection, source_id: str, poll_id: int, records: Sequence[ItemRecord],
           now: dt.datetime) -> list[Written]:
    """Store ``records``: an unchanged item gets its ``last_seen`` moved, a new or changed one a row
    and a version. Returns the written items, new ones first, in ``records`` order."""
    incoming = []
    for record in records:
        snapshot = record.snapshot()
        incoming.append(_Incoming(record, snapshot, snapshot_hash(snapshot)))
    known: dict[str, Row[str, int, str, int, str | None]] = {}
    for keys in chunks([i.record.key for i in incoming]):
        known.update((row.key, row) for row in conn.execute(_KNOWN, {"keys": list(keys)}))
    fresh: list[_Incoming] = []
    updated: list[_Incoming] = []
    seen: list[int] = []
    for i in incoming:
        row = known.get(i.record.key)
        if row is None:
            fresh.append(i)
        elif row.content_hash == i.content_hash:
            seen.append(row.id)
        else:
            i.item_id, i.version, i.old_status = row.id, row.version + 1, row.status
            updated.append(i)

    for ids in chunks(seen):
        conn.execute(_SEEN, {"ids": list(ids), "now": now})
    if fresh:  # ids read back by key: with sort_by_parameter_order SQLite inserts row by row
        item_ids = dict(conn.execute(_NEW_ITEMS, [
            _values(i, now) | {"key": i.record.key, "source_id": source_id, "first_seen": now,
                               "version": 1, "status_changed_at": now if i.record.status else None}
            for i in fresh]).all())
        for i in fresh:
            i.item_id = item_ids[i.record.key]
    old = _previous_snapshots(conn, [i.item_id for i in updated])
    for i in updated:
        values = _values(i, now) | {"version": i.version}
        if i.old_status != i.record.status:
            values["status_changed_at"] = now
        conn.execute(update(Item).where(Item.id == i.item_id).values(values))

    written = fresh + updated
    if not written:
        return []
    version_ids = dict(conn.execute(_NEW_VERSIONS, [
        {"item_id": i.item_id, "version": i.version, "poll_id": poll_id, "snapshot": i.snapshot,
         "content_hash": i.content_hash, "created_at": now} for i in written]).all())
    return [Written(i.record, i.item_id, version_ids[i.item_id], old.get(i.item_id))
            for i in written]


def _values(i: _Incoming, now: dt.datetime) -> dict[str, Any]:
    values = {name: getattr(i.record, name) for name in _ITEM_FIELDS}
    return values | {"content_hash": i.content_hash, "last_changed": now, "last_seen": now}


_PREVIOUS = (select(ItemVersion.item_id, ItemVersion.snapshot)
             .join(Item, Item.id == ItemVersion.item_id)
             .where(ItemVersion.item_id.in_(bindparam("ids", expanding=True)),
                    ItemVersion.version == Item.version))


def _previous_snapshots(conn: Connection, item_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The current version's snapshot of each item, read before it is replaced (for the diff)."""
    out: dict[int, dict[str, Any]] = {}
    for ids in chunks(item_ids):
        rows = conn.execute(_PREVIOUS, {"ids": list(ids)})
        out.update((row.item_id, row.snapshot) for row in rows)
    return out
