"""``congress_bill``: named federal bills through the congress.gov API v3.

Source: ``{base_url}/bill/{congress}/{type}/{number}`` plus ``/actions`` and, if asked,
``/titles`` and ``/committees`` (the cosponsor count is already in the bill object).
Format: JSON, but only when asked: since April 2026 every endpoint answers XML by default,
so every request carries ``format=json``. Auth: an api.data.gov key in the ``X-Api-Key``
header (``CONGRESS_API_KEY``), never in the URL. Limit: 5,000 requests/hour per key
(api.data.gov's own default is 1,000/hour); a poll spends 2–4 requests per bill.
Quirks: actions come newest first, 250 per page at most, with ``pagination.next`` when
there are more; Senate actions carry no ``actionCode`` (see monitor.normalise.federal).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Literal

from monitor.errors import AuthError, FetchError, MonitorError, ParseError
from monitor.fetch import PollClient, Response
from monitor.normalise.federal import FederalAction, derive
from monitor.normalise.identity import parse_federal_bill
from monitor.sources.base import BaseSource, Fetched, FetchState, ItemRecord, Page, SourceConfig, fetched_despite
from monitor.sources.congress_gov import (
    ActionsPage,
    BillAction,
    BillDetail,
    CommitteesPage,
    PagedAnswer,
    TitlesPage,
)
from monitor.sources.federal_bills import FederalBillsConfig, federal_record
from monitor.sources.payload import Model, load_json, read

API = "https://api.congress.gov/v3"
MAX_ACTION_PAGES = 5


class CongressBillConfig(FederalBillsConfig):
    kind: Literal["congress_bill"] = "congress_bill"
    base_url: str = API
    titles: bool = True
    committees: bool = True

    def requests_per_poll(self) -> int:
        return (2 + self.titles + self.committees) * len(self.bills)  # the bill and one page of actions, each


def bill_slug(bill: str) -> str:
    kind, number = parse_federal_bill(bill)
    return f"{kind}{number}"


def slug_path(bill: str) -> str:
    kind, number = parse_federal_bill(bill)
    return f"{kind}/{number}"


def _json(page: Page) -> Any:
    try:
        return load_json(page.body, page.label or page.url)
    except ParseError as exc:
        raise ParseError(f"{exc}; was format=json sent?") from None


def _part(page: Page, model: type[Model]) -> Model:
    """A part page (``actions``/``titles``/``committees``) read as its model."""
    return read(model, _json(page), page.label or page.url)


def _next_page(body: bytes, label: str) -> str | None:
    pagination = _part(Page("", body, label=label), PagedAnswer).pagination
    return pagination.next if pagination and pagination.next else None


class CongressBillSource(BaseSource):
    kind: ClassVar[str] = "congress_bill"
    Config: ClassVar[type[SourceConfig]] = CongressBillConfig
    provider: ClassVar[str] = "congress"
    required_env: ClassVar[tuple[str, ...]] = ("CONGRESS_API_KEY",)
    config: CongressBillConfig

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        """Every part of every bill; a bill whose parts are all unchanged is left out of the poll."""
        headers = {"X-Api-Key": os.environ.get("CONGRESS_API_KEY", ""), "Accept": "application/json"}
        base = self.config.base_url.rstrip("/")
        pages: list[Page] = []
        missed: list[tuple[str, MonitorError]] = []
        for bill in self.config.bills:
            slug = bill_slug(bill)
            known = set(client.updated)
            try:
                got = await self._bill(client, f"{base}/bill/{self.config.congress}/{slug_path(bill)}", slug,
                                       headers)
                self.parse(Fetched(pages=tuple(got)))  # a broken answer fails its bill, not the others
            except AuthError:  # the key, not the bill: every other bill would be refused alike
                raise
            except (FetchError, ParseError) as exc:  # one bill's failure does not hold back the others
                client.forget(set(client.updated) - known)
                missed.append((slug, exc))
                continue
            pages += got
        return fetched_despite(pages, missed, len(self.config.bills))

    async def _bill(self, client: PollClient, root: str, slug: str, headers: dict[str, str]) -> list[Page]:
        """The bill's parts, or none when every part is unchanged."""
        parts = ["bill", "actions"] + ["titles"] * self.config.titles + ["committees"] * self.config.committees
        got = {part: await self._part(client, root, part, headers, conditional=True) for part in parts}
        if all(r.unchanged for responses in got.values() for r in responses):
            return []
        pages = []
        for part, responses in got.items():
            if not responses[0].body:  # a 304 among changed parts: its body is needed again
                responses = await self._part(client, root, part, headers, conditional=False)
            pages += [Page(r.url, r.body, r.content_type, f"{slug}.{part}" + (f".{n}" if n > 1 else ""))
                      for n, r in enumerate(responses, 1)]
        return pages

    async def _part(self, client: PollClient, root: str, part: str, headers: dict[str, str], *,
                    conditional: bool) -> list[Response]:
        url = root if part == "bill" else f"{root}/{part}"
        params: dict[str, Any] | None = {"format": "json"} if part == "bill" else {"format": "json", "limit": 250}
        responses = []
        for _ in range(MAX_ACTION_PAGES):
            response = await client.get(url, params=params, headers=headers, conditional=conditional)
            responses.append(response)
            following = _next_page(response.body, f"{root} {part}") if response.body else None
            if part != "actions" or not following:
                break
            url, params = following, None
        return responses

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        records = []
        for page in fetched.pages:
            if not page.label.endswith(".bill"):
                continue
            slug = page.label.removesuffix(".bill")
            data = _json(page)
            if not isinstance(data, dict) or not isinstance(data.get("bill"), dict):
                raise ParseError(f"{slug}.bill: no 'bill' object")
            bill = read(BillDetail, data["bill"], f"{page.label}: bill")
            actions = [a for p in fetched.pages if p.label.startswith(f"{slug}.actions")
                       for a in _part(p, ActionsPage).actions]
            records.append(self.record(bill, actions, fetched.page(f"{slug}.titles"),
                                       fetched.page(f"{slug}.committees")))
        return records

    def record(self, bill: BillDetail, actions: list[BillAction], titles: Page | None,
               committees: Page | None) -> ItemRecord:
        derived = derive([FederalAction(a.actionDate, a.text or "", a.actionCode, a.type, a.actionTime,
                                        bool(a.committees)) for a in actions])
        latest = bill.latestAction
        data: dict[str, Any] = {
            "congress": bill.congress, "type": bill.type.lower(), "number": bill.number,
            "introduced": bill.introducedDate, "update_date": bill.updateDate,
            "sponsors": [s.fullName for s in bill.sponsors or []],
            "cosponsors": bill.cosponsors.count if bill.cosponsors else None,
            "policy_area": bill.policyArea.name if bill.policyArea else None,
            "latest_action": {"date": latest.actionDate if latest else None, "text": latest.text if latest else None},
            "actions": len(actions),
            "laws": [law.number for law in bill.laws or []],
        }
        if titles is not None:
            data["titles"] = sorted({t.title for t in _part(titles, TitlesPage).titles if t.title})
        if committees is not None:
            data["committees"] = sorted({c.name for c in _part(committees, CommitteesPage).committees if c.name})
        fields = {**{k: data[k] for k in ("congress", "type", "number")}, "title": bill.title,
                  "latest_action": data["latest_action"]}
        return federal_record(self.kind, fields, derived, data)
