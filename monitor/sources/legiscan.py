"""``legiscan``: state bills through the LegiScan API, fetching a bill only when it changed.

Source: ``{base_url}?key=…&op=getMasterListRaw&state=XX`` (or ``&id=<session_id>``) for named
bills, ``op=getSearchRaw&state=XX&query=…`` for a search; both list ``bill_id`` and
``change_hash``. Then ``op=getBill&id=…`` ONLY for bills whose ``change_hash`` differs from
the one stored (LegiScan's own rule for staying inside the quota). The hashes live in the
source's watermark (JSON ``{bill_id: change_hash}``), which is stored only when the poll
commits, so a failed poll re-fetches rather than forgets.
Auth: LegiScan takes the key only in the query string (``key=``, from ``LEGISCAN_API_KEY``).
Every URL kept on a page goes through ``public_url``, which masks it, and fetch errors do
the same. Limit: 30,000 queries a month on the public tier.
Format: JSON with ``{"status": "OK", …}``; a failure is HTTP 200 with
``{"status": "ERROR", "alert": {"message": …}}``. A bill is ``{"bill": {…}}`` with
``progress[]`` (events 1–12) and ``status`` (0–6), mapped by the crosswalk tables.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from monitor.errors import AuthError, FetchError, ParseError
from monitor.fetch import PollClient
from monitor.normalise.actiontext import FULL_HISTORY, text_step
from monitor.normalise.crosswalks import LEGISCAN_ADOPTED, LEGISCAN_PASSED, LEGISCAN_PROGRESS, LEGISCAN_STATUS, Step
from monitor.normalise.identity import split_bill_number, state_identity
from monitor.normalise.ladder import Action, climb
from monitor.redact import public_url
from monitor.sources.base import BaseSource, Fetched, FetchState, ItemRecord, Page, SourceConfig
from monitor.sources.payload import Payload, Text, Whole, load_json, read

API = "https://api.legiscan.com/"


class LegiScanConfig(SourceConfig):
    kind: Literal["legiscan"] = "legiscan"
    state: str = Field(pattern=r"^[A-Za-z]{2}$")
    bills: list[str] = Field(default_factory=list)  # "HB1312", "SB 747"
    query: str | None = Field(default=None, validate_default=True)
    session_id: int | None = None
    base_url: str = API
    max_bills: int = Field(default=25, ge=1, le=500)  # getBill calls per poll at most

    @field_validator("bills")
    @classmethod
    def _bills(cls, value: list[str]) -> list[str]:
        for bill in value:
            try:
                split_bill_number(bill)
            except ParseError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("query")
    @classmethod
    def _query(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value and not info.data.get("bills"):
            raise ValueError("give 'bills' (numbers to follow) or 'query' (a LegiScan search)")
        return value

    def discovers(self) -> bool:
        return bool(self.query) and not self.bills

    def requests_per_poll(self) -> int:
        return 1 + (len(self.bills) if self.bills else self.max_bills)  # the list, then getBill per changed bill


def _envelope(body: bytes, what: str) -> dict[str, Any]:
    data = load_json(body, what)
    if not isinstance(data, dict):
        raise ParseError(f"{what}: not a LegiScan object")
    if data.get("status", "OK") != "OK":
        alert = data.get("alert")
        message = str((alert.get("message") if isinstance(alert, dict) else alert) or "no message")
        if "key" in message.lower():
            raise AuthError(f"LegiScan {what}: {message}")
        raise FetchError(f"LegiScan {what}: {message}", retryable=False)
    return data


class ListedRow(Payload):
    """A getMasterListRaw / getSearchRaw row."""

    bill_id: Whole
    change_hash: Text
    number: str | None = None


class ProgressEvent(Payload):
    date: Text
    event: Whole


class HistoryStep(Payload):
    date: str | None = None
    action: str | None = None
    importance: int | None = None


class Session(Payload):
    session_name: str | None = None
    year_start: int | None = None


class Committee(Payload):
    name: str | None = None


class Sponsor(Payload):
    name: str | None = None


class LegiScanBill(Payload):
    """getBill's ``bill`` (the same object as a weekly dataset's), the fields read here."""

    bill_id: Whole
    bill_number: Text
    state: Text
    bill_type: str | None = None  # "B" a bill, "R" a resolution, "CR" a concurrent one…
    change_hash: str | None = None
    title: str | None = None
    description: str | None = None
    url: str | None = None
    state_link: str | None = None
    status: int | None = None
    status_date: str | None = None
    session: Session | None = None
    committee: Committee | list[Committee] | None = None  # ``[]`` when no committee holds the bill
    progress: list[ProgressEvent] | None = None
    history: list[HistoryStep] | None = None
    sponsors: list[Sponsor] | None = None


def listed_hashes(data: dict[str, Any]) -> list[ListedRow]:
    """The ``{bill_id, number?, change_hash}`` rows of a getMasterListRaw or getSearchRaw answer."""
    if isinstance(data.get("masterlist"), dict):
        rows = [row for key, row in data["masterlist"].items() if key != "session"]
    elif isinstance(data.get("searchresult"), dict):
        result = data["searchresult"]
        rows = result["results"] if isinstance(result.get("results"), list) else \
            [row for key, row in result.items() if key != "summary"]
    else:
        raise ParseError("LegiScan list: neither a 'masterlist' nor a 'searchresult' object")
    return [read(ListedRow, row, f"list: rows[{i}]") for i, row in enumerate(rows)]


def _step(bill: LegiScanBill, code: int, table: dict[int, Step]) -> Step | None:
    """What a status code or progress event proves for this bill: "Passed" adopts a resolution."""
    if code == LEGISCAN_PASSED and bill.bill_type in LEGISCAN_ADOPTED:
        return LEGISCAN_ADOPTED[bill.bill_type]
    return table.get(code)


def _progress(bill: LegiScanBill, where: str) -> list[tuple[Action, Step | None]]:
    events = []
    for i, step in enumerate(bill.progress or []):
        try:
            day = dt.date.fromisoformat(step.date)
        except ValueError:
            raise ParseError(f"{where}: progress[{i}]: 'date' {step.date!r} is not a date") from None
        action = Action(day, "", f"progress:{step.event}", order=(i,))
        events.append((action, _step(bill, step.event, LEGISCAN_PROGRESS)))
    return events


def _status_code(bill: LegiScanBill) -> list[tuple[Action, Step | None]]:
    """LegiScan's own status code on its date, for a bill it lists no progress events for yet."""
    try:
        day = dt.date.fromisoformat(bill.status_date or "")
    except ValueError:
        return []
    step = _step(bill, bill.status, LEGISCAN_STATUS) if bill.status is not None else None
    return [(Action(day, "", f"status:{bill.status}"), step)] if step else []


