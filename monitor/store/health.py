"""The source row's side of a poll: what it starts from, and its outcome, health, validators,
watermark and poll row afterwards, with the silent-source check.

A source is *silent* when it has failed ``alert_after_failures`` times in a row, or when it
has produced no new or changed item for longer than its ``expect_items_within`` (a feed that
keeps answering 304 for months is as silent as one that errors: Juriscraper's Ninth Circuit
scraper returned nothing for four months before anyone noticed). Each incident raises ONE
admin notice when it opens and one when it closes; the open incident lives on the source row
(``incident_open``/``incident_reason``), and the notice's idempotency key names the incident,
so a crash between the two writes cannot send a notice twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BindParameter,
    Connection,
    Date,
    Integer,
    Row,
    String,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from monitor.delivery.dispatcher import queue_admin_notice
from monitor.durations import parse_duration
from monitor.fetch import CacheEntry
from monitor.models import HttpCache, Poll, Source
from monitor.sources import FetchState, SourceConfig


class Outcome(StrEnum):
    """How a poll ended; the text is what ``sources.last_outcome`` and ``polls.outcome`` store."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    DEFERRED = "deferred"
    SKIPPED = "skipped"  # not polled (leased elsewhere, a key missing, blocked): nothing stored


_SILENCE = (Source.consecutive_failures, Source.last_error, Source.last_success_at,
            Source.last_change_at, Source.created_at, Source.incident_open, Source.incident_reason,
            Source.auth_blocked)


def _at(name: str) -> BindParameter[dt.datetime]:
    return bindparam(name, type_=Source.last_attempt_at.type)


# The statements every poll runs, built once with bound parameters: building a statement and its
# cache key again for each of thousands of polls cost more than running it.
_SID = Source.id == bindparam("sid")
# the source's row once per stored URL (once with no URL before its first answer): one statement
_START = (select(Source.watermark, Source.baseline_done, Source.auth_blocked, HttpCache.url,
                 HttpCache.etag, HttpCache.last_modified, HttpCache.body_hash)
          .outerjoin(HttpCache, HttpCache.source_id == Source.id).where(_SID))
_CACHE_UPDATE = update(HttpCache).where(HttpCache.url_hash == bindparam("key"))
_N, _TODAY = bindparam("n", type_=Integer), bindparam("today", type_=Date)
_SPENT = {"requests_today": case((Source.requests_day == _TODAY, Source.requests_today + _N),
                                 else_=_N),
          "requests_day": _TODAY}
# every outcome gives the source's row lease back, when it is still ``owner``'s (None: no lease)
_OURS = Source.lease_owner == bindparam("owner", type_=String)
_RELEASE = {"lease_owner": case((_OURS, None), else_=Source.lease_owner),
            "lease_until": case((_OURS, None), else_=Source.lease_until)}
# a poll that stored what it got but missed part of what it follows (one bill's file) carries an error:
# it counts as a failure, so a part missing poll after poll opens an incident like any failure
_MISSED = bindparam("error", type_=String)
_POLL_DONE = update(Poll).where(Poll.id == bindparam("poll_id")).values(
    finished_at=_at("now"), outcome=bindparam("outcome"), baseline=bindparam("baseline"),
    items_seen=bindparam("seen"), items_new=bindparam("new"), items_changed=bindparam("changed"),
    requests=_N, error=_MISSED)
_SUCCESS = update(Source).where(_SID).values(
    last_attempt_at=_at("now"), last_success_at=_at("now"), last_error=_MISSED,
    consecutive_failures=case((_MISSED.is_(None), 0), else_=Source.consecutive_failures + 1),
    last_outcome=bindparam("outcome", type_=String), deferred_reason=None,
    polls_total=Source.polls_total + 1,
    polls_unchanged=Source.polls_unchanged + bindparam("unchanged", type_=Integer),
    items_seen=Source.items_seen + bindparam("seen", type_=Integer), baseline_done=True,
    auth_blocked=None, last_items_at=func.coalesce(_at("items_at"), Source.last_items_at),
    last_change_at=func.coalesce(_at("change_at"), Source.last_change_at),
    watermark=func.coalesce(bindparam("watermark", type_=String), Source.watermark), **_SPENT,
    **_RELEASE).returning(*_SILENCE)
