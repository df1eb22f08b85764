"""The check after every parse: a scraper that silently broke (no titles, every key the same)
becomes a clear source error, not garbage nobody notices (juriscraper's lesson). An impossible
date (before 1789, or more than two days ahead) is one wrong field, often the court's typo: it is
taken out of the item (kept under ``data["impossible_dates"]``) and logged, and the item is stored.
"""

from __future__ import annotations

import datetime as dt
import logging

from monitor.errors import InsanityError
from monitor.sources.base import ItemRecord

log = logging.getLogger(__name__)

EARLIEST = dt.date(1789, 1, 1)
FUTURE_SLACK = dt.timedelta(days=2)


def sanity_check(records: list[ItemRecord], *, source_id: str = "") -> None:
    """Raise InsanityError for a poll that cannot be right; clear (and log) impossible dates."""
    today = dt.datetime.now(dt.UTC).date()
    seen: set[str] = set()
    for record in records:
        if not record.key or not record.kind or not record.title:
            raise InsanityError(f"item {record.key or '(no key)'!r} lacks a key, kind or title")
        if record.key in seen:
            raise InsanityError(f"duplicate item key {record.key!r} in one poll")
        seen.add(record.key)
        for name in ("status_date", "published_at"):
            value = getattr(record, name)
            day = value.date() if isinstance(value, dt.datetime) else value
            if day is None or EARLIEST <= day <= today + FUTURE_SLACK:
                continue
            setattr(record, name, None)
            record.data = {**record.data, "impossible_dates": {**record.data.get("impossible_dates", {}),
                                                               name: value.isoformat()}}
            log.warning("source %s: item %r has an impossible %s %s; stored without it", source_id or "?",
                        record.key, name, day.isoformat())
