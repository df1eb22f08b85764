"""``courtlistener_docket``: follow one docket; the docket is an item, each entry is an item.

Source: with ``COURTLISTENER_TOKEN`` set, ``/api/rest/v4/dockets/{id}/`` (the case: name,
court, docket number, ``date_terminated`` …) plus ``/api/rest/v4/docket-entries/?docket={id}``
newest-modified first; without a token, the public Atom feed ``/docket/{id}/feed/``.

Status: the docket's status follows the case by ``DOCKET_STATUS_RULES`` (pending until a
termination or cert date is set); a new entry is a new item, so a filing is a change.
The Atom feed carries no termination date, so without a token the docket stays ``pending``
and its identity comes from ``court``/``docket_number`` in the config.

Budget: two requests per poll with a token (a third only when more than a page of entries
changed since the last poll; ``max_pages`` bounds it, and the next polls go on from the cursor
where it ran out), one without; the watermark is the newest entry ``date_modified`` seen.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar, Literal

from pydantic import Field

from monitor.durations import Duration
from monitor.errors import ParseError
from monitor.fetch import PollClient
from monitor.sources.base import (
    BaseSource,
    Fetched,
    FetchState,
    ItemRecord,
    Page,
    SourceConfig,
    fetch_page,
)
from monitor.sources.courtlistener import (
    SITE,
    docket_record,
    entry_record,
    token_headers,
)
from monitor.sources.payload import Payload, json_type, load_json, read

# The feed's entry links end in ``#entry-<number>``, or ``#minute-entry-<pk>`` for unnumbered
# minute entries; titles read "Entry #140 in <case>" (cl/opinion_page/feeds.py, DocketFeed).
_ENTRY_ANCHOR = re.compile(r"#entry-(\d+)$")
_MINUTE_ANCHOR = re.compile(r"#minute-entry-(\d+)$")
_FEED_TITLE = re.compile(r"^Docket updates for\s+")


class CourtListenerDocketConfig(SourceConfig):
    kind: Literal["courtlistener_docket"] = "courtlistener_docket"
    interval: Duration | None = "6h"
    docket_id: int = Field(ge=1)
    court: str | None = None  # used for the identity in feed mode
    docket_number: str | None = None
    max_pages: int = Field(default=2, ge=1, le=10)
    base_url: str = SITE

    def requests_per_poll(self) -> int:
        """Without a token, the docket's feed; with one, the docket and at most ``max_pages`` of entries."""
        return 1 + self.max_pages if token_headers() else 1


def _json(page: Page) -> Any:
    return load_json(page.body, f"CourtListener answer from {page.url}")


class EntriesPage(Payload):
    """A docket-entries page: entries (each read by ``entry_record``) and the cursor link."""

    results: list[dict[str, Any]]
    next: str | None = None


def _entries(page: Page) -> EntriesPage:
    """A docket-entries page: an object whose ``results`` is a list of objects."""
    data = _json(page)
    if not isinstance(data, dict):
        raise ParseError(f"docket-entries answer from {page.url}: expected an object, got {json_type(data)}")
    if not isinstance(data.get("results"), list):
        raise ParseError(f"docket-entries answer from {page.url} has no 'results' list")
    return read(EntriesPage, data, page.label)