_FAILURE = update(Source).where(_SID).values(
    last_attempt_at=_at("now"), consecutive_failures=Source.consecutive_failures + 1,
    last_error=bindparam("error"), last_outcome=Outcome.FAILED, polls_total=Source.polls_total + 1,
    auth_blocked=bindparam("auth_blocked", type_=String), **_SPENT, **_RELEASE,
).returning(*_SILENCE)
_DEFERRED = update(Source).where(_SID).values(
    last_attempt_at=_at("now"), last_outcome=Outcome.DEFERRED, deferred_reason=bindparam("reason"),
    next_run_at=_at("until"), **_SPENT, **_RELEASE,
).returning(*_SILENCE)


@dataclass(frozen=True)
class Start:
    """What a poll starts from: watermark, validators, first poll or not, an auth block."""

    state: FetchState
    cache: dict[str, CacheEntry]
    first_poll: bool
    auth_blocked: str | None


def load_start(conn: Connection, source_id: str) -> Start:
    rows = conn.execute(_START, {"sid": source_id}).all()
    row = rows[0]  # the caller holds the source's lease, so its row exists
    cache = {r.url: CacheEntry(r.etag, r.last_modified, r.body_hash) for r in rows if r.url is not None}
    return Start(FetchState(source_id, row.watermark), cache, not row.baseline_done,
                 row.auth_blocked)


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def _save_cache(conn: Connection, source_id: str, updated: dict[str, CacheEntry],
                now: dt.datetime) -> None:
    for url, entry in updated.items():
        values = {"etag": entry.etag, "last_modified": entry.last_modified,
                  "body_hash": entry.body_hash, "updated_at": now}
        if not conn.execute(_CACHE_UPDATE, values | {"key": url_key(url)}).rowcount:
            values |= {"url_hash": url_key(url), "source_id": source_id, "url": url}
            conn.execute(insert(HttpCache), values)


def start_poll(conn: Connection, source_id: str, now: dt.datetime) -> int:
    """The poll's row, written first so its versions and changes can point at it."""
    values = {"source_id": source_id, "started_at": now, "outcome": Outcome.CHANGED}
    return int(conn.execute(insert(Poll).returning(Poll.id), values).scalar_one())


def record_success(conn: Connection, config: SourceConfig, *, outcome: Outcome, requests: int,
                   cache_updates: dict[str, CacheEntry], failures_threshold: int, now: dt.datetime,
                   owner: str | None = None, poll_id: int | None = None, seen: int = 0, new: int = 0,
                   changed: int = 0, baseline: bool = False, watermark: str | None = None,
                   missed: str | None = None) -> None:
    """A poll that got an answer: its row (``poll_id``; a 304 has none), the source's health,
    validators and watermark, the silent-source check, and ``owner``'s lease given back.
    ``missed`` names what it could not get besides: the poll is then a failure that stored the rest."""
    error = missed[:1000] if missed else None
    if poll_id is not None:
        conn.execute(_POLL_DONE, {"poll_id": poll_id, "now": now, "outcome": outcome,
                                  "n": requests, "baseline": baseline, "seen": seen, "new": new,
                                  "changed": changed, "error": error})
    _save_cache(conn, config.id, cache_updates, now)
    row = conn.execute(_SUCCESS, {
        "sid": config.id, "now": now, "outcome": outcome, "seen": seen, "watermark": watermark, "error": error,
        "unchanged": int(outcome == Outcome.UNCHANGED), "items_at": now if seen else None,
        "change_at": now if new or changed else None, "n": requests, "today": now.date(),
        "owner": owner}).one()
    check_silence(conn, config, row, failures_threshold=failures_threshold, now=now)


