"""federal_register polled end to end against a local server speaking the documents.json format."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from sqlalchemy import select

from monitor.models import Item, Source
from tests.fakes.http_server import HttpServer, Reply, Request
from tests.test_pipeline import poll

EXAMPLES = Path(__file__).parent / "examples" / "federal_register"
DOCS = "/api/v1/documents.json"
ONE_DAY = {"Cache-Control": "public, max-age=86400"}


def document(number: str, title: str, published: str) -> dict[str, Any]:
    template = json.loads((EXAMPLES / "dhs_documents.json").read_text())["results"][1]
    doc = copy.deepcopy(template)
    doc.update(document_number=number, title=title, publication_date=published,
               html_url=f"https://www.federalregister.gov/d/{number}")
    return doc


def page(docs: list[dict[str, Any]], next_url: str | None = None, total_pages: int = 1) -> str:
    body: dict[str, Any] = {"count": len(docs), "description": "Documents matching 'ICE'",
                            "total_pages": total_pages, "next_page_url": next_url, "results": docs}
    if not docs:
        del body["results"]  # the API leaves the key out when nothing matches
    return json.dumps(body)


def write_config(tmp_path: Path, feeds: HttpServer) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - id: fr-dhs\n    kind: federal_register\n    term: immigration enforcement\n"
                    "    agencies: [homeland-security-department]\n    max_pages: 2\n"
                    f"    base_url: {feeds.base}\n")
    return path


def test_pages_then_incremental_by_publication_date_despite_a_one_day_cache(db, feeds, tmp_path):
    config = write_config(tmp_path, feeds)
    page2 = feeds.url(DOCS + "?page=2")
    page3 = feeds.url(DOCS + "?page=3")
    feeds.set(DOCS, page([document("2026-01544", "Privacy Act of 1974", "2026-01-27")], page2, 3),
              headers=ONE_DAY, content_type="application/json")
    feeds.set(DOCS + "?page=2", page([document("2026-00981", "Detention Standards", "2026-01-16")], page3, 3),
              headers=ONE_DAY, content_type="application/json")
    first = poll(db, config).polls[0]
    assert (first.new, first.requests) == (2, 2)  # max_pages: page 3 is never asked for
    query = unquote_plus(feeds.requests[0].path)
    for part in ("order=newest", "conditions[term]=immigration enforcement",
                 "conditions[agencies][]=homeland-security-department"):
        assert part in query
    assert "publication_date" not in query
    with db.session() as s:
        assert s.get(Source, "fr-dhs").watermark == "2026-01-27"
        item = s.scalars(select(Item).where(Item.key == "fr:2026-01544")).one()
        assert (item.identity, item.kind, item.status) == ("fr/2026-01544", "document", "published")

    # The same answer is cached "for a day" by the server's headers; the next poll still asks, from the watermark.
    feeds.set(DOCS, page([document("2026-02001", "New ICE Notice", "2026-01-28"),
                          document("2026-01544", "Privacy Act of 1974", "2026-01-27")]),
              headers=ONE_DAY, content_type="application/json")
    second = poll(db, config).polls[0]
    assert second.new == 1
    assert "conditions[publication_date][gte]=2026-01-27" in unquote_plus(feeds.requests[-1].path)
    assert feeds.counts[DOCS] == 3


def test_an_empty_answer_has_no_results_key_and_is_not_an_error(db, feeds, tmp_path):
    feeds.set(DOCS, page([]), content_type="application/json")
    result = poll(db, write_config(tmp_path, feeds)).polls[0]
    assert (result.outcome, result.seen) == ("unchanged", 0)


def test_429_and_garbage_fail_the_poll(db, feeds, tmp_path):
    config = write_config(tmp_path, feeds)
    feeds.set(DOCS, "<html>maintenance</html>", content_type="text/html")
    result = poll(db, config).polls[0]
    assert result.outcome == "failed" and result.error.startswith("parse:")
    feeds.set(DOCS, "Too Many Requests", status=429, headers={"Retry-After": "600"}, content_type="text/plain")
    result = poll(db, config).polls[0]
    assert result.outcome == "deferred" and "429" in result.error  # deferred until Retry-After
    asked = feeds.counts[DOCS]
    result = poll(db, config).polls[0]  # a new run remembers the wait: nothing is sent
    assert result.outcome == "deferred" and feeds.counts[DOCS] == asked


def test_documents_beyond_max_pages_are_fetched_by_the_next_polls(db, feeds, tmp_path):
    """More documents were published since the last poll than max_pages holds: the pages a poll
    did not reach are fetched by the next polls, not skipped because the watermark moved on."""
    published = [document("2026-01544", "Privacy Act of 1974", "2026-01-27")]

    def answer(request: Request) -> Reply:
        """documents.json: published on or after the gte date, newest first, numbered pages of one."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        docs = sorted((d for d in published if d["publication_date"] >= query.get(
            "conditions[publication_date][gte]", "")), key=lambda d: d["publication_date"], reverse=True)
        n = int(query.get("page", 1))
        following = feeds.url(f"{DOCS}?{urlencode(query | {'page': n + 1})}") if n < len(docs) else None
        return Reply(200, page(docs[n - 1:n], following, len(docs)), {"Content-Type": "application/json"})

    feeds.route(DOCS, answer)
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - id: fr-dhs\n    kind: federal_register\n    term: ICE\n    per_page: 1\n"
                      f"    max_pages: 1\n    base_url: {feeds.base}\n")
    poll(db, config)
    published += [document(f"2026-0200{n}", f"ICE notice {n}", f"2026-01-2{n}") for n in (8, 9)]
    for _ in range(3):  # three pages since Jan 27 (that day's document again), one a poll
        poll(db, config)
    with db.session() as s:
        assert set(s.scalars(select(Item.key))) == {"fr:2026-01544", "fr:2026-02008", "fr:2026-02009"}
    poll(db, config)  # caught up: from the newest date seen
    assert "conditions[publication_date][gte]=2026-01-29" in unquote_plus(feeds.requests[-1].path)
    assert "&page=" not in feeds.requests[-1].path
