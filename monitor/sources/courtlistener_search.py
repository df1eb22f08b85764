"""``courtlistener_search``: new opinions (``type=o``) or RECAP dockets (``type=r``) for a query.

Source: CourtListener REST v4 ``/api/rest/v4/search/`` with ``Authorization: Token …`` from
``COURTLISTENER_TOKEN`` (anonymous v4 requests get 401). Format: JSON ``{count, next,
previous, results}`` with cursor pagination through ``next``
(realdata/courtlistener/api_docs_templates/search-api-docs-vlatest.html).

Budget: the free tier is 5/min, 50/hour, 125/day. A poll asks for the newest results first
(``order_by=dateFiled desc``) and follows ``next`` only while the whole page is at or after
the watermark (the newest ``dateFiled`` stored), at most ``max_pages`` requests; the first poll
spends one. With the default interval of 3h, four such sources stay under 125/day at two
requests each. CourtListener caches search results for ten minutes and recommends its alert
webhooks (``/hooks/courtlistener``) over polling; this kind is the fallback and backfill.

Limit: the watermark is a filing date, so a result CourtListener adds late with an old
``dateFiled`` (a backfilled opinion) or a change to an old docket (its termination) is not
seen here; follow such a case with ``courtlistener_docket`` or a docket-alert webhook.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from monitor.durations import Duration
from monitor.errors import ParseError
from monitor.fetch import PollClient
from monitor.sources.base import BaseSource, Fetched, FetchState, ItemRecord, Page, SourceConfig
from monitor.sources.courtlistener import (
    SITE,
    TOKEN_ENV,
    docket_record,
    opinion_record,
    snake_docket,
    to_date,
    token_headers,
)
from monitor.sources.payload import Payload, load_json, read

SEARCH_PATH = "/api/rest/v4/search/"


class CourtListenerSearchConfig(SourceConfig):
    kind: Literal["courtlistener_search"] = "courtlistener_search"
    interval: Duration | None = "3h"
    query: str = Field(min_length=1)
    type: Literal["o", "r"] = "o"
    court: str | None = None  # space-separated court ids, as the front end's "court" parameter
    max_pages: int = Field(default=2, ge=1, le=10)
    base_url: str = SITE

    def requests_per_poll(self) -> int:
        return self.max_pages


class SearchPage(Payload):
    """A v4 search page: results (each read by its record builder) and the cursor link."""

    results: list[dict[str, Any]]
    next: str | None = None


def page_results(body: bytes, url: str) -> SearchPage:
    """A search page whose ``results`` is a list of objects, or a ParseError naming what is not."""
    where = f"CourtListener search answer from {url}"
    data = load_json(body, where)
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ParseError(f"{where} has no 'results' list")
    return read(SearchPage, data, "")


def newest_filed(results: list[dict[str, Any]]) -> str | None:
    dates = [d.isoformat() for d in (to_date(r.get("dateFiled")) for r in results) if d is not None]
    return max(dates) if dates else None


class CourtListenerSearchSource(BaseSource):
    kind: ClassVar[str] = "courtlistener_search"
    Config: ClassVar[type[SourceConfig]] = CourtListenerSearchConfig
    provider: ClassVar[str] = "courtlistener"
    required_env: ClassVar[tuple[str, ...]] = (TOKEN_ENV,)
    config: CourtListenerSearchConfig

    def params(self) -> dict[str, str]:
        params = {"q": self.config.query, "type": self.config.type, "order_by": "dateFiled desc"}
        if self.config.court:
            params["court"] = self.config.court
        return params

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        """The newest results, following the cursor while whole pages are newer than the watermark.

        When ``max_pages`` runs out first, the rest is owed: the watermark becomes ``{"since",
        "newest", "next"}`` and the next polls go on from that cursor before resuming at ``newest``."""
        owed = state.owed()
        watermark = owed["since"] if owed else state.watermark
        url: str | None = owed["next"] if owed else self.config.base_url.rstrip("/") + SEARCH_PATH
        params: dict[str, str] | None = None if owed else self.params()
        pages: list[Page] = []
        limit = self.config.max_pages if watermark else 1  # first poll: the newest page is the baseline
        newest = owed["newest"] if owed else watermark
        while url and len(pages) < limit:
            response = await client.get(url, params=params, headers=token_headers(), conditional=False)
            data = page_results(response.body, url)
            pages.append(Page(response.url, response.body, response.content_type, label=f"page{len(pages) + 1}"))
            page_newest = newest_filed(data.results)
            if page_newest and (newest is None or page_newest > newest):
                newest = page_newest
            oldest = min((d.isoformat() for d in (to_date(r.get("dateFiled")) for r in data.results) if d),
                         default=None)
            if watermark is None or oldest is None or oldest < watermark:
                url = None  # reached what is already stored
                break
            url, params = data.next, None  # ``next`` carries the cursor and the query
        if url and watermark:
            return Fetched.owing(pages, since=watermark, newest=newest, next=url)
        return Fetched(pages=tuple(pages), watermark=newest)

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        records: dict[str, ItemRecord] = {}
        for page in fetched.pages:
            for i, result in enumerate(page_results(page.body, page.url).results):
                where = f"{page.label or 'page'}: results[{i}]"
                record = (opinion_record(result, where) if self.config.type == "o"
                          else docket_record(snake_docket(result), where))
                records.setdefault(record.key, record)  # a cursor page may repeat a result
        return list(records.values())
