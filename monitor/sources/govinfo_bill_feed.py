"""``govinfo_bill_feed``: new and updated federal bills from GovInfo's RSS feeds, no key.

Two feeds, one kind (``url`` picks the feed):

- ``https://www.govinfo.gov/rss/bills.xml``: the newest bill *versions* (100 items, one
  overnight batch on a busy day). Each item's ``guid``/``link`` names the package
  ``BILLS-<congress><type><number><version>`` (``BILLS-119hr1234ih``), its title names the bill,
  its description links the text and MODS metadata.
- ``https://www.govinfo.gov/rss/billstatus-bulkdata.xml``: the 100 most recently changed
  BILLSTATUS files (``…/BILLSTATUS/119/hr/BILLSTATUS-119hr1234.xml``). Its items carry no
  bill title, so they match watchlists by identity (pins) only.

Each bill is one item per feed, keyed by its identity (``us/119/hr/1234``), so a later version of the same
bill updates the item instead of adding one: a new bill alerts once. The version is kept as
``raw_status`` (its words, "Introduced in House", as ``status_action``) without a normalised
status: the bill's status comes from BILLSTATUS and congress.gov, which know its actions. These
are *discovery* sources: a bill that matches a watchlist with ``follow_matches`` is followed from
then on (monitor.follow).
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from monitor.durations import Duration
from monitor.fetch import PollClient
from monitor.normalise.identity import federal_identity
from monitor.normalise.meanings import BILL_VERSIONS
from monitor.sources.base import (
    BaseSource,
    FeedUrl,
    Fetched,
    FetchState,
    ItemRecord,
    SourceConfig,
    fetch_page,
)
from monitor.sources.feedparse import FeedEntry, parse_feed, plain_text

BILLS_FEED = "https://www.govinfo.gov/rss/bills.xml"
BULK = "https://www.govinfo.gov/bulkdata/BILLSTATUS"

_TYPES = "hconres|hjres|hres|hr|sconres|sjres|sres|s"
_PACKAGE = re.compile(rf"BILLS-(?P<congress>\d{{3}})(?P<type>{_TYPES})(?P<number>\d+)(?P<version>[a-z]+)\b")
_BILLSTATUS = re.compile(rf"BILLSTATUS-(?P<congress>\d{{3}})(?P<type>{_TYPES})(?P<number>\d+)\.xml")
_TEXT_LINK = re.compile(r"""<a\s[^>]*href=["']([^"']+)["'][^>]*>\s*(?:TEXT|HTML|PDF)\s*</a>""", re.IGNORECASE)
# "H.R. 1234 (IH) - Title", "H.R.1234 - Title", "S. 12 IS: Title"
_CITATION_PREFIX = re.compile(
    r"^\s*(?:H\.?\s?R\.?|S\.?|H\.?\s?J\.?\s?Res\.?|S\.?\s?J\.?\s?Res\.?|H\.?\s?Con\.?\s?Res\.?|S\.?\s?Con\.?\s?Res\.?"
    r"|H\.?\s?Res\.?|S\.?\s?Res\.?)\s*\d+\s*(?:\(?[A-Z]{2,4}\)?)?\s*[-–—:]\s*", re.IGNORECASE)
LABELS: dict[str, str] = {"hr": "H.R.", "s": "S.", "hjres": "H.J.Res.", "sjres": "S.J.Res.",
                          "hconres": "H.Con.Res.", "sconres": "S.Con.Res.", "hres": "H.Res.", "sres": "S.Res."}


def bill_label(bill_type: str, number: int | str) -> str:
    """``hr``, 1234 -> ``H.R. 1234``: how a notice names a bill."""
    return f"{LABELS[bill_type]} {int(number)}"


class GovInfoBillFeedConfig(SourceConfig):
    kind: Literal["govinfo_bill_feed"] = "govinfo_bill_feed"
    url: FeedUrl = BILLS_FEED
    # Followed bills are read from here (their BILLSTATUS files), on this schedule.
    billstatus_url: str = BULK
    follow_interval: Duration = "2h"

    def discovers(self) -> bool:
        return True


def _newer(record: ItemRecord, seen: ItemRecord | None) -> bool:
    if seen is None:
        return True
    if record.published_at is None or seen.published_at is None:
        return False
    return record.published_at > seen.published_at


class GovInfoBillFeedSource(BaseSource):
    kind: ClassVar[str] = "govinfo_bill_feed"
    Config: ClassVar[type[SourceConfig]] = GovInfoBillFeedConfig
    config: GovInfoBillFeedConfig

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        return await fetch_page(client, self.config.url)

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        records: dict[str, ItemRecord] = {}
        for entry in parse_feed(fetched.body).entries:
            record = self._record(entry)
            if record is not None and _newer(record, records.get(record.key)):
                records[record.key] = record  # a bill listed twice: its newest version (the feed is not sorted)
        return list(records.values())

    def _record(self, entry: FeedEntry) -> ItemRecord | None:
        where = f"{entry.id} {entry.link}"
        package = _PACKAGE.search(where)
        status_file = None if package else _BILLSTATUS.search(where)
        match = package or status_file
        if match is None:
            return None
        bill_type, number, congress = match.group("type"), int(match.group("number")), int(match.group("congress"))
        identity = federal_identity(congress, bill_type, number)
        label = bill_label(bill_type, number)
        title = _CITATION_PREFIX.sub("", plain_text(entry.title)) if package else ""
        text = _TEXT_LINK.search(entry.summary or entry.content or "")
        # GPO's bill text version code (the package id's suffix), in words as the action: an alert
        # says "Introduced in House" beside "IH"; a code we do not know is "bill text version XYZ".
        version = package.group("version").upper() if package else None
        return ItemRecord(
            key=f"govinfo-bill:{self.config.id}:{identity}",
            kind="bill",
            title=f"{label} — {title}" if title else label,
            url=text.group(1) if text else entry.link or None,
            identity=identity,
            jurisdiction="us",
            raw_status=version,
            status_action=BILL_VERSIONS.get(version, f"bill text version {version}") if version else None,
            published_at=entry.published,
            data={"label": label, "congress": congress, "type": bill_type, "number": number,
                  "package_id": package.group(0) if package else None,
                  "billstatus_url": entry.link if status_file else None},
        )
