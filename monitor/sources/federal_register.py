"""``federal_register``: Federal Register documents for a term and agencies, newest first.

Source: ``https://www.federalregister.gov/api/v1/documents.json`` with ``conditions[term]``,
``conditions[agencies][]``, ``order=newest``, ``per_page``; no API key. Format: JSON
``{count, total_pages, next_page_url, results: [{document_number, title, type, abstract,
html_url, pdf_url, publication_date, agencies: [{name, slug, …}], …}]}``.

Incremental: once a poll has stored documents, the next asks only for
``conditions[publication_date][gte]=<newest publication date stored>`` and follows
``next_page_url`` at most ``max_pages`` times; the pages a poll could not reach are owed and
fetched by the next polls first. The API answers with a one-day
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
from monitor.sources.payload import Payload, Text, load_json, read

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

    def requests_per_poll(self) -> int:
        return self.max_pages


class Agency(Payload):
    name: str | None = None
    raw_name: str | None = None


class Document(Payload):
    """One ``results[]`` entry of ``/api/v1/documents.json``, the fields read here."""

    document_number: Text
    title: Text
    publication_date: Text
    type: str | None = None
    abstract: str | None = None
    html_url: str | None = None
    pdf_url: str | None = None
    citation: str | None = None
    agencies: list[Agency] | None = None


class DocumentsPage(Payload):
    results: list[dict[str, Any]]
    next_page_url: str | None = None


def _load(page: Page) -> DocumentsPage:
    where = f"Federal Register answer from {page.url}"
    data = load_json(page.body, where)
    if not isinstance(data, dict):
        raise ParseError(f"{where} is not an object")
    if "errors" in data:
        raise ParseError(f"Federal Register rejected the query: {data['errors']}")
    if "results" not in data:  # an empty result set has no "results" key, but says count 0
        if data.get("count") != 0:
            raise ParseError(f"{where} has neither 'results' nor 'count': 0")
        data = {**data, "results": []}
    return read(DocumentsPage, data, page.label)


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
        """The documents published since the watermark's date, newest first, at most ``max_pages``.

        When more pages remain they are owed: the watermark becomes ``{"since", "newest", "next"}``
        and the next polls go on from that page (a document published meanwhile comes first, so
        none is passed over) before resuming at ``newest``."""
        owed = state.owed()
        since = owed["since"] if owed else state.watermark
        url: str | None = owed["next"] if owed else str(httpx.URL(
            self.config.base_url.rstrip("/") + DOCUMENTS_PATH, params=self.params(since)))
        pages: list[Page] = []
        newest = owed["newest"] if owed else since
        while url and len(pages) < self.config.max_pages:
            response = await client.get(url, conditional=False)
            page = Page(response.url, response.body, response.content_type, label=f"page{len(pages) + 1}")
            pages.append(page)
            data = _load(page)
            dates = [_published(read(Document, r, f"{page.label}: results[{i}]"),
                                f"{page.label}: results[{i}]").isoformat()
                     for i, r in enumerate(data.results)]
            if dates and (newest is None or max(dates) > newest):
                newest = max(dates)
            url = data.next_page_url
        if url and state.watermark:  # a first poll's older documents are history
            return Fetched.owing(pages, since=since, newest=newest, next=url)
        return Fetched(pages=tuple(pages), watermark=newest)

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        records: dict[str, ItemRecord] = {}
        for page in fetched.pages:
            for i, doc in enumerate(_load(page).results):
                record = document_record(doc, f"{page.label}: results[{i}]")
                records.setdefault(record.key, record)
        return list(records.values())


def _published(doc: Document, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(doc.publication_date)
    except ValueError:
        raise ParseError(f"{where}: 'publication_date' {doc.publication_date!r} is not a date") from None


def document_record(row: dict[str, Any], where: str = "document") -> ItemRecord:
    doc = read(Document, row, where)
    number = doc.document_number.strip()
    agencies = [a.name or a.raw_name for a in doc.agencies or []]
    return ItemRecord(
        key=f"fr:{number}",
        kind="document",
        title=doc.title.strip(),
        url=doc.html_url or f"{SITE}/d/{number}",
        identity=f"fr/{number}",
        jurisdiction="us",
        status="published",
        raw_status=doc.type,
        status_date=_published(doc, where),
        summary=(doc.abstract or "").strip() or None,
        data={
            "type": doc.type,
            "agencies": list(dict.fromkeys(a for a in agencies if a)),  # a department is often listed twice
            "pdf_url": doc.pdf_url,
            "citation": doc.citation,
        },
    )
