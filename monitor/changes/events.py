"""One real-world event, one alert (README): of the providers reporting an identity's status move, the
first alerts and the others are evidence. ``settle`` decides in the poll's transaction, the identity
locked on PostgreSQL, so two workers cannot both be first; ``confirm`` above 1 holds the alert for them."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import or_, select, text, update
from sqlalchemy.orm import Session, selectinload

from monitor.changes.diff import ChangeSpec, ChangeType
from monitor.models import Delivery, Item, StatusEvent, StatusReport, Subscription, Watchlist, utcnow
from monitor.normalise.statuses import BILL_ENDS, BILL_LADDER, CASE_LADDER, moves_on_ladder, rank
from monitor.outbox.states import DeliveryState
from monitor.sources.base import ItemRecord
from monitor.sources.courtlistener import cluster_keys, cluster_of

SAME_DAY_WITHIN = dt.timedelta(days=1)
# An undated report matches an event only this recent: a feed flip-flopping repeats itself within
# days; the same status months later (a case decided again after a remand) is another move.
UNDATED_WITHIN = dt.timedelta(days=30)
# field changes that travel with a status move: quiet when the move is
MOVE_FIELDS = frozenset({"raw_status", "status_action", "status_date"})
# Kinds whose items are each an event of their own, not a status of the identity they share: every
# filing on a case's docket is "filed", and two filings of one case on one day are two events.
OWN_EVENTS = frozenset({"entry"})
# Kinds whose one item per provider is the tracked thing itself: a provider's new item of a bill or
# docket another provider tracks is that thing seen anew, news only when it moves it on. An opinion
# that matches no reported decision is a new decision of the case (an en banc opinion after the panel's).
TRACKED_THING = frozenset({"bill", "docket"})

# first: nobody reported the move before, so the watchlists' rules decide; confirms: another provider
# did (recorded as evidence); repeat: this provider did (a feed flip-flopping); behind: another provider
# already stands on a higher rung, so this one is catching up (an end is never behind: it disagrees)
Reason = Literal["first", "confirms", "repeat", "behind"]


@dataclass(frozen=True)
class Verdict:
    reason: Reason
    spec: ChangeSpec | None = None  # the move as the identity's rules read it (a tracked identity's new item)

    @property
    def alerts(self) -> bool:
        return self.reason == "first"


@dataclass(frozen=True)
class Observed:
    """One change this poll wrote, with the record it wrote."""

    change_id: int
    item_id: int
    record: ItemRecord
    spec: ChangeSpec


@dataclass(frozen=True)
class _View:
    """One provider's item of the identity at a status: as it stands, or as this poll reports it."""

    item_id: int
    source_id: str
    kind: str
    status: str
    status_date: dt.date | None


def same_day(a: dt.date | None, b: dt.date | None) -> bool:
    return a is None or b is None or abs(a - b) <= SAME_DAY_WITHIN


def undated_before_dated(kind: str, earlier: dt.date | None, later: dt.date | None,
                         published: dt.date | None = None) -> bool:
    """An undated opinion (GovInfo's feed knows only when it published one, after the court) is no
    copy of a dated decision reported after it: that is the case's next decision. Unless the decision
    is dated on or before the day the undated one was ``published``: then it can be that very opinion,
    which the court's feed or CourtListener reported after GovInfo."""
    return kind == "opinion" and earlier is None and later is not None and (published is None or later > published)


def same_move(event: StatusEvent, kind: str, status: str, day: dt.date | None, now: dt.datetime,
              published: dt.date | None = None) -> bool:
    """Same kind and status on the same action day or, undated, recent enough to be the same move."""
    if event.kind != kind or event.status != status or undated_before_dated(kind, event.status_date, day,
                                                                                 published):
        return False
    if event.status_date is None or day is None:
        return now - event.first_seen_at <= UNDATED_WITHIN
    return same_day(event.status_date, day)


