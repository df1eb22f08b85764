"""What the CourtListener kinds and webhooks share: the token header and the record builders.

One opinion cluster, docket or docket entry gets the same key whichever way it reached us (a
search poll, a followed docket, a pushed alert), so the views of one case are one item:
``cl:cluster:<cluster_id>``, ``cl:docket:<docket_id>``, ``cl:docket:<docket_id>:entry:<n>``.
A case's identity is ``<court_id>/<docket number>``.

Quirks (see realdata/courtlistener/api_docs_templates/migration-guide.html):
- v3 shapes (webhook version 1) carry datetimes in PST where v4 has dates; only the date is kept.
- v3 precedential statuses were renamed in v4 (``Precedential`` -> ``Published``); both map
  to the v4 name so a v1 and a v2 webhook for one opinion store the same item.
- docket fields are camelCase in search results and snake_case in the docket API.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from typing import Any

from monitor.errors import ParseError
from monitor.normalise.casenames import case_name as court_case_name
from monitor.normalise.identity import canonical_identity
from monitor.sources.base import ItemRecord
from monitor.sources.feedparse import plain_text
from monitor.sources.payload import Payload, Text, Whole, read
from monitor.text import cut

SITE = "https://www.courtlistener.com"
TOKEN_ENV = "COURTLISTENER_TOKEN"
# An entry of CourtListener's Atom feeds, whichever feed lists it, is keyed ``FEED_KEY`` + its link
# (monitor.sources.rss). One opinion cluster reaches us as a search result or webhook
# (``cl:cluster:<id>``) and as such an entry, whose link is the cluster's page (``/opinion/<id>/<slug>/``).
FEED_KEY = "rss:courtlistener:"
_CLUSTER_KEY = re.compile(rf"^(?:cl:cluster:|{re.escape(FEED_KEY + SITE)}/opinion/)(\d+)(?:/|$)")


def cluster_of(key: str) -> str | None:
    """The CourtListener opinion cluster an item's key names, whichever way it reached us."""
    match = _CLUSTER_KEY.match(key)
    return match.group(1) if match else None


def cluster_keys(cluster: str) -> tuple[str, str]:
    """The key a search result of ``cluster`` has, and a LIKE pattern of its feed entries' keys."""
    return f"cl:cluster:{cluster}", f"{FEED_KEY}{SITE}/opinion/{cluster}/%"

# v3 -> v4 precedential status names (migration guide, "Changed field values").
PRECEDENTIAL_V4: dict[str, str] = {
    "precedential": "Published",
    "non-precedential": "Unpublished",
    "errata": "Errata",
    "separate opinion": "Separate",
    "in-chambers": "In-chambers",
    "relating-to orders": "Relating-to",
    "unknown status": "Unknown",
}

# A docket's status from its dates: the first rule whose date is set wins (order matters:
# a terminated case that once had cert denied is terminated).
DOCKET_STATUS_RULES: tuple[tuple[str, str], ...] = (
    ("date_terminated", "terminated"),
    ("date_cert_denied", "cert_denied"),
    ("date_cert_granted", "cert_granted"),
)

# Search results spell docket fields in camelCase; the docket API in snake_case.
CAMEL_TO_SNAKE: dict[str, str] = {
    "caseName": "case_name", "docketNumber": "docket_number", "dateFiled": "date_filed",
    "dateTerminated": "date_terminated", "docket_absolute_url": "absolute_url",
    "suitNature": "nature_of_suit", "assignedTo": "assigned_to_str", "docket_id": "id",
}

_TAGS = re.compile(r"<[^>]+>")


