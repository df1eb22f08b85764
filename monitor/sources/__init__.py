"""The registry of source kinds: ``kind`` name -> class. Add a kind by adding a module and a line.

A kind's module is imported the first time the kind is looked up, so a start-up loads only the
kinds sources.yaml names (eleven kinds' models and parsers cost a quarter of a second to import).
"""

from __future__ import annotations

from monitor.registry import KindRegistry
from monitor.sources.base import BaseSource, Fetched, FetchState, ItemRecord, Page, Source, SourceConfig

SOURCE_KINDS: KindRegistry[type[BaseSource]] = KindRegistry({
    "rss": "monitor.sources.rss:RssSource",
    "congress_bill": "monitor.sources.congress_bill:CongressBillSource",
    "congress_recent": "monitor.sources.congress_recent:CongressRecentSource",
    "govinfo_billstatus": "monitor.sources.govinfo_billstatus:GovInfoBillStatusSource",
    "govinfo_bill_feed": "monitor.sources.govinfo_bill_feed:GovInfoBillFeedSource",
    "govinfo_courts": "monitor.sources.govinfo_courts:GovInfoCourtsSource",
    "openstates": "monitor.sources.openstates:OpenStatesSource",
    "legiscan": "monitor.sources.legiscan:LegiScanSource",
    "pacer_rss": "monitor.sources.pacer_rss:PacerRssSource",
    "courtlistener_search": "monitor.sources.courtlistener_search:CourtListenerSearchSource",
    "courtlistener_docket": "monitor.sources.courtlistener_docket:CourtListenerDocketSource",
    "federal_register": "monitor.sources.federal_register:FederalRegisterSource",
    "html": "monitor.sources.html:HtmlSource",
})

__all__ = ["SOURCE_KINDS", "BaseSource", "Fetched", "FetchState", "ItemRecord", "KindRegistry", "Page", "Source",
           "SourceConfig"]
