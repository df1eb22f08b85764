"""Source health and the silent-source check.

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
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session

from monitor.config import parse_duration
from monitor.delivery.dispatcher import queue_admin_notice
from monitor.models import Source, utcnow
from monitor.sources import SourceConfig


_c = Source.__table__.c
# What the check reads, as one prepared Core statement: it runs after every poll.
_SILENCE_STATE = select(_c.consecutive_failures, _c.last_error, _c.last_success_at, _c.last_change_at,
                        _c.created_at, _c.incident_open, _c.incident_reason,
                        _c.auth_blocked).where(_c.id == bindparam("sid"))


def silence_reason(row: Source | Row[*tuple[Any, ...]], config: SourceConfig, *, failures_threshold: int,
                   now: dt.datetime) -> str | None:
    """Why the source counts as silent now, or None when it is healthy. A refused API key is
    silent at once: the source is not polled again until its key or config changes."""
    if row.auth_blocked is not None:
        return (f"the provider refused its API key ({row.last_error or 'HTTP 401/403'}); not polled again "
                "until the key or the source's config changes")
    if row.consecutive_failures >= failures_threshold:
        return f"failed {row.consecutive_failures} times in a row; last error: {row.last_error or 'unknown'}"
    if config.expect_items_within and row.last_success_at is not None:
        window = dt.timedelta(seconds=parse_duration(config.expect_items_within))
        since = row.last_change_at or row.created_at
        if since is not None and now - since > window:
            return (f"no new or changed items since {since:%Y-%m-%d %H:%M} UTC "
                    f"(expected within {config.expect_items_within})")
    return None


def check_silence(session: Session, source_id: str, config: SourceConfig, *, failures_threshold: int,
                  now: dt.datetime | None = None) -> str | None:
    """Open or close the source's incident; returns "opened", "closed" or None (no transition)."""
    now = now or utcnow()
    row = session.connection().execute(_SILENCE_STATE, {"sid": source_id}).one_or_none()
    if row is None:
        return None
    reason = silence_reason(row, config, failures_threshold=failures_threshold, now=now)
    if reason is not None and not row.incident_open:
        opened = now.strftime("%Y%m%dT%H%M%S")
        session.execute(update(Source).where(Source.id == source_id, Source.incident_open.is_(False))
                        .values(incident_open=True, incident_reason=f"{opened} {reason}"))
        queue_admin_notice(session, f"Source '{source_id}' is silent: {reason}", f"silent:{source_id}:{opened}", now)
        return "opened"
    if reason is None and row.incident_open:
        opened = (row.incident_reason or "").split(" ", 1)[0]
        session.execute(update(Source).where(Source.id == source_id)
                        .values(incident_open=False, incident_reason=None))
        queue_admin_notice(session, f"Source '{source_id}' has recovered (incident opened {opened}).",
                           f"recovered:{source_id}:{opened}", now)
        return "closed"
    return None


@dataclass
class SourceHealth:
    """One row of ``monitor status``."""

    id: str
    kind: str
    enabled: bool
    last_outcome: str | None
    last_attempt: dt.datetime | None
    last_success: dt.datetime | None
    consecutive_failures: int
    last_error: str | None
    deferred_reason: str | None
    requests_today: int
    polls: int
    unchanged_ratio: float | None
    items_seen: int
    next_run: dt.datetime | None
    incident: str | None

    @property
    def failing(self) -> bool:
        return self.enabled and (self.consecutive_failures > 0 or self.incident is not None)


def source_health(row: Source, today: dt.date) -> SourceHealth:
    return SourceHealth(
        id=row.id, kind=row.kind, enabled=row.enabled, last_outcome=row.last_outcome,
        last_attempt=row.last_attempt_at, last_success=row.last_success_at,
        consecutive_failures=row.consecutive_failures, last_error=row.last_error,
        deferred_reason=row.deferred_reason if row.last_outcome == "deferred" else None,
        requests_today=row.requests_today if row.requests_day == today else 0, polls=row.polls_total,
        unchanged_ratio=round(row.polls_unchanged / row.polls_total, 3) if row.polls_total else None,
        items_seen=row.items_seen, next_run=row.next_run_at,
        incident=(row.incident_reason or "").split(" ", 1)[-1] if row.incident_open else None,
    )
