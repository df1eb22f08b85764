"""The registry of source kinds: ``kind`` name -> class. Add a kind by adding a module and a line.

A kind's module is imported the first time the kind is looked up, so a start-up loads only the
kinds sources.yaml names (eleven kinds' models and parsers cost a quarter of a second to import).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

from monitor.sources.base import BaseSource, Fetched, FetchState, ItemRecord, Page, Source, SourceConfig


class KindRegistry(MutableMapping[str, type[BaseSource]]):
    """``kind`` -> class, each class imported from its ``module:Class`` path on first use."""

    def __init__(self, paths: dict[str, str]) -> None:
        self._paths = dict(paths)
        self._loaded: dict[str, type[BaseSource]] = {}

    def __getitem__(self, kind: str) -> type[BaseSource]:
        if kind not in self._loaded:
            module, _, name = self._paths[kind].partition(":")
            self._loaded[kind] = getattr(importlib.import_module(module), name)
        return self._loaded[kind]

    def __setitem__(self, kind: str, cls: type[BaseSource]) -> None:
        self._paths[kind] = f"{cls.__module__}:{cls.__qualname__}"
        self._loaded[kind] = cls

    def __delitem__(self, kind: str) -> None:
        del self._paths[kind]
        self._loaded.pop(kind, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


SOURCE_KINDS = KindRegistry({
    "rss": "monitor.sources.rss:RssSource",
    "congress_bill": "monitor.sources.congress_bill:CongressBillSource",
    "congress_recent": "monitor.sources.congress_recent:CongressRecentSource",
    "govinfo_billstatus": "monitor.sources.govinfo_billstatus:GovInfoBillStatusSource",
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
