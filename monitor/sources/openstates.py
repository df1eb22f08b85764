"""``openstates``: state bills through the Open States API v3 (Plural Policy).

Source: ``{base_url}/bills?jurisdiction=…&session=…&identifier=…&q=…&updated_since=…
&include=actions&page=…&per_page=…``. Auth: ``X-API-KEY`` header from ``OPENSTATES_API_KEY``
(a missing key answers 403, an unknown one 401, over the limit 429). Limit: the default tier
is 10 requests/minute and 250/day, so a poll is one page per watched jurisdiction unless
there is more, bounded by ``max_pages``.
Format: ``{"results": [Bill…], "pagination": {"per_page", "page", "max_page", "total_items"}}``
with each Bill as in openstates/api-v3 ``api/schemas.py``; actions carry an ``organization``
(``classification`` ``upper``/``lower``) and a list of ``classification`` strings, which the
crosswalk table maps onto the ladder.
Incremental: the watermark is the newest ``updated_at`` seen; the next poll sends it as
``updated_since``, so an unchanged jurisdiction costs one request that returns nothing.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field

from monitor.errors import ParseError
from monitor.fetch import PollClient
from monitor.normalise.actiontext import FULL_HISTORY, LATEST_ONLY, latest_action_status
from monitor.normalise.crosswalks import OPENSTATES_CLASSIFICATIONS, Chamber, Step
from monitor.normalise.identity import state_identity
from monitor.normalise.ladder import Action, climb
from monitor.sources.base import BaseSource, Fetched, FetchState, ItemRecord, Page, SourceConfig
from monitor.sources.shape import as_object, load_json, object_list, optional, require, text

API = "https://v3.openstates.org"
CHAMBERS: dict[str, Chamber] = {"upper": "upper", "lower": "lower"}


class OpenStatesConfig(SourceConfig):
    kind: Literal["openstates"] = "openstates"
    jurisdiction: str = Field(min_length=2)  # "il", "Illinois" or an ocd-jurisdiction id
    session: str | None = None
    identifiers: list[str] = Field(default_factory=list)  # "HB 1312"
    q: str | None = None
    base_url: str = API
    per_page: int = Field(default=20, ge=1, le=20)
    max_pages: int = Field(default=2, ge=1, le=10)


def state_code(jurisdiction_id: str) -> str:
    """``ocd-jurisdiction/country:us/state:il/government`` → ``il``."""
    for part in jurisdiction_id.split("/"):
        if part.startswith("state:"):
            return part.removeprefix("state:")
    raise ParseError(f"not a state jurisdiction: {jurisdiction_id!r}")


def steps(action: dict[str, Any], where: str = "action") -> list[tuple[Action, Step | None]]:
    """One Open States action → one ladder event per classification it carries."""
    chamber = CHAMBERS.get((optional(action, "organization", where, dict) or {}).get("classification", ""))
    date = text(action, "date", where)
    try:
        day = dt.date.fromisoformat(date[:10])
    except ValueError:
        raise ParseError(f"{where}: 'date' {date!r} is not a date") from None
    description = optional(action, "description", where, str) or ""
    classes = optional(action, "classification", where, list) or []
    return [(Action(day, description, c, chamber, (action.get("order", 0), i)), OPENSTATES_CLASSIFICATIONS.get(c))
            for i, c in enumerate(classes)]


def bill_record(bill: dict[str, Any], where: str = "bill") -> ItemRecord:
    bill_id, session, identifier = (text(bill, name, where) for name in ("id", "session", "identifier"))
    title = text(bill, "title", where)
    state = state_code(text(as_object(require(bill, "jurisdiction", where), f"{where}: jurisdiction"), "id",
                            f"{where}: jurisdiction"))
    identity = state_identity(state, session, identifier)
    actions = object_list(optional(bill, "actions", where, list) or [], f"{where}: actions")
    if actions:
        derived, basis = climb([e for i, a in enumerate(actions) for e in steps(a, f"{where}: actions[{i}]")]), FULL_HISTORY
    else:  # a search row without ``include=actions``: its latest action is all there is
        derived = latest_action_status(bill.get("latest_action_description"), bill.get("latest_action_date"))
        basis = LATEST_ONLY
    return ItemRecord(
        key=f"openstates:{bill_id}",
        kind="bill",
        title=f"{identifier}: {title}",
        url=bill.get("openstates_url"),
        identity=identity,
        jurisdiction=state,
        status=derived.status,
        raw_status=derived.raw_status,
        status_action=derived.action,
        status_date=derived.date,
        summary=bill.get("latest_action_description") or None,
        data={
            "session": session, "identifier": identifier, "status_basis": basis,
            "chamber": (bill.get("from_organization") or {}).get("classification"),
            "updated_at": bill.get("updated_at"),
            "latest_action": {"date": bill.get("latest_action_date"), "text": bill.get("latest_action_description")},
            "latest_passage_date": bill.get("latest_passage_date") or None,
            "actions": len(actions),
            "subjects": bill.get("subject") or [],
        },
    )


def _load(page: Page) -> dict[str, Any]:
    data = load_json(page.body, page.label)
    if not isinstance(data, dict) or not isinstance(data.get("results"), list) or "pagination" not in data:
        raise ParseError(f"{page.label}: not an Open States list (no 'results' and 'pagination')")
    object_list(data["results"], f"{page.label}: results")
    as_object(data["pagination"], f"{page.label}: pagination")
    return data


class OpenStatesSource(BaseSource):
    kind: ClassVar[str] = "openstates"
    Config: ClassVar[type[SourceConfig]] = OpenStatesConfig
    provider: ClassVar[str] = "openstates"
    required_env: ClassVar[tuple[str, ...]] = ("OPENSTATES_API_KEY",)
    config: OpenStatesConfig

    def params(self, page: int, since: str | None) -> list[tuple[str, str | int]]:
        c = self.config
        params: list[tuple[str, str | int]] = [("jurisdiction", c.jurisdiction)]
        params += [("session", c.session)] if c.session else []
        params += [("identifier", i) for i in c.identifiers]
        params += [("q", c.q)] if c.q else []
        params += [("updated_since", since)] if since else []
        return params + [("include", "actions"), ("sort", "updated_desc"), ("page", page), ("per_page", c.per_page)]

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        headers = {"X-API-KEY": os.environ.get("OPENSTATES_API_KEY", ""), "Accept": "application/json"}
        url = f"{self.config.base_url.rstrip('/')}/bills"
        pages: list[Page] = []
        newest = state.watermark
        for n in range(1, self.config.max_pages + 1):
            response = await client.get(str(httpx.URL(url, params=self.params(n, state.watermark))), headers=headers,
                                        conditional=False)
            pages.append(Page(response.url, response.body, response.content_type, f"page{n}"))
            data = _load(pages[-1])
            for i, bill in enumerate(data["results"]):
                stamp = optional(bill, "updated_at", f"page{n}: results[{i}]", str)
                if stamp and (newest is None or stamp > newest):
                    newest = stamp
            if n >= (optional(data["pagination"], "max_page", f"page{n}: pagination", int) or 1):
                break
        return Fetched(pages=tuple(pages), watermark=newest)

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        records = {}
        for page in fetched.pages:
            for i, bill in enumerate(_load(page)["results"]):
                record = bill_record(bill, f"{page.label}: results[{i}]")
                records[record.key] = record
        return list(records.values())
