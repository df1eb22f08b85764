"""``records``: a test-only source kind whose feed is a JSON list of already-normalised items.

The real bill and docket kinds (congress, openstates, courtlistener) live in their own modules;
watchlist behaviour (pins, status moves, muted entries) only needs items with an identity and a
status, served over real HTTP by HttpServer and run through the real pipeline.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import ClassVar, Literal

from monitor.fetch import PollClient
from monitor.sources.base import (
    BaseSource,
    Fetched,
    FetchState,
    ItemRecord,
    SourceConfig,
    fetch_page,
)


class RecordsConfig(SourceConfig):
    kind: Literal["records"] = "records"
    url: str


class RecordsSource(BaseSource):
    kind: ClassVar[str] = "records"
    Config: ClassVar[type[SourceConfig]] = RecordsConfig
    config: RecordsConfig

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        return await fetch_page(client, self.config.url)

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        records = []
        for entry in json.loads(fetched.body):
            if entry.get("status_date"):
                entry["status_date"] = dt.date.fromisoformat(entry["status_date"])
            records.append(ItemRecord(**entry))
        return records
