"""``federal_register``: Federal Register documents for a term and agencies, newest first.

Source: ``https://www.federalregister.gov/api/v1/documents.json`` with ``conditions[term]``,
``conditions[agencies][]``, ``order=newest``, ``per_page``; no API key. Format: JSON
``{count, total_pages, next_page_url, results: [{document_number, title, type, abstract,
html_url, pdf_url, publication_date, agencies: [{name, slug, …}], …}]}``.

Incremental: once a poll has stored documents, the next asks only for
``conditions[publication_date][gte]=<newest publication date stored>`` and follows
``next_page_url`` at most ``max_pages`` times. The API answers with a one-day
``Cache-Control``; that never suppresses a poll, because our HTTP client keeps no cache that
honours it (only ETag/Last-Modified revalidation and a body hash, see ``monitor.fetch``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field

from monitor.errors import ParseError
from monitor.fetch import PollClient
from monitor.sources.base import BaseSource, Fetched, FetchState, ItemRecord, Page, SourceConfig
from monitor.sources.shape import load_json, object_list, optional, text

SITE = "https://www.federalregister.gov"
DOCUMENTS_PATH = "/api/v1/documents.json"


class FederalRegisterConfig(SourceConfig):
    kind: Literal["federal_register"] = "federal_register"
    term: str | None = None
    agencies: list[str] = Field(default_factory=list)  # slugs, e.g. homeland-security-department
    types: list[Literal["RULE", "PRORULE", "NOTICE", "PRESDOCU"]] = Field(default_factory=list)
    per_page: int = Field(default=20, ge=1, le=1000)
    max_pages: int = Field(default=3, ge=1, le=20)
    base_url: str = SITE


def _load(page: Page) -> dict[str, Any]:
    where = f"Federal Register answer from {page.url}"
    data = load_json(page.body, where)
    if not isinstance(data, dict):
        raise ParseError(f"{where} is not an object")
    if "errors" in data:
        raise ParseError(f"Federal Register rejected the query: {data['errors']}")
    if "results" not in data:  # an empty result set has no "results" key, but says count 0
        if data.get("count") != 0:
            raise ParseError(f"{where} has neither 'results' nor 'count': 0")
        data["results"] = []
    object_list(data["results"], f"{page.label}: results")
    return data


class FederalRegisterSource(BaseSource):
    kind: ClassVar[str] = "federal_register"
    Config: ClassVar[type[SourceConfig]] = FederalRegisterConfig
    provider: ClassVar[str] = "federal_register"
    config: FederalRegisterConfig

    def params(self, watermark: str | None) -> list[tuple[str, str]]:
        params = [("order", "newest"), ("per_page", str(self.config.per_page))]
        if self.config.term:
            params.append(("conditions[term]", self.config.term))
        params += [("conditions[agencies][]", a) for a in self.config.agencies]
        params += [("conditions[type][]", t) for t in self.config.types]
        if watermark:
            params.append(("conditions[publication_date][gte]", watermark))
        return params

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        url: str | None = str(httpx.URL(self.config.base_url.rstrip("/") + DOCUMENTS_PATH,
                                        params=self.params(state.watermark)))
        pages: list[Page] = []
        newest = state.watermark
        while url and len(pages) < self.config.max_pages:
            response = await client.get(url, conditional=False)
            page = Page(response.url, response.body, response.content_type, label=f"page{len(pages) + 1}")
            pages.append(page)
            data = _load(page)
            dates = [_published(r, f"{page.label}: results[{i}]").isoformat() for i, r in enumerate(data["results"])]
            if dates and (newest is None or max(dates) > newest):
                newest = max(dates)
            url = data.get("next_page_url")
        return Fetched(pages=tuple(pages), watermark=newest)

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        records: dict[str, ItemRecord] = {}
        for page in fetched.pages:
            for i, doc in enumerate(_load(page)["results"]):
                record = document_record(doc, f"{page.label}: results[{i}]")
                records.setdefault(record.key, record)
        return list(records.values())


def _published(doc: dict[str, Any], where: str) -> dt.date:
    value = text(doc, "publication_date", where)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ParseError(f"{where}: 'publication_date' {value!r} is not a date") from None


def document_record(doc: dict[str, Any], where: str = "document") -> ItemRecord:
    number, title = text(doc, "document_number", where).strip(), text(doc, "title", where)
    published = _published(doc, where)
    listed = object_list(optional(doc, "agencies", where, list) or [], f"{where}: agencies")
    agencies = [a.get("name") or a.get("raw_name") for a in listed]
    return ItemRecord(
        key=f"fr:{number}",
        kind="document",
        title=title.strip(),
        url=doc.get("html_url") or f"{SITE}/d/{number}",
        identity=f"fr/{number}",
        jurisdiction="us",
        status="published",
        raw_status=doc.get("type"),
        status_date=published,
        summary=(optional(doc, "abstract", where, str) or "").strip() or None,
        data={
            "type": doc.get("type"),
            "agencies": list(dict.fromkeys(a for a in agencies if a)),  # a department is often listed twice
            "pdf_url": doc.get("pdf_url"),
            "citation": doc.get("citation"),
        },
    )