def _proves(text: str | None, status: str | None) -> bool:
    """Whether a history line's words prove ``status`` (a chamber's passage proves either passage rung)."""
    step = text_step(text)
    if step is None or status is None:
        return False
    return step.status == status or (step.passage and status in ("passed_one_chamber", "passed_both"))


def bill_record(row: dict[str, Any], where: str = "bill") -> ItemRecord:
    bill = read(LegiScanBill, row, where)
    state = bill.state.lower()
    session = bill.session or Session()
    derived = climb(_progress(bill, where) or _status_code(bill))
    history = bill.history or []
    on_day = [h for h in history if derived.date and h.date == derived.date.isoformat()]
    # The history line that set the status: the last of the day whose words prove it ("PASSED
    # Y24 N16"), else the last LegiScan marks important ("TRANSMITTED TO (S)").
    candidates = ([h for h in on_day if _proves(h.action, derived.status)]
                  or [h for h in on_day if h.importance == 1] or on_day)
    setter = candidates[-1] if candidates else None
    latest = history[-1] if history else HistoryStep()
    committee = bill.committee if isinstance(bill.committee, Committee) else None
    return ItemRecord(
        key=f"legiscan:{bill.bill_id}",
        kind="bill",
        title=f"{bill.bill_number}: {bill.title or bill.description or ''}".strip(),
        url=bill.url or bill.state_link,
        identity=state_identity(state, f"{session.session_name or ''} {session.year_start or ''}", bill.bill_number),
        jurisdiction=state,
        status=derived.status,
        raw_status=derived.raw_status,
        status_action=setter.action if setter else None,
        status_date=derived.date,
        summary=bill.description or None,
        data={
            "bill_id": bill.bill_id, "change_hash": bill.change_hash, "status_basis": FULL_HISTORY,
            "label": re.sub(r"^([A-Za-z]+)\s*", r"\1 ", bill.bill_number),  # HB777 -> HB 777, as notices name it
            "session": session.session_name, "status": bill.status, "status_date": bill.status_date,
            "committee": committee.name if committee else None,
            "sponsors": [s.name for s in bill.sponsors or []],
            "latest_action": {"date": latest.date, "text": latest.action},
            "state_link": bill.state_link,
        },
    )


class LegiScanSource(BaseSource):
    kind: ClassVar[str] = "legiscan"
    Config: ClassVar[type[SourceConfig]] = LegiScanConfig
    provider: ClassVar[str] = "legiscan"
    required_env: ClassVar[tuple[str, ...]] = ("LEGISCAN_API_KEY",)
    config: LegiScanConfig

    async def _get(self, client: PollClient, what: str, **params: Any) -> tuple[Page, dict[str, Any]]:
        query = {"key": os.environ.get("LEGISCAN_API_KEY", ""), **params}
        response = await client.get(self.config.base_url, params=query, conditional=False)
        return (Page(public_url(response.url), response.body, response.content_type, what),
                _envelope(response.body, what))

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        c = self.config
        if c.bills:
            where = {"id": c.session_id} if c.session_id else {"state": c.state.upper()}
            listing, data = await self._get(client, "list", op="getMasterListRaw", **where)
            wanted = {split_bill_number(b) for b in c.bills}
            rows = [r for r in listed_hashes(data) if r.number and split_bill_number(r.number) in wanted]
        else:
            listing, data = await self._get(client, "list", op="getSearchRaw", state=c.state.upper(), query=c.query)
            rows = listed_hashes(data)
        known: dict[str, str] = json.loads(state.watermark) if state.watermark else {}
        changed = [r for r in rows if known.get(str(r.bill_id)) != r.change_hash][: c.max_bills]
        if not changed:
            return Fetched(unchanged=True)
        if not c.bills and state.watermark is None:
            # A search's first poll is its baseline: the best matches are fetched, the rest only
            # remembered, so an old bill fetched on a later poll never comes as "new".
            known = {str(r.bill_id): r.change_hash for r in rows}
        pages = [listing]
        for row in changed:
            page, _ = await self._get(client, f"bill{row.bill_id}", op="getBill", id=row.bill_id)
            pages.append(page)
            known[str(row.bill_id)] = row.change_hash
        return Fetched(pages=tuple(pages), watermark=json.dumps(known, sort_keys=True, separators=(",", ":")))

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        records = []
        for page in fetched.pages:
            if page.label == "list":
                continue
            data = _envelope(page.body, page.label or "bill")
            if not isinstance(data.get("bill"), dict):
                raise ParseError(f"{page.label}: no 'bill' object")
            records.append(bill_record(data["bill"], f"{page.label}: bill"))
        return records
