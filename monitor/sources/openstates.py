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
``updated_since``, so an unchanged jurisdiction costs one request that returns nothing. Pages a
poll could not reach are owed and fetched by the next polls first.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field

from monitor.errors import ParseError
from monitor.fetch import PollClient
from monitor.normalise.actiontext import FULL_HISTORY, LATEST_ONLY, latest_action_status, text_step
from monitor.normalise.crosswalks import OPENSTATES_CLASSIFICATIONS, Chamber, Step
from monitor.normalise.identity import state_identity
from monitor.normalise.ladder import Action, on_record
from monitor.sources.base import BaseSource, Fetched, FetchState, ItemRecord, Page, SourceConfig
from monitor.sources.payload import Payload, Text, load_json, read

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

    def requests_per_poll(self) -> int:
        return self.max_pages

    def discovers(self) -> bool:
        return bool(self.q) and not self.identifiers


def state_code(jurisdiction_id: str) -> str:
    """``ocd-jurisdiction/country:us/state:il/government`` → ``il``; D.C. is a ``district:``,
    Puerto Rico and the other territories ``territory:``."""
    for part in jurisdiction_id.split("/"):
        kind, _, code = part.partition(":")
        if kind in ("state", "district", "territory"):
            return code
    raise ParseError(f"not a state jurisdiction: {jurisdiction_id!r}")


class Organization(Payload):
    classification: str | None = None


class Jurisdiction(Payload):
    id: Text


class OpenStatesAction(Payload):
    date: Text
    description: str | None = None
    classification: list[str] | None = None
    organization: Organization | None = None
    order: int = 0


class OpenStatesBill(Payload):
    """A Bill of openstates/api-v3 ``api/schemas.py``, the fields read here."""

    id: Text
    session: Text
    identifier: Text
    title: Text
    jurisdiction: Jurisdiction
    actions: list[OpenStatesAction] | None = None
    openstates_url: str | None = None
    from_organization: Organization | None = None
    updated_at: str | None = None
    latest_action_date: str | None = None
    latest_action_description: str | None = None
    latest_passage_date: str | None = None
    subject: list[str] | None = None


class ListPagination(Payload):
    max_page: int | None = None


class OpenStatesPage(Payload):
    results: list[dict[str, Any]]
    pagination: ListPagination


def steps(action: OpenStatesAction, where: str = "action") -> list[tuple[Action, Step | None]]:
    """One Open States action → one ladder event per classification it carries.

    An action with no classification (several states' scrapers leave even a veto unclassified)
    is read by its words, with the rules a list row's latest action is read by; so is an override
    vote whose words say the veto is overridden outright (Illinois' "Both Houses Override Total
    Veto" is both chambers' votes in one action).
    """
    chamber = CHAMBERS.get(action.organization.classification or "") if action.organization else None
    try:
        day = dt.date.fromisoformat(action.date[:10])
    except ValueError:
        raise ParseError(f"{where}: 'date' {action.date!r} is not a date") from None
    text = action.description or ""
    if not action.classification:
        return [(Action(day, text, None, chamber, (action.order, 0)), text_step(text))]
    said = text_step(text)
    return [(Action(day, text, c, chamber, (action.order, i)),
             said if c == "veto-override-passage" and said is not None and said.overridden
             else OPENSTATES_CLASSIFICATIONS.get(c))
            for i, c in enumerate(action.classification)]


def bill_record(row: dict[str, Any], where: str = "bill") -> ItemRecord:
    bill = read(OpenStatesBill, row, where)
    state = state_code(bill.jurisdiction.id)
    identity = state_identity(state, bill.session, bill.identifier)
    actions = bill.actions or []
    if actions:
        derived = on_record([e for i, a in enumerate(actions) for e in steps(a, f"{where}: actions[{i}]")])
        basis = FULL_HISTORY
    else:  # a search row without ``include=actions``: its latest action is all there is
        derived = latest_action_status(bill.latest_action_description, bill.latest_action_date)
        basis = LATEST_ONLY
    return ItemRecord(
        key=f"openstates:{bill.id}",
        kind="bill",
        title=f"{bill.identifier}: {bill.title}",
        url=bill.openstates_url,
        identity=identity,
        jurisdiction=state,
        status=derived.status,
        raw_status=derived.raw_status,
        status_action=derived.action,
        status_date=derived.date,
        summary=bill.latest_action_description or None,
        data={
            "session": bill.session, "identifier": bill.identifier, "status_basis": basis,
            "chamber": bill.from_organization.classification if bill.from_organization else None,
            "updated_at": bill.updated_at,
            "latest_action": {"date": bill.latest_action_date, "text": bill.latest_action_description},
            "latest_passage_date": bill.latest_passage_date or None,
            "actions": len(actions),
            "subjects": bill.subject or [],
        },
    )


def _load(page: Page) -> OpenStatesPage:
    data = load_json(page.body, page.label)
    if not isinstance(data, dict) or not isinstance(data.get("results"), list) or "pagination" not in data:
        raise ParseError(f"{page.label}: not an Open States list (no 'results' and 'pagination')")
    return read(OpenStatesPage, data, page.label)


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
        """The bills updated since the watermark, newest first, at most ``max_pages`` pages.

        Open States sorts newest first only, so when more pages remain they are owed: the watermark
        becomes ``{"since", "newest", "page"}`` and the next polls fetch from that page on (a bill
        updated meanwhile moves to the front, so none is passed over) before resuming at ``newest``."""
        headers = {"X-API-KEY": os.environ.get("OPENSTATES_API_KEY", ""), "Accept": "application/json"}
        url = f"{self.config.base_url.rstrip('/')}/bills"
        owed = state.owed()
        since = owed["since"] if owed else state.watermark
        newest = owed["newest"] if owed else since
        pages: list[Page] = []
        first = owed["page"] if owed else 1
        for n in range(first, first + self.config.max_pages):
            response = await client.get(str(httpx.URL(url, params=self.params(n, since))), headers=headers,
                                        conditional=False)
            pages.append(Page(response.url, response.body, response.content_type, f"page{n}"))
            data = _load(pages[-1])
            for i, row in enumerate(data.results):
                stamp = read(OpenStatesBill, row, f"page{n}: results[{i}]").updated_at
                if stamp and (newest is None or stamp > newest):
                    newest = stamp
            if n >= (data.pagination.max_page or 1):
                break
        else:
            if state.watermark:  # a first poll's older updates are history
                return Fetched.owing(pages, since=since, newest=newest, page=first + self.config.max_pages)
        return Fetched(pages=tuple(pages), watermark=newest)

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        records = {}
        for page in fetched.pages:
            for i, bill in enumerate(_load(page).results):
                record = bill_record(bill, f"{page.label}: results[{i}]")
                records[record.key] = record
        return list(records.values())
