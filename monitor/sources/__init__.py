"""The registry of source kinds: ``kind`` name -> class. Add a kind by adding a module and a line."""

from __future__ import annotations

from monitor.sources.base import (
    BaseSource,
    Fetched,
    FetchState,
    ItemRecord,
    Page,
    Source,
    SourceConfig,
)
from monitor.sources.congress_bill import CongressBillSource
from monitor.sources.congress_recent import CongressRecentSource
from monitor.sources.courtlistener_docket import CourtListenerDocketSource
from monitor.sources.courtlistener_search import CourtListenerSearchSource
from monitor.sources.federal_register import FederalRegisterSource
from monitor.sources.govinfo_bill_feed import GovInfoBillFeedSource
from monitor.sources.govinfo_billstatus import GovInfoBillStatusSource
from monitor.sources.govinfo_courts import GovInfoCourtsSource
from monitor.sources.html import HtmlSource
from monitor.sources.legiscan import LegiScanSource
from monitor.sources.openstates import OpenStatesSource
from monitor.sources.pacer_rss import PacerRssSource
from monitor.sources.rss import RssSource

SOURCE_KINDS: dict[str, type[Source]] = {
    "rss": RssSource,
    "congress_bill": CongressBillSource,
    "congress_recent": CongressRecentSource,
    "govinfo_billstatus": GovInfoBillStatusSource,
    "govinfo_bill_feed": GovInfoBillFeedSource,
    "govinfo_courts": GovInfoCourtsSource,
    "openstates": OpenStatesSource,
    "legiscan": LegiScanSource,
    "pacer_rss": PacerRssSource,
    "courtlistener_search": CourtListenerSearchSource,
    "courtlistener_docket": CourtListenerDocketSource,
    "federal_register": FederalRegisterSource,
    "html": HtmlSource,
}

__all__ = ["SOURCE_KINDS", "BaseSource", "FetchState", "Fetched", "ItemRecord", "Page", "Source", "SourceConfig"]