def record_failure(conn: Connection, config: SourceConfig, error: str, *, requests: int,
                   failures_threshold: int, now: dt.datetime, owner: str,
                   auth_blocked: str | None = None) -> None:
    """A failed poll; ``auth_blocked`` (a 401/403) holds the source until its config or key
    changes."""
    row = conn.execute(_FAILURE, {"sid": config.id, "now": now, "error": error[:1000],
                                  "auth_blocked": auth_blocked, "n": requests,
                                  "today": now.date(), "owner": owner}).one()
    conn.execute(insert(Poll), {"source_id": config.id, "started_at": now, "finished_at": now,
                                "outcome": Outcome.FAILED, "error": error[:1000],
                                "requests": requests})
    check_silence(conn, config, row, failures_threshold=failures_threshold, now=now)


def record_deferred(conn: Connection, config: SourceConfig, reason: str, *, until: dt.datetime,
                    requests: int, failures_threshold: int, now: dt.datetime, owner: str) -> None:
    """A poll the budget did not allow: nothing was sent for it, so it is neither success nor
    failure.

    The source is due again when the budget reopens (``until``), not a whole interval later:
    the workers' dispatch reads ``next_run_at``, so deferred sources go first in the next window
    instead of losing it to sources that were polled in this one (``monitor run`` overwrites it
    with its scheduler's next slot)."""
    row = conn.execute(_DEFERRED, {
        "sid": config.id, "now": now, "reason": reason[:1000], "until": until, "n": requests,
        "today": now.date(), "owner": owner}).one()
    check_silence(conn, config, row, failures_threshold=failures_threshold, now=now)


def silence_reason(row: Row[*tuple[Any, ...]], config: SourceConfig, *, failures_threshold: int,
                   now: dt.datetime) -> str | None:
    """Why the source counts as silent now, or None when it is healthy. A refused API key is
    silent at once: the source is not polled again until its key or config changes."""
    if row.auth_blocked is not None:
        return (f"the provider refused its API key ({row.last_error or 'HTTP 401/403'}); not "
                "polled again until the key or the source's config changes")
    if row.consecutive_failures >= failures_threshold:
        return (f"failed {row.consecutive_failures} times in a row; last error: "
                f"{row.last_error or 'unknown'}")
    if config.expect_items_within and row.last_success_at is not None:
        window = dt.timedelta(seconds=parse_duration(config.expect_items_within))
        since = row.last_change_at or row.created_at
        if since is not None and now - since > window:
            return (f"no new or changed items since {since:%Y-%m-%d %H:%M} UTC "
                    f"(expected within {config.expect_items_within})")
    return None


def check_silence(conn: Connection, config: SourceConfig, row: Row[*tuple[Any, ...]], *,
                  failures_threshold: int, now: dt.datetime) -> None:
    """Open or close the source's incident from its health ``row`` just written."""
    reason = silence_reason(row, config, failures_threshold=failures_threshold, now=now)
    opening = reason is not None
    if opening == bool(row.incident_open):
        return  # silent with an incident open already, or healthy with none
    if opening:
        opened = now.strftime("%Y%m%dT%H%M%S")
        values = {"incident_open": True, "incident_reason": f"{opened} {reason}"}
        text, key = f"Source '{config.id}' is silent: {reason}", f"silent:{config.id}:{opened}"
    else:
        opened = (row.incident_reason or "").split(" ", 1)[0]
        values = {"incident_open": False, "incident_reason": None}
        text = f"Source '{config.id}' has recovered (incident opened {opened})."
        key = f"recovered:{config.id}:{opened}"
    flipped = conn.execute(update(Source).where(Source.id == config.id, Source.incident_open.is_(not opening))
                           .values(values))
    if flipped.rowcount != 1:  # another writer opened or closed it first (a source polled without a lease)
        return
    with Session(bind=conn) as session:  # joins conn's transaction; the caller commits it
        queue_admin_notice(session, text, key, now)
        session.flush()
