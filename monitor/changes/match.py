"""Which watchlist rule, if any, fires for a change: the one function that answers "will this alert?".
Watchlists are compiled once per poll and test only the items that changed in it."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, select

from monitor.changes.diff import ChangeSpec, ChangeType
from monitor.changes.query import NOTHING, MatchDoc, Node, compile_query, words
from monitor.errors import QueryError
from monitor.models import Item, Watchlist
from monitor.normalise.statuses import moves_on_ladder
from monitor.sources.base import ItemRecord

log = logging.getLogger(__name__)
RULES = {ChangeType.NEW: "new-item", ChangeType.STATUS: "status-move", ChangeType.FIELD: "field-change"}


@dataclass(frozen=True)
class CompiledWatchlist:
    id: int
    name: str
    matcher: Node
    pinned: frozenset[str]
    on_new: bool
    on_status: str  # ladder|any|off
    on_field: bool
    muted: tuple[str, ...]  # " folded words ", matched against title, summary and action text
    paused: bool
    snooze_until: dt.datetime | None
    confirm: int = 1  # providers a status move waits for (monitor.changes.events)
    confirm_timeout: int = 86400  # seconds it waits for them

    @classmethod
    def compile(cls, watchlist: Watchlist) -> CompiledWatchlist:
        return cls(
            id=watchlist.id, name=watchlist.name, matcher=_matcher(watchlist.name, watchlist.query or ""),
            pinned=frozenset(p.lower() for p in watchlist.pinned or []),
            on_new=watchlist.on_new, on_status=watchlist.on_status, on_field=watchlist.on_field,
            muted=tuple(f" {' '.join(words(p))} " for p in watchlist.muted or [] if words(p)),
            paused=watchlist.paused, snooze_until=watchlist.snooze_until,
            confirm=watchlist.confirm or 1, confirm_timeout=watchlist.confirm_timeout or 86400,
        )

    def snoozed(self, now: dt.datetime) -> bool:
        return self.snooze_until is not None and now < self.snooze_until

    def why_matched(self, doc: MatchDoc) -> str | None:
        if doc.identity and doc.identity.lower() in self.pinned:
            return f"pinned {doc.identity}"
        return "query" if self.matcher(doc) else None

    def is_muted(self, doc: MatchDoc) -> bool:
        return any(phrase in doc.word_index("brief")[1] for phrase in self.muted)

    def rule_for(self, change: ChangeSpec, doc: MatchDoc) -> str | None:
        """The rule that fires (e.g. ``status-move (pinned us/119/s/3470)``), or None to stay quiet."""
        why = None if self.paused else self.why_matched(doc)
        if why is None or self.is_muted(doc):
            return None
        if change.type == ChangeType.STATUS:
            fires = self.on_status == "any" or (self.on_status == "ladder" and moves_on_ladder(change.old, change.new))
        else:
            fires = self.on_new if change.type == ChangeType.NEW else self.on_field
        return f"{RULES[change.type]} ({why})" if fires else None


def match_doc(item: Item | ItemRecord, source_id: str) -> MatchDoc:
    return MatchDoc(key=item.key, kind=item.kind, source=source_id, title=item.title or "",
                    summary=item.summary or "", text=item.text or "", identity=item.identity,
                    jurisdiction=item.jurisdiction, court=item.court, status=item.status,
                    status_action=item.status_action)


@functools.lru_cache(maxsize=256)
def _matcher(name: str, query: str) -> Node:
    """A query is parsed once per run. One saved before a grammar change matches nothing (its pins
    still work), and the log says why once."""
    try:
        return compile_query(query)
    except QueryError as exc:
        log.warning("watchlist %s: query ignored: %s", name, exc)
        return NOTHING


def compiled_watchlists(conn: Connection, ids: Collection[int]) -> list[CompiledWatchlist]:
    """The watchlists ``ids``, read for each poll so an edit made while the service runs applies next poll."""
    if not ids:
        return []
    rows = conn.execute(select(Watchlist.__table__).where(Watchlist.id.in_(list(ids))).order_by(Watchlist.id))
    return [CompiledWatchlist.compile(Watchlist(**row)) for row in rows.mappings()]
