"""What ``congress_bill`` and ``govinfo_billstatus`` share: the named-bills config and the item.

Both describe the same federal bills from the same actions (monitor.normalise.federal), so they
give one bill the same identity, title, link and status.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from monitor.normalise.actiontext import FULL_HISTORY
from monitor.normalise.federal import congress_gov_url, display_title
from monitor.normalise.identity import federal_identity, parse_federal_bill
from monitor.normalise.ladder import Derived
from monitor.sources.base import ItemRecord, SourceConfig


class FederalBillsConfig(SourceConfig):
    """Named bills of one Congress: the part of the config congress_bill and govinfo_billstatus share."""

    congress: int = Field(ge=93)
    bills: list[str] = Field(min_length=1)  # "S. 3470", "hr6091"

    @field_validator("bills")
    @classmethod
    def _bills(cls, value: list[str]) -> list[str]:
        for bill in value:
            parse_federal_bill(bill)
        return value


def federal_record(kind: str, bill: dict[str, Any], derived: Derived, data: dict[str, Any]) -> ItemRecord:
    """One federal bill as an item; ``bill`` has congress, type, number, title and latest_action."""
    congress, bill_type, number = int(bill["congress"]), str(bill["type"]).lower(), int(bill["number"])
    return ItemRecord(
        key=f"{kind}:{congress}:{bill_type}:{number}",
        kind="bill",
        title=display_title(bill_type, number, bill.get("title") or ""),
        url=congress_gov_url(congress, bill_type, number),
        identity=federal_identity(congress, bill_type, number),
        jurisdiction="us",
        status=derived.status,
        raw_status=derived.raw_status,
        status_action=derived.action,
        status_date=derived.date,
        summary=bill["latest_action"]["text"],
        data={**data, "status_basis": FULL_HISTORY},
    )