def _lock(session: Session, identities: list[str]) -> None:
    """Serialise the polls that decide about these identities (PostgreSQL; SQLite has one writer)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for identity in sorted(identities):
        key = int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _behind(this: _View, others: list[_View]) -> bool:
    """Another provider of the kind already stands past this move: on a higher rung, or at an end the
    move does not lead out of. Only a law lifts a veto; a passage leaves a failure only when it is
    dated after it (the same passage dated before is a lagging provider catching up)."""
    rungs = next((ladder for ladder in (BILL_LADDER, CASE_LADDER) if this.status in ladder), ())
    for other in others:
        if other.status in rungs and rungs.index(other.status) > rungs.index(this.status):
            return True
        if other.status in BILL_ENDS and this.status in BILL_LADDER and this.status != "enacted" and (
                not moves_on_ladder(other.status, this.status) or not _dated_after(this, other)):
            return True
    return False


def _dated_after(this: _View, other: _View) -> bool:
    return this.status_date is not None and other.status_date is not None and this.status_date > other.status_date


def _first(spec: ChangeSpec, this: _View, others: list[_View]) -> Verdict:
    """A move nobody reported yet alerts, unless another provider of the kind already stands past it."""
    if _behind(this, others):
        return Verdict("behind")
    if spec.type is ChangeType.NEW and others and this.kind in TRACKED_THING:  # moves from where the others stand
        best = max((o.status for o in others), key=lambda s: rank(s) or 0)
        if not moves_on_ladder(best, this.status):
            return Verdict("behind")
        return Verdict("first", ChangeSpec(ChangeType.STATUS, "status", best, this.status))
    return Verdict("first")


def filing_number(data: dict[str, Any]) -> str | None:
    """A docket entry's number on its docket, as CourtListener (``entry_number``) and a PACER feed
    (``document_number``; an appellate feed's is the PACER document id, no entry number) give it."""
    number = data.get("entry_number")
    if number is None and data.get("document_number") != data.get("pacer_doc_id"):
        number = data.get("document_number")
    return str(int(str(number))) if str(number).isdigit() else None


def _filings(session: Session, source_id: str, observed: list[Observed]) -> dict[int, Verdict]:
    """A new docket entry another provider already has (same case, same entry number) is that filing
    again: CourtListener reads the courts' PACER feeds, so one order reaches both."""
    new = [(o, filing_number(o.record.data)) for o in observed
           if o.record.kind in OWN_EVENTS and o.record.identity and o.spec.type is ChangeType.NEW]
    new = [(o, n) for o, n in new if n is not None]
    if not new:
        return {}
    i = Item.__table__.c
    known: dict[str, set[str | None]] = defaultdict(set)
    for row in session.execute(select(i.identity, i.data).where(
            i.identity.in_({str(o.record.identity) for o, _ in new}), i.kind.in_(OWN_EVENTS),
            i.source_id != source_id)):
        known[row.identity].add(filing_number(row.data or {}))
    return {o.change_id: Verdict("confirms") for o, n in new if n in known[str(o.record.identity)]}


def _same_opinion(session: Session, observed: list[Observed]) -> dict[int, Verdict]:
    """A new opinion CourtListener already brought us the other way (its search or webhook, and its
    Atom feeds, name one cluster): that opinion again. The feed entry has no docket number, so no
    identity: the cluster is what the two share."""
    new = [(o, cluster) for o in observed
           if o.spec.type is ChangeType.NEW and (cluster := cluster_of(o.record.key)) is not None]
    if not new:
        return {}
    i = Item.__table__.c
    wanted = [cluster_keys(cluster) for _, cluster in new]
    rows = session.execute(select(i.id, i.key).where(
        or_(i.key.in_([key for key, _ in wanted]), *(i.key.like(pattern) for _, pattern in wanted))))
    known = {(cluster_of(row.key), row.id) for row in rows}
    return {o.change_id: Verdict("confirms") for o, cluster in new
            if any(c == cluster and item_id != o.item_id for c, item_id in known)}


def settle(session: Session, source_id: str, observed: list[Observed], now: dt.datetime) -> dict[int, Verdict]:
    """Record the poll's status moves as events and reports (flushed); a verdict per change of an identity."""
    moves = [o for o in observed if o.record.identity and o.record.status and o.record.kind not in OWN_EVENTS
             and o.spec.type in (ChangeType.NEW, ChangeType.STATUS)]
    filed = [o for o in observed if o.record.identity and o.record.kind in OWN_EVENTS]
    again = _same_opinion(session, observed)
    if not moves and not filed:
        return again
    identities = sorted({str(o.record.identity) for o in moves + filed})
    _lock(session, identities)
    filings = _filings(session, source_id, filed) | again
    if not moves:
        return filings
    events: dict[str, list[StatusEvent]] = defaultdict(list)
    for event in session.scalars(select(StatusEvent).where(StatusEvent.identity.in_(identities))
                                 .options(selectinload(StatusEvent.reports)).order_by(StatusEvent.id)):
        events[event.identity].append(event)
    i = Item.__table__.c
    views: dict[str, list[_View]] = defaultdict(list)
    for row in session.execute(select(i.id, i.identity, i.source_id, i.kind, i.status, i.status_date).where(
            i.identity.in_(identities), i.source_id != source_id, i.status.is_not(None))):
        views[row.identity].append(_View(row.id, row.source_id, row.kind, row.status, row.status_date))
    # when each undated opinion of these cases was published (GovInfo's feed date)
    published = {row.id: row.published_at.date() for row in session.execute(select(i.id, i.published_at).where(
        i.identity.in_(identities), i.kind == "opinion", i.status_date.is_(None), i.published_at.is_not(None)))}
    verdicts: dict[int, Verdict] = {}
    grown: list[StatusEvent] = []
    for o in moves:
        identity = str(o.record.identity)
        this = _View(o.item_id, source_id, o.record.kind, str(o.record.status), o.record.status_date)
        # another source of this kind naming the same bill shares its item: never a provider of its own
        others = [v for v in views[identity] if v.kind == this.kind and v.item_id != o.item_id]
        moved = [e for e in events[identity] if same_move(e, this.kind, this.status, this.status_date, now,
                                                          _published(e, published))]
        # the move this item reported before (a repeat), else one this source has not reported: an
        # event it reported through another item is another decision of the case, not this one
        found = next((e for e in moved if o.item_id in _items(e)), None) or next(
            (e for e in moved if source_id not in {r.source_id for r in e.reports}), None)
        reported = {item for e in moved for item in _items(e)}
        already = [v for v in others if v.status == this.status and same_day(v.status_date, this.status_date)
                   and not undated_before_dated(v.kind, v.status_date, this.status_date, published.get(v.item_id))
                   and v.item_id not in reported]
        if found is None and already:  # it stood there before alerts began: its provider saw the move first
            found = _create(session, identity, already[0], None, now)
            events[identity].append(found)
        if found is None:
            events[identity].append(_create(session, identity, this, o.change_id, now))
            verdicts[o.change_id] = _first(o.spec, this, others)
        elif o.item_id in _items(found):
            verdicts[o.change_id] = Verdict("repeat")
        else:
            _report(found, this, o.change_id, now)
            grown.append(found)
            verdicts[o.change_id] = Verdict("confirms")
    quiet = {o.item_id: verdicts[o.change_id] for o in moves if not verdicts[o.change_id].alerts}
    for o in observed:
        if o.item_id in quiet and o.spec.type is ChangeType.FIELD and o.spec.field in MOVE_FIELDS:
            verdicts[o.change_id] = quiet[o.item_id]
    session.flush()
    for event in grown:
        _release_confirmed(session, event, now)
    return verdicts | filings


def _published(event: StatusEvent, published: dict[int, dt.date]) -> dt.date | None:
    """The day the undated opinion an event was first reported by was published, if known."""
    return min((published[r.item_id] for r in event.reports if r.item_id in published), default=None)


def _items(event: StatusEvent) -> set[int | None]:
    return {r.item_id for r in event.reports}


def _create(session: Session, identity: str, first: _View, change_id: int | None, now: dt.datetime) -> StatusEvent:
    """A new event of ``identity``, with its first report."""
    event = StatusEvent(identity=identity, kind=first.kind, status=first.status, status_date=first.status_date,
                        first_source_id=first.source_id, first_change_id=change_id, first_seen_at=now)
    session.add(event)
    _report(event, first, change_id, now)
    return event


def _report(event: StatusEvent, view: _View, change_id: int | None, now: dt.datetime) -> None:
    event.reports.append(StatusReport(source_id=view.source_id, item_id=view.item_id, change_id=change_id,
                                      status_date=view.status_date, reported_at=now))


def _release_confirmed(session: Session, event: StatusEvent, now: dt.datetime) -> None:
    """Send the alerts held for ``event`` whose watchlist asked for no more providers than now agree."""
    if event.first_change_id is None:
        return
    ready = (select(Delivery.id).join(Delivery.subscription).join(Subscription.watchlist)
             .where(Delivery.change_id == event.first_change_id, Delivery.state == DeliveryState.HELD,
                    Watchlist.confirm <= len({r.source_id for r in event.reports})))
    session.execute(update(Delivery).where(Delivery.id.in_(ready))
                    .values(state=DeliveryState.PENDING, next_attempt_at=now))


def hold_until(confirm: int, timeout: int, verdict: Verdict | None, spec: ChangeSpec,
               now: dt.datetime) -> dt.datetime | None:
    """When a status alert waiting for ``confirm`` providers goes out unconfirmed; None to send it now."""
    if confirm <= 1 or verdict is None or not verdict.alerts or (verdict.spec or spec).type is not ChangeType.STATUS:
        return None
    return now + dt.timedelta(seconds=timeout)


def release_holds(session: Session, now: dt.datetime) -> None:
    """Held alerts whose time-out has passed go out now, marked as reported by one provider only."""
    session.execute(update(Delivery).where(Delivery.state == DeliveryState.HELD, Delivery.next_attempt_at <= now)
                    .values(state=DeliveryState.PENDING))


def duration_text(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{max(1, round(seconds / 60))} min"


def corroboration(session: Session, change_id: int, watchlist: Watchlist | None, due: dt.datetime) -> str | None:
    """Who reported the move an alert is about ("Confirmed by X", "Reported by X only"), as of ``due``."""
    event = session.scalar(select(StatusEvent).where(StatusEvent.first_change_id == change_id))
    if event is None:
        return None
    sources = list(dict.fromkeys(r.source_id for r in event.reports))
    if len(sources) > 1:
        return f"Confirmed by {', '.join(sources[1:])}"
    if watchlist is None or watchlist.confirm <= 1:
        return None
    if max(utcnow(), due) - event.first_seen_at < dt.timedelta(seconds=watchlist.confirm_timeout):
        return f"Reported by {event.first_source_id} only so far"  # a digest sent before the time-out
    return (f"Reported by {event.first_source_id} only: no other provider confirmed it within "
            f"{duration_text(watchlist.confirm_timeout)}")
