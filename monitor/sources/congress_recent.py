"""``congress_recent``: newly introduced or updated federal bills that match a filter.

Source: ``{base_url}/bill/{congress}?fromDateTime=…&sort=updateDate+desc&format=json`` on the
congress.gov API v3, newest update first, ``limit`` up to 250, at most ``max_pages`` pages a
poll (``pagination.next`` links the rest). Auth as ``congress_bill``: ``X-Api-Key`` from
``CONGRESS_API_KEY``. Incremental: the watermark is the newest ``updateDate`` seen, the next
poll asks from there; the first poll looks back ``lookback_days``. Updates older than the pages a
poll could reach are owed (``toDateTime`` bounds them) and fetched by the next polls first.
Only bills whose title passes ``filter`` (the watchlist query language, via
``monitor.changes.query.compile_query``) are stored: the list has every bill of the Congress.
Status: a list row has only its ``latestAction``; its status is what that action's words prove
(``monitor.normalise.actiontext``), marked ``data["status_basis"] = "latest_action"``, so a
bill followed in full (congress_bill, govinfo_billstatus: ``"actions"``) supersedes it.
Quirks: ``updateDate`` is a date in some answers and a timestamp in others; some bills have
an empty ``title`` until the CRS titles them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from monitor.changes.query import MatchDoc, compile_query
from monitor.errors import ParseError
from monitor.fetch import PollClient
from monitor.normalise.actiontext import LATEST_ONLY, latest_action_status, origin_chamber
from monitor.normalise.federal import congress_gov_url, display_title
from monitor.normalise.identity import federal_identity
from monitor.sources.base import BaseSource, Fetched, FetchState, ItemRecord, Page, SourceConfig
from monitor.sources.congress_gov import BillList
from monitor.sources.payload import load_json, read

API = "https://api.congress.gov/v3"

log = logging.getLogger(__name__)


class CongressRecentConfig(SourceConfig):
    kind: Literal["congress_recent"] = "congress_recent"
    congress: Annotated[int, Field(ge=93)] | Literal["current"]  # "current": the Congress in session when polled
    filter: str = Field(min_length=1)
    base_url: str = API
    max_pages: int = Field(default=2, ge=1, le=20)
    page_size: int = Field(default=250, ge=1, le=250)
    lookback_days: int = Field(default=7, ge=1, le=366)

    def requests_per_poll(self) -> int:
        return self.max_pages


def congress_in_session(today: dt.date) -> int:
    """The Congress in session: a new one meets on January 3 of each odd year (the 119th in 2025)."""
    year = today.year - (today.year % 2 == 1 and (today.month, today.day) < (1, 3))
    return (year - 1789) // 2 + 1


def _timestamp(value: str, where: str = "updateDate") -> dt.datetime:
    """``2022-04-03`` or ``2022-04-03T13:42:21Z`` → aware UTC datetime."""
    try:
        if len(value) == 10:
            return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
        return dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    except ValueError:
        raise ParseError(f"{where}: 'updateDate' {value!r} is not a date") from None


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class CongressRecentSource(BaseSource):
    kind: ClassVar[str] = "congress_recent"
    Config: ClassVar[type[SourceConfig]] = CongressRecentConfig
    provider: ClassVar[str] = "congress"
    required_env: ClassVar[tuple[str, ...]] = ("CONGRESS_API_KEY",)
    config: CongressRecentConfig

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        """The bills updated since the watermark, newest first, at most ``max_pages`` pages.

        When more remain, the older updates the pages did not reach are owed: the watermark becomes
        ``{"from", "to", "newest"}`` and the next polls fetch that window before resuming at
        ``newest``, so a busy day's older updates are fetched late instead of never."""
        owed = state.owed()
        since = (owed["from"] if owed else state.watermark) or _iso(
            dt.datetime.now(dt.UTC) - dt.timedelta(days=self.config.lookback_days))
        headers = {"X-Api-Key": os.environ.get("CONGRESS_API_KEY", ""), "Accept": "application/json"}
        congress = self.config.congress
        if congress == "current":
            congress = congress_in_session(dt.date.today())
        url: str | None = f"{self.config.base_url.rstrip('/')}/bill/{congress}"
        params: dict[str, Any] | None = {"fromDateTime": since, "sort": "updateDate desc",
                                         "limit": self.config.page_size, "format": "json",
                                         **({"toDateTime": owed["to"]} if owed else {})}
        pages: list[Page] = []
        stamps: list[str] = []
        for n in range(1, self.config.max_pages + 1):
            assert url is not None
            response = await client.get(url, params=params, headers=headers, conditional=False)
            pages.append(Page(response.url, response.body, response.content_type, f"page{n}"))
            data = _load(pages[-1])
            stamps += [_iso(_timestamp(bill.updateDate, f"page{n}: bills[{i}]"))
                       for i, bill in enumerate(data.bills) if bill.updateDate]
            url, params = data.pagination.next if data.pagination else None, None
            if not url:
                break
        newest = max([since, *stamps, *([owed["newest"]] if owed else [])])
        # the owed window ends a second before the oldest update fetched, so each poll shrinks it
        before = _iso(_timestamp(min(stamps, default=since)) - dt.timedelta(seconds=1))
        if url and state.watermark and since <= before:  # a first poll's older updates are history
            return Fetched.owing(pages, **{"from": since, "to": before, "newest": newest})
        if url and state.watermark:  # pages of updates all of one moment: the window cannot shrink
            log.warning("source %s: more bills updated at %s than %d pages hold; some are not fetched",
                        self.config.id, since, self.config.max_pages)
        return Fetched(pages=tuple(pages), watermark=newest)

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        matches = compile_query(self.config.filter)
        records: dict[str, ItemRecord] = {}
        for page in fetched.pages:
            for bill in _load(page).bills:
                congress, number, kind = bill.congress, bill.number, bill.type.lower()
                key = f"congress_recent:{self.config.id}:{congress}:{kind}:{number}"
                title = bill.title or ""  # empty until the CRS titles the bill
                latest = bill.latestAction.model_dump() if bill.latestAction else {}
                if key in records or not matches(MatchDoc(key=key, kind="bill", source=self.config.id, title=title)):
                    continue
                derived = latest_action_status(latest.get("text"), latest.get("actionDate"), origin_chamber(kind))
                records[key] = ItemRecord(
                    key=key, kind="bill", title=display_title(kind, number, title),
                    url=congress_gov_url(congress, kind, number),
                    identity=federal_identity(congress, kind, number), jurisdiction="us",
                    summary=latest.get("text"),
                    status=derived.status, raw_status=derived.raw_status, status_action=derived.action,
                    status_date=derived.date,
                    data={"congress": congress, "type": kind, "number": number, "update_date": bill.updateDate,
                          "status_basis": LATEST_ONLY,
                          "origin_chamber": bill.originChamber,
                          "latest_action": {"date": latest.get("actionDate"), "text": latest.get("text")}},
                )
        return list(records.values())


def _load(page: Page) -> BillList:
    """A list page; one without ``bills`` is a shape change, not "nothing new" (an empty
    answer still carries ``"bills": []``)."""
    try:
        data = load_json(page.body, page.label)
    except ParseError as exc:
        raise ParseError(f"{exc}; was format=json sent?") from None
    if not isinstance(data, dict) or "bills" not in data:
        raise ParseError(f"{page.label}: no 'bills' list")
    return read(BillList, data, page.label)
