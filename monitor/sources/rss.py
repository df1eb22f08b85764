"""``rss``: any RSS 0.9x/1.0/2.0 or Atom feed.

Source: a feed URL. Format: parsed by feedparser, which tolerates the usual breakage
(undeclared entities, wrong charsets, bozo feeds) and still returns the good entries.
Quirks: entries without a guid/id fall back to their link, then to a hash of title+date, so a
feed that never set ids still gets stable keys; an entry that drops out of a feed is not a
deletion.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
from typing import Any, ClassVar, Literal

import feedparser

from monitor.errors import ParseError
from monitor.fetch import PollClient
from monitor.sources.base import BaseSource, Fetched, FetchState, ItemRecord, Page, SourceConfig


class RssConfig(SourceConfig):
    kind: Literal["rss"] = "rss"
    url: str
    item_kind: Literal["article", "opinion", "document", "entry", "docket", "bill"] = "article"
    jurisdiction: str | None = None
    court: str | None = None


def _entry_datetime(entry: Any) -> dt.datetime | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(name)
        if parsed:
            return dt.datetime.fromtimestamp(calendar.timegm(parsed), tz=dt.timezone.utc)
    return None


def _entry_id(entry: Any) -> str:
    for name in ("id", "guid", "link"):
        value = (entry.get(name) or "").strip()
        if value:
            return value
    basis = f"{entry.get('title', '')}|{entry.get('published', '')}|{entry.get('updated', '')}"
    return "sha1:" + hashlib.sha1(basis.encode("utf-8")).hexdigest()


class RssSource(BaseSource):
    kind: ClassVar[str] = "rss"
    Config: ClassVar[type[SourceConfig]] = RssConfig
    config: RssConfig

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        response = await client.get(self.config.url)
        if response.unchanged:
            return Fetched(unchanged=True)
        return Fetched(pages=(Page(response.url, response.body, response.content_type),))

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        try:
            feed = feedparser.parse(fetched.body, sanitize_html=False, resolve_relative_uris=False)
        except (ValueError, OverflowError, RecursionError) as exc:  # e.g. &#xD800; crashes feedparser
            raise ParseError(f"not a readable feed: {type(exc).__name__}: {str(exc)[:200]}") from None
        if not feed.entries and not feed.get("version"):  # an HTML maintenance page is not an empty feed
            reason = f": {feed.get('bozo_exception')}" if feed.get("bozo") else ""
            raise ParseError(f"not an RSS/Atom feed{reason}")
        records = []
        for entry in feed.entries:
            published = _entry_datetime(entry)
            categories = [t.get("term") for t in entry.get("tags", []) if t.get("term")]
            records.append(ItemRecord(
                key=f"rss:{self.config.id}:{_entry_id(entry)}",
                kind=self.config.item_kind,
                title=(entry.get("title") or "").strip() or "(untitled)",
                url=entry.get("link") or None,
                jurisdiction=self.config.jurisdiction,
                court=self.config.court,
                status="published" if self.config.item_kind in ("article", "document") else None,
                status_date=published.date() if published else None,
                published_at=published,
                summary=(entry.get("summary") or "").strip() or None,
                data={"author": entry.get("author"), "categories": categories},
            ))
        return records
