"""``govinfo_billstatus``: named federal bills through GovInfo's BILLSTATUS bulk XML.

Source: ``{base_url}/{congress}/{type}/BILLSTATUS-{congress}{type}{number}.xml``, static files
refreshed every 4 hours for the current Congress. No key, no published quota; a poll spends
one conditional GET per bill, and a bill whose file did not change is left out of the poll.
Format: two schemas, both read here. The legacy one (before the 2022 change; still in old
files) has ``<billNumber>``/``<billType>``, committees under ``<billCommittees>``, and
``<actionByCounts>`` beside the action items; the current one (``<version>3.0.0</version>``)
has ``<number>``/``<type>``. Status comes from the actions through the same state machine as
congress.gov's (monitor.normalise.federal), so both views of a bill agree.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from xml.etree import ElementTree as ET

from pydantic import Field

from monitor.errors import AuthError, FetchError, MonitorError, ParseError
from monitor.fetch import PollClient
from monitor.normalise.federal import FederalAction, derive
from monitor.normalise.identity import parse_federal_bill
from monitor.sources.base import BaseSource, Fetched, FetchState, ItemRecord, Page, SourceConfig, fetched_despite
from monitor.sources.federal_bills import FederalBillsConfig, federal_record

BULK = "https://www.govinfo.gov/bulkdata/BILLSTATUS"


class BillStatusConfig(FederalBillsConfig):
    kind: Literal["govinfo_billstatus"] = "govinfo_billstatus"
    congress: int = Field(ge=108)  # BILLSTATUS coverage starts with the 108th Congress
    base_url: str = BULK

    def requests_per_poll(self) -> int:
        return len(self.bills)


def _text(node: ET.Element | None, *paths: str) -> str | None:
    for path in paths:
        value = node.findtext(path) if node is not None else None
        if value is not None and value.strip():
            return value.strip()
    return None


def parse_billstatus(body: bytes) -> dict[str, Any]:
    """One BILLSTATUS document (either schema) → the fields the item needs, and its actions."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ParseError(f"not BILLSTATUS XML: {exc}") from None
    bill = root.find("bill")
    if root.tag != "billStatus" or bill is None:
        raise ParseError(f"not BILLSTATUS XML: root <{root.tag}> without <bill>")
    number, kind, congress = (_text(bill, "number", "billNumber"), _text(bill, "type", "billType"),
                              _text(bill, "congress"))
    if not (number and kind and congress):
        raise ParseError("BILLSTATUS without number, type or congress")
    actions = [
        FederalAction(_text(item, "actionDate") or "", _text(item, "text") or "", _text(item, "actionCode"),
                      _text(item, "type"), _text(item, "actionTime"), item.find("committees/item") is not None)
        for item in bill.findall("actions/item") if _text(item, "actionDate")
    ]
    committees = bill.find("committees/billCommittees")
    committees = committees if committees is not None else bill.find("committees")
    latest = bill.find("latestAction")
    return {
        "congress": int(congress), "type": kind.lower(), "number": int(number), "title": _text(bill, "title") or "",
        "introduced": _text(bill, "introducedDate"), "update_date": _text(bill, "updateDate"),
        "actions": actions,
        "sponsors": [s for s in (_text(i, "fullName") for i in bill.findall("sponsors/item")) if s],
        "cosponsors": len(bill.findall("cosponsors/item")),
        "committees": sorted({n for n in (_text(i, "name")
                                          for i in (committees.findall("item") if committees is not None else []))
                              if n}),
        "policy_area": _text(bill, "policyArea/name"),
        "latest_action": {"date": _text(latest, "actionDate"), "text": _text(latest, "text")},
        "laws": [n for n in (_text(i, "number") for i in bill.findall("laws/item")) if n],
        "format": "current" if bill.find("number") is not None else "legacy",
    }


class GovInfoBillStatusSource(BaseSource):
    kind: ClassVar[str] = "govinfo_billstatus"
    Config: ClassVar[type[SourceConfig]] = BillStatusConfig
    config: BillStatusConfig  # bulk files on www.govinfo.gov: no key, so not the api.data.gov quota

    def url(self, bill: str) -> str:
        kind, number = parse_federal_bill(bill)
        c = self.config.congress
        return f"{self.config.base_url.rstrip('/')}/{c}/{kind}/BILLSTATUS-{c}{kind}{number}.xml"

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        """Each bill's file; one that fails (not published yet, say) does not hold back the others."""
        pages: list[Page] = []
        missed: list[tuple[str, MonitorError]] = []
        for bill in self.config.bills:
            kind, number = parse_federal_bill(bill)
            known = set(client.updated)
            try:
                response = await client.get(self.url(bill))
                if not response.unchanged:
                    parse_billstatus(response.body)  # a broken file fails its bill, not the others
            except AuthError:  # the key, not the bill: every other bill would be refused alike
                raise
            except FetchError as exc:
                missed.append((f"{kind}{number}", exc))
                continue
            except ParseError as exc:
                client.forget(set(client.updated) - known)
                missed.append((f"{kind}{number}", ParseError(f"{exc} ({response.url})")))
                continue
            if not response.unchanged:
                pages.append(Page(response.url, response.body, response.content_type, f"{kind}{number}"))
        return fetched_despite(pages, missed, len(self.config.bills))

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        records = []
        for page in fetched.pages:
            try:
                records.append(self.record(parse_billstatus(page.body)))
            except ParseError as exc:  # name the bill: a source may follow many
                raise ParseError(f"{page.label}: {exc} ({page.url})") from None
        return records

    def record(self, bill: dict[str, Any]) -> ItemRecord:
        data = {k: v for k, v in bill.items() if k != "title"}
        data["actions"] = len(bill["actions"])
        return federal_record(self.kind, bill, derive(bill["actions"]), data)