class CourtListenerDocketSource(BaseSource):
    kind: ClassVar[str] = "courtlistener_docket"
    Config: ClassVar[type[SourceConfig]] = CourtListenerDocketConfig
    provider: ClassVar[str] = "courtlistener"
    config: CourtListenerDocketConfig

    def _url(self, path: str) -> str:
        return self.config.base_url.rstrip("/") + path

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        headers = token_headers()
        if not headers:
            return await fetch_page(client, self._url(f"/docket/{self.config.docket_id}/feed/"), label="feed")
        docket = await client.get(self._url(f"/api/rest/v4/dockets/{self.config.docket_id}/"),
                                  headers=headers, conditional=False)
        pages = [Page(docket.url, docket.body, docket.content_type, label="docket")]
        # entries the last poll's pages did not reach are owed: {"since", "newest", "next"}
        owed = state.owed()
        since = owed["since"] if owed else state.watermark
        url: str | None = owed["next"] if owed else self._url("/api/rest/v4/docket-entries/")
        params: dict[str, Any] | None = None if owed else {"docket": self.config.docket_id,
                                                           "order_by": "-date_modified"}
        newest = owed["newest"] if owed else since
        while url and len(pages) <= self.config.max_pages:
            response = await client.get(url, params=params, headers=headers, conditional=False)
            page = Page(response.url, response.body, response.content_type, label=f"entries{len(pages)}")
            pages.append(page)
            data = _entries(page)
            modified = [_utc(e.get("date_modified")) for e in data.results]
            if modified and (newest is None or max(modified) > newest):
                newest = max(modified)
            if since is None or not modified or min(modified) <= since:
                url = None  # the rest was stored by an earlier poll
                break
            url, params = data.next, None
        if url and since:
            return Fetched.owing(pages, since=since, newest=newest, next=url)
        return Fetched(pages=tuple(pages), watermark=newest)

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        feed = fetched.page("feed")
        if feed is not None:
            return self._parse_feed(feed)
        docket_page = fetched.page("docket")
        if docket_page is None:
            raise ParseError("courtlistener_docket: neither a docket nor a feed was fetched")
        docket = _json(docket_page)
        if not isinstance(docket, dict):
            raise ParseError(f"docket answer from {docket_page.url}: expected an object, got {json_type(docket)}")
        records = [docket_record(docket, "docket")]
        seen = {records[0].key}
        for page in fetched.pages:
            if not page.label.startswith("entries"):
                continue
            for i, entry in enumerate(_entries(page).results):
                record = entry_record(entry, court=docket.get("court_id"), case=records[0].identity,
                                      case_name=records[0].title, where=f"{page.label}: results[{i}]")
                if record.key not in seen:
                    seen.add(record.key)
                    records.append(record)
        return records

    def _parse_feed(self, page: Page) -> list[ItemRecord]:
        import feedparser  # loaded when a docket feed is parsed, not at every CLI start

        parsed = feedparser.parse(page.body, sanitize_html=False, resolve_relative_uris=False)
        if not parsed.entries and parsed.get("bozo") and not parsed.get("feed"):
            raise ParseError(f"docket feed from {page.url} is not Atom/RSS: {parsed.get('bozo_exception')}")
        docket_id = self.config.docket_id
        title = _FEED_TITLE.sub("", parsed.feed.get("title") or "").strip()
        docket = {"id": docket_id, "case_name": title or self.config.title or f"Docket {docket_id}",
                  "court_id": self.config.court, "docket_number": self.config.docket_number,
                  "absolute_url": f"/docket/{docket_id}/"}  # the feed's own link is the site root
        records = [docket_record(docket)]
        seen = {records[0].key}
        for entry in parsed.entries:
            link = entry.get("link") or ""
            number, minute = _ENTRY_ANCHOR.search(link), _MINUTE_ANCHOR.search(link)
            record = entry_record({
                "id": minute.group(1) if minute else entry.get("id") or link,
                "docket": docket_id, "entry_number": int(number.group(1)) if number else None,
                "description": entry.get("summary") or entry.get("title"),
                "date_filed": _feed_date(entry),
            }, court=self.config.court, url=link or None, case=records[0].identity, case_name=records[0].title)
            if record.key not in seen:
                seen.add(record.key)
                records.append(record)
        return records


def _utc(value: Any) -> str:
    """A ``date_modified`` in UTC, so watermarks compare as strings across PST and PDT."""
    try:
        return dt.datetime.fromisoformat(str(value)).astimezone(dt.UTC).isoformat()
    except ValueError:
        raise ParseError(f"docket entry date_modified {value!r} is not ISO 8601") from None


def _feed_date(entry: Any) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return f"{parsed.tm_year:04d}-{parsed.tm_mon:02d}-{parsed.tm_mday:02d}" if parsed else None

