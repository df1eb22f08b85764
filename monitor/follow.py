"""Follow-on-match: a bill a discovery feed finds and a following watchlist matches is polled
from then on, so a new bill is seen without anyone knowing its number in advance.

``after_poll`` records the follow (a ``followed_bills`` row, with why) in the poll's own
transaction; ``with_followed`` adds one source per followed federal bill (its BILLSTATUS file, and
congress.gov with ``CONGRESS_API_KEY``) on the discovery source's ``follow_interval``. A state bill
gets no source of its own: the search that found it already returns its moves.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.changes.match import CompiledWatchlist, match_doc
from monitor.config import AppConfig
from monitor.db import Database
from monitor.models import FollowedBill, Watchlist
from monitor.normalise.identity import parse_federal_bill
from monitor.sources.base import ItemRecord, SourceConfig
from monitor.sources.congress_bill import CongressBillConfig
from monitor.sources.govinfo_bill_feed import GovInfoBillFeedConfig
from monitor.sources.govinfo_billstatus import BillStatusConfig

log = logging.getLogger(__name__)

FOLLOWED_PREFIX = "follow."


def notice(label: str, watchlist: str) -> str:
    return f"now following {label} (matched watchlist {watchlist!r})"


def after_poll(session: Session, config: SourceConfig, records: Sequence[ItemRecord]) -> list[str]:
    """Follow the bills among a discovery source's ``records`` that a following watchlist matches
    and does not pin already; returns (and logs) the notices."""
    bills = [r for r in records if r.kind == "bill" and r.identity] if config.discovers() else []
    if not bills:
        return []
    watchlists = [CompiledWatchlist.compile(w) for w in session.scalars(
        select(Watchlist).where(Watchlist.follow_matches.is_(True), Watchlist.paused.is_(False)))]
    if not watchlists:
        return []
    known = {(w, i) for w, i in session.execute(select(FollowedBill.watchlist_id, FollowedBill.identity))}
    notices = []
    for record in bills:
        identity = (record.identity or "").lower()
        doc = match_doc(record, config.id)
        for watchlist in watchlists:
            if (watchlist.id, identity) in known or identity in watchlist.pinned:
                continue
            why = watchlist.why_matched(doc)
            if why is None or watchlist.is_muted(doc):
                continue
            label = str(record.data.get("label") or record.data.get("identifier") or identity)
            session.add(FollowedBill(watchlist_id=watchlist.id, identity=identity, label=label,
                                     title=record.title, found_by=config.id, item_key=record.key, why=why))
            known.add((watchlist.id, identity))
            notices.append(notice(label, watchlist.name))
            log.info("%s", notices[-1])
    return notices


def with_followed(config: AppConfig, db: Database) -> AppConfig:
    """The configuration plus one source per followed federal bill no configured source names."""
    feeds = {s.id: s for s in config.sources if isinstance(s, GovInfoBillFeedConfig)}
    configured = {(s.congress, *parse_federal_bill(bill)) for s in config.sources if isinstance(s, BillStatusConfig)
                  for bill in s.bills}
    extra: list[SourceConfig] = []
    seen: set[str] = set()
    with db.session() as session:
        rows = session.execute(select(FollowedBill.identity, FollowedBill.label, FollowedBill.found_by)
                               .order_by(FollowedBill.id)).all()
    for identity, label, found_by in rows:
        parts = identity.split("/")
        feed = feeds.get(found_by)
        if identity in seen or parts[0] != "us" or feed is None or not feed.enabled:
            continue  # a state bill stays with the search that found it (see the module docstring)
        seen.add(identity)
        congress = int(parts[1])
        if (congress, *parse_federal_bill(label)) in configured:
            continue
        sid = FOLLOWED_PREFIX + identity.replace("/", "-")
        title = f"Followed bill {label}"
        extra.append(BillStatusConfig(id=sid, title=title, congress=congress, bills=[label],
                                      base_url=feed.billstatus_url, interval=feed.follow_interval))
        if os.environ.get("CONGRESS_API_KEY"):
            extra.append(CongressBillConfig(id=f"{sid}.congress", title=f"{title} (congress.gov)",
                                            congress=congress, bills=[label], interval=feed.follow_interval))
    return dataclasses.replace(config, sources=[*config.sources, *extra]) if extra else config
