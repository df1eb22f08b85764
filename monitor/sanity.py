"""The check after every parse: a scraper that silently broke becomes a clear source error.

Juriscraper's lesson: a parser that returns garbage (no titles, dates in 2099, every key the
same) is worse than one that fails loudly, because nobody notices.
"""

from __future__ import annotations

import datetime as dt

from monitor.errors import InsanityError
from monitor.sources.base import ItemRecord

EARLIEST = dt.date(1789, 1, 1)
FUTURE_SLACK = dt.timedelta(days=2)


def sanity_check(records: list[ItemRecord], *, today: dt.date | None = None) -> None:
    today = today or dt.datetime.now(dt.timezone.utc).date()
    seen: set[str] = set()
    for record in records:
        if not record.key or not record.kind or not record.title:
            raise InsanityError(f"item {record.key or '(no key)'!r} lacks a key, kind or title")
        if record.key in seen:
            raise InsanityError(f"duplicate item key {record.key!r} in one poll")
        seen.add(record.key)
        for name in ("status_date", "published_at"):
            value = getattr(record, name)
            if value is None:
                continue
            day = value.date() if isinstance(value, dt.datetime) else value
            if day < EARLIEST or day > today + FUTURE_SLACK:
                raise InsanityError(f"item {record.key!r} has an impossible {name} {day.isoformat()}")