def token_headers() -> dict[str, str]:
    """The Authorization header for the REST API; empty when no token is configured."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    return {"Authorization": f"Token {token}"} if token else {}


def to_date(value: Any) -> dt.date | None:
    """A v4 date or a v3 datetime (``2015-06-26T00:53:00-07:00``) as the date it names."""
    if not value:
        return None
    text = str(value)[:10]
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParseError(f"CourtListener date {value!r} is not ISO 8601") from None


def absolute(url: str | None) -> str | None:
    if not url:
        return None
    return url if url.startswith("http") else SITE + url


def identity(court: str | None, docket_number: str | None) -> str | None:
    """``<court>/<docket number>`` as PACER and GovInfo write the case (``canonical_identity``)."""
    if not court or not docket_number:
        return None
    return canonical_identity(f"{court}/{docket_number}")


def precedential(status: str | None) -> str | None:
    if not status:
        return None
    return PRECEDENTIAL_V4.get(status.strip().lower(), status.strip())


class SearchOpinion(Payload):
    download_url: str | None = None
    snippet: str | None = None  # the passage that matched, <mark>ed: the only opinion text a result carries


class OpinionResult(Payload):
    """A ``type=o`` search result (v4), or a v3 one in a version-1 webhook: the fields read here."""

    cluster_id: Whole
    caseName: Text
    court_id: str | None = None
    court: str | None = None
    opinions: list[SearchOpinion] | None = None
    citation: list[str] | None = None
    download_url: str | None = None  # v3: one flat opinion per result
    snippet: str | None = None  # v3
    status: str | None = None
    absolute_url: str | None = None
    dateFiled: str | None = None
    syllabus: str | None = None
    docket_id: int | None = None
    docketNumber: str | None = None


def opinion_record(row: dict[str, Any], where: str = "CourtListener result") -> ItemRecord:
    """An opinion cluster from a type=o search result (v4, or v3 in version-1 webhooks)."""
    result = read(OpinionResult, row, where)
    downloads = [o.download_url for o in result.opinions or [] if o.download_url]
    if not downloads and result.download_url:
        downloads = [result.download_url]
    status = precedential(result.status)
    snippets = [o.snippet for o in result.opinions or [] if o.snippet] or [result.snippet or ""]
    return ItemRecord(
        key=f"cl:cluster:{result.cluster_id}",
        kind="opinion",
        title=court_case_name(result.caseName) or result.caseName.strip(),
        url=absolute(result.absolute_url),
        identity=identity(result.court_id, result.docketNumber),
        court=result.court_id,
        status="decided",
        raw_status=status,
        status_date=to_date(result.dateFiled),
        summary=result.syllabus or None,
        text=" … ".join(filter(None, map(plain_text, snippets))) or None,
        data={
            "raw_title": result.caseName,
            "court_name": result.court,
            "docket_id": result.docket_id,
            "docket_number": result.docketNumber,
            "citations": list(result.citation or []),
            "precedential_status": status,
            "download_urls": downloads,
        },
    )


def docket_status(docket: Mapping[str, Any]) -> tuple[str, str | None, dt.date | None]:
    """(status, the rule's field, its date) from a snake_case docket by ``DOCKET_STATUS_RULES``."""
    for field, status in DOCKET_STATUS_RULES:
        when = to_date(docket.get(field))
        if when is not None:
            return status, field, when
    return "pending", "date_filed" if docket.get("date_filed") else None, to_date(docket.get("date_filed"))


def snake_docket(result: Mapping[str, Any]) -> dict[str, Any]:
    """A search result's docket fields under the docket API's names."""
    out = dict(result)
    for camel, snake in CAMEL_TO_SNAKE.items():
        if camel in result and snake not in result:
            out[snake] = result[camel]
    return out


class Docket(Payload):
    """A docket from the docket API (snake_case), or a type=r search result after ``snake_docket``."""

    id: Whole
    case_name: Text
    court_id: str | None = None
    docket_number: str | None = None
    absolute_url: str | None = None
    date_filed: str | None = None
    date_terminated: str | None = None
    nature_of_suit: str | None = None
    cause: str | None = None
    assigned_to_str: str | None = None


def docket_record(row: dict[str, Any], where: str = "CourtListener docket") -> ItemRecord:
    """A docket from the docket API (snake_case) or a type=r search result (after ``snake_docket``)."""
    docket = read(Docket, row, where)
    status, field, when = docket_status(row)
    return ItemRecord(
        key=f"cl:docket:{docket.id}",
        kind="docket",
        title=court_case_name(docket.case_name) or docket.case_name.strip(),
        url=absolute(docket.absolute_url) or f"{SITE}/docket/{docket.id}/",
        identity=identity(docket.court_id, docket.docket_number),
        court=docket.court_id,
        status=status,
        raw_status="open" if status == "pending" else status,
        status_action=field,
        status_date=when,
        data={
            "raw_title": docket.case_name,
            "docket_number": docket.docket_number,
            "date_filed": docket.date_filed,
            "date_terminated": docket.date_terminated,
            "nature_of_suit": docket.nature_of_suit or None,
            "cause": docket.cause or None,
            "assigned_to": docket.assigned_to_str or None,
        },
    )


def docket_id_of(value: Any) -> int:
    """The docket id from an int (webhooks) or a v4 hyperlink (``…/dockets/4214664/``)."""
    if isinstance(value, int):
        return value
    match = re.search(r"/dockets/(\d+)/?$", str(value or ""))
    if not match:
        raise ParseError(f"docket entry names no docket: {value!r}")
    return int(match.group(1))


class RecapDocument(Payload):
    document_number: str | None = None
    attachment_number: int | None = None
    description: str | None = None
    is_available: bool | None = None
    page_count: int | None = None
    absolute_url: str | None = None


class DocketEntry(Payload):
    """A docket entry from the docket-entries API, a docket-alert webhook or the docket feed."""

    id: Text
    docket: Text | Whole  # an id (webhooks) or a v4 hyperlink
    entry_number: Whole | None = None
    description: str | None = None
    date_filed: str | None = None
    recap_documents: list[RecapDocument] | None = None


def entry_record(row: dict[str, Any], *, court: str | None = None, url: str | None = None,
                 case: str | None = None, case_name: str | None = None,
                 where: str = "CourtListener docket entry") -> ItemRecord:
    """A docket entry from the docket-entries API, a docket-alert webhook or the docket feed.

    Unnumbered (minute) entries are keyed by their CourtListener id. ``case`` is the docket's
    identity, which a filing shares (as a PACER entry does), so a watchlist pinning the case hears it;
    ``case_name`` (the docket's title) leads the entry's title, as a PACER entry names its case.
    """
    entry = read(DocketEntry, row, where)
    docket_id = docket_id_of(entry.docket)
    number = entry.entry_number
    description = _TAGS.sub("", entry.description or "").strip()
    documents = entry.recap_documents or []
    if not description and documents:
        description = (documents[0].description or "").strip()
    label = f"Entry {number}" if number is not None else "Minute entry"
    if case_name:
        label = f"{case_name} — {label}"
    first_doc = next((d.absolute_url for d in documents if d.absolute_url), None)
    return ItemRecord(
        key=f"cl:docket:{docket_id}:entry:{number if number is not None else 'id' + entry.id}",
        kind="entry",
        title=f"{label}: {cut(description, 200)}" if description else label,
        url=url or absolute(first_doc) or f"{SITE}/docket/{docket_id}/",
        identity=case,
        court=court,
        status_date=to_date(entry.date_filed),
        text=description or None,
        data={
            "docket_id": docket_id,
            "entry_number": number,
            "documents": [{"number": d.document_number, "attachment": d.attachment_number,
                           "description": d.description, "available": d.is_available,
                           "page_count": d.page_count} for d in documents],
        },
    )
