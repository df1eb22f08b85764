"""Follow-on-match: a bill a discovery feed finds and a watchlist matches is followed from then on.

Why: the shipped watchlists name a few bills, but a new bill about suing federal officers is
only seen if someone already knew its number. Discovery sources (GovInfo's bill feeds, the
Open States and LegiScan searches) see every new bill; when one matches a watchlist whose
``follow_matches`` is on, a ``followed_bills`` row records it, with why, and from the next
pass on the bill is polled like a configured one: its BILLSTATUS file (and congress.gov when
``CONGRESS_API_KEY`` is set) on the discovery source's ``follow_interval``.

A state bill found by an Open States or LegiScan search is recorded and shown the same way, but
gets no source of its own: the search that found it asks for the recently updated bills that
match, newest first, with their actions, so a followed bill's moves come back through it (and a
second source would return the very same provider records).

Two hooks, both small:
- ``after_poll(session, config, records)`` runs in the poll's own transaction, so a follow is
  recorded exactly when the items that caused it are;
- ``with_followed(config, session)`` returns the configuration plus one dynamic source per
  followed bill (``follow.us-119-hr-1234``), which the run and the service poll like any other.
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
from monitor.models import FollowedBill, Watchlist
from monitor.normalise.identity import parse_federal_bill
from monitor.sources.base import ItemRecord, SourceConfig

log = logging.getLogger(__name__)

FOLLOWED_PREFIX = "follow."


def discovers(config: SourceConfig) -> bool:
    """A source that finds bills by topic, not by number: GovInfo's bill feeds, and the Open
    States (``q``) and LegiScan (``query``) searches that name no bills."""
    if config.kind == "govinfo_bill_feed":
        return True
    if config.kind == "openstates":
        return bool(getattr(config, "q", None)) and not getattr(config, "identifiers", None)
    if config.kind == "legiscan":
        return bool(getattr(config, "query", None)) and not getattr(config, "bills", None)
    return False


def notice(label: str, watchlist: str) -> str:
    return f"now following {label} (matched watchlist {watchlist!r})"


def after_poll(session: Session, config: SourceConfig, records: Sequence[ItemRecord]) -> list[str]:
    """Follow the bills among a discovery source's ``records`` that a following watchlist matches.

    Returns the notices ("now following H.R. 1234 (matched watchlist 'qualified-immunity')"),
    which are also logged. A bill the watchlist already pins is not followed: it is tracked.
    """
    if not discovers(config):
        return []
    bills = [r for r in records if r.kind == "bill" and r.identity]
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


def followed_sources(session: Session, config: AppConfig) -> list[SourceConfig]:
    """One dynamic source per followed federal bill not already named by a configured source."""
    from monitor.sources.congress_bill import CongressBillConfig
    from monitor.sources.govinfo_bill_feed import GovInfoBillFeedConfig
    from monitor.sources.govinfo_billstatus import BillStatusConfig

    feeds = {s.id: s for s in config.sources if isinstance(s, GovInfoBillFeedConfig)}
    configured = {_federal_key(s.congress, bill) for s in config.sources if isinstance(s, BillStatusConfig)
                  for bill in s.bills}
    out: list[SourceConfig] = []
    seen: set[str] = set()
    rows = session.execute(select(FollowedBill.identity, FollowedBill.label, FollowedBill.found_by)
                           .order_by(FollowedBill.id))
    for identity, label, found_by in rows:
        parts = identity.split("/")
        feed = feeds.get(found_by)
        if identity in seen or parts[0] != "us" or feed is None or not feed.enabled:
            continue  # a state bill stays with the search that found it (see the module docstring)
        seen.add(identity)
        congress = int(parts[1])
        if _federal_key(congress, label) in configured:
            continue
        sid = FOLLOWED_PREFIX + identity.replace("/", "-")
        title = f"Followed bill {label}"
        out.append(BillStatusConfig(id=sid, title=title, congress=congress, bills=[label],
                                    base_url=feed.billstatus_url, interval=feed.follow_interval))
        if os.environ.get("CONGRESS_API_KEY"):
            out.append(CongressBillConfig(id=f"{sid}.congress", title=f"{title} (congress.gov)", congress=congress,
                                          bills=[label], interval=feed.follow_interval))
    return out


def with_followed(config: AppConfig, session: Session) -> AppConfig:
    """The configuration plus the followed bills' dynamic sources (see the module docstring)."""
    extra = followed_sources(session, config)
    if not extra:
        return config
    return dataclasses.replace(config, sources=[*config.sources, *extra])


def _federal_key(congress: int, bill: str) -> tuple[int, str, int]:
    kind, number = parse_federal_bill(bill)
    return congress, kind, number
