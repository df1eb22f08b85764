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

from monitor.errors import ParseError
from monitor.fetch import PollClient, Response
from monitor.normalise.federal import FederalAction, FederalBillsConfig, derive, federal_record
from monitor.normalise.identity import parse_federal_bill
from monitor.sources.base import BaseSource, Fetched, FetchState, ItemRecord, Page, SourceConfig
from monitor.sources.shape import as_object, integer, load_json, object_list, optional, text

API = "https://api.congress.gov/v3"
MAX_ACTION_PAGES = 5


class CongressBillConfig(FederalBillsConfig):
    kind: Literal["congress_bill"] = "congress_bill"
    base_url: str = API
    titles: bool = True
    committees: bool = True


def bill_slug(bill: str) -> str:
    kind, number = parse_federal_bill(bill)
    return f"{kind}{number}"


def slug_path(bill: str) -> str:
    kind, number = parse_federal_bill(bill)
    return f"{kind}/{number}"


def _json(page: Page) -> dict[str, Any]:
    where = page.label or page.url
    try:
        data = load_json(page.body, where)
    except ParseError as exc:
        raise ParseError(f"{exc}; was format=json sent?") from None
    return as_object(data, where)


def _list(page: Page, key: str) -> list[dict[str, Any]]:
    """The ``actions``/``titles``/``committees`` list of a part page; a page without it is a shape
    change, never "no actions" (that would move the bill's status backwards)."""
    data = _json(page)
    if key not in data:
        raise ParseError(f"{page.label}: no {key!r} list")
    return object_list(data[key], f"{page.label}: {key}")


def _next_page(body: bytes, label: str) -> str | None:
    pagination = optional(_json(Page("", body, label=label)), "pagination", label, dict) or {}
    following = optional(pagination, "next", f"{label}: pagination", str)
    return following or None


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
        for bill in self.config.bills:
            slug = bill_slug(bill)
            root = f"{base}/bill/{self.config.congress}/{slug_path(bill)}"
            parts = ["bill", "actions"] + ["titles"] * self.config.titles + ["committees"] * self.config.committees
            got = {part: await self._part(client, root, part, headers, conditional=True) for part in parts}
            if all(r.unchanged for responses in got.values() for r in responses):
                continue
            for part, responses in got.items():
                if not responses[0].body:  # a 304 among changed parts: its body is needed again
                    responses = await self._part(client, root, part, headers, conditional=False)
                pages += [Page(r.url, r.body, r.content_type, f"{slug}.{part}" + (f".{n}" if n > 1 else ""))
                          for n, r in enumerate(responses, 1)]
        return Fetched(pages=tuple(pages), unchanged=not pages)

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
            data = _json(page).get("bill")
            if not isinstance(data, dict):
                raise ParseError(f"{slug}.bill: no 'bill' object")
            actions = [a for p in fetched.pages if p.label.startswith(f"{slug}.actions") for a in _list(p, "actions")]
            records.append(self.record(data, actions, fetched.page(f"{slug}.titles"), fetched.page(f"{slug}.committees")))
        return records

    def record(self, bill: dict[str, Any], actions: list[dict[str, Any]], titles: Page | None,
               committees: Page | None) -> ItemRecord:
        derived = derive([FederalAction(text(a, "actionDate", "actions"), optional(a, "text", "actions", str) or "",
                                        a.get("actionCode"), a.get("type"), a.get("actionTime"),
                                        bool(a.get("committees"))) for a in actions])
        latest = optional(bill, "latestAction", "bill", dict) or {}
        parts = {name: optional(bill, name, "bill", dict) or {} for name in ("cosponsors", "policyArea")}
        data: dict[str, Any] = {
            "congress": integer(bill, "congress", "bill"), "type": text(bill, "type", "bill").lower(),
            "number": integer(bill, "number", "bill"),
            "introduced": bill.get("introducedDate"), "update_date": bill.get("updateDate"),
            "sponsors": [s.get("fullName") for s in object_list(bill.get("sponsors", []), "bill: sponsors")],
            "cosponsors": parts["cosponsors"].get("count"),
            "policy_area": parts["policyArea"].get("name"),
            "latest_action": {"date": latest.get("actionDate"), "text": latest.get("text")},
            "actions": len(actions),
            "laws": [law.get("number") for law in object_list(bill.get("laws", []), "bill: laws")],
        }
        if titles is not None:
            data["titles"] = sorted({t["title"] for t in _list(titles, "titles") if t.get("title")})
        if committees is not None:
            data["committees"] = sorted({c["name"] for c in _list(committees, "committees") if c.get("name")})
        fields = {**bill, **{k: data[k] for k in ("congress", "type", "number")},
                  "title": text(bill, "title", "bill"), "latest_action": data["latest_action"]}
        return federal_record(self.kind, fields, derived, data)
