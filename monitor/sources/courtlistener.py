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
from monitor.sources.base import ItemRecord
from monitor.sources.shape import integer, object_list, optional, require, text

SITE = "https://www.courtlistener.com"
TOKEN_ENV = "COURTLISTENER_TOKEN"

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
    if not court or not docket_number:
        return None
    return f"{court}/{docket_number.strip()}"


def precedential(status: str | None) -> str | None:
    if not status:
        return None
    return PRECEDENTIAL_V4.get(status.strip().lower(), status.strip())


def opinion_record(result: dict[str, Any], where: str = "CourtListener result") -> ItemRecord:
    """An opinion cluster from a type=o search result (v4, or v3 in version-1 webhooks)."""
    cluster_id, case_name = integer(result, "cluster_id", where), text(result, "caseName", where)
    court = optional(result, "court_id", where, str)
    opinions = object_list(optional(result, "opinions", where, list) or [], f"{where}: opinions")
    citations = optional(result, "citation", where, list) or []
    downloads = [o.get("download_url") for o in opinions if o.get("download_url")]
    if not downloads and result.get("download_url"):  # v3: one flat opinion per result
        downloads = [result["download_url"]]
    status = precedential(result.get("status"))
    return ItemRecord(
        key=f"cl:cluster:{cluster_id}",
        kind="opinion",
        title=court_case_name(case_name) or case_name.strip(),
        url=absolute(result.get("absolute_url")),
        identity=identity(court, result.get("docketNumber")),
        court=court,
        status="decided",
        raw_status=status,
        status_date=to_date(result.get("dateFiled")),
        summary=(result.get("syllabus") or None),
        data={
            "raw_title": case_name,
            "court_name": result.get("court"),
            "docket_id": result.get("docket_id"),
            "docket_number": result.get("docketNumber"),
            "citations": list(citations),
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


def docket_record(docket: dict[str, Any], where: str = "CourtListener docket") -> ItemRecord:
    """A docket from the docket API (snake_case) or a type=r search result (after ``snake_docket``)."""
    docket_id, case_name = integer(docket, "id", where), text(docket, "case_name", where)
    status, field, when = docket_status(docket)
    court = optional(docket, "court_id", where, str)
    return ItemRecord(
        key=f"cl:docket:{docket_id}",
        kind="docket",
        title=court_case_name(case_name) or case_name.strip(),
        url=absolute(docket.get("absolute_url")) or f"{SITE}/docket/{docket_id}/",
        identity=identity(court, docket.get("docket_number")),
        court=court,
        status=status,
        raw_status="open" if status == "pending" else status,
        status_action=field,
        status_date=when,
        data={
            "raw_title": case_name,
            "docket_number": docket.get("docket_number"),
            "date_filed": docket.get("date_filed"),
            "date_terminated": docket.get("date_terminated"),
            "nature_of_suit": docket.get("nature_of_suit") or None,
            "cause": docket.get("cause") or None,
            "assigned_to": docket.get("assigned_to_str") or None,
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


def entry_record(entry: dict[str, Any], *, court: str | None = None, url: str | None = None,
                 where: str = "CourtListener docket entry") -> ItemRecord:
    """A docket entry from the docket-entries API, a docket-alert webhook or the docket feed.

    Unnumbered (minute) entries are keyed by their CourtListener id.
    """
    require(entry, "id", where)
    docket_id = docket_id_of(require(entry, "docket", where))
    number = optional(entry, "entry_number", where, int)
    description = _TAGS.sub("", str(entry.get("description") or "")).strip()
    documents = object_list(optional(entry, "recap_documents", where, list) or [], f"{where}: recap_documents")
    if not description and documents:
        description = str(documents[0].get("description") or "").strip()
    label = f"Entry {number}" if number is not None else "Minute entry"
    first_doc = next((d.get("absolute_url") for d in documents if d.get("absolute_url")), None)
    return ItemRecord(
        key=f"cl:docket:{docket_id}:entry:{number if number is not None else 'id' + str(entry['id'])}",
        kind="entry",
        title=f"{label}: {description[:200]}" if description else label,
        url=url or absolute(first_doc) or f"{SITE}/docket/{docket_id}/",
        court=court,
        status_date=to_date(entry.get("date_filed")),
        text=description or None,
        data={
            "docket_id": docket_id,
            "entry_number": number,
            "documents": [{"number": d.get("document_number"), "attachment": d.get("attachment_number"),
                           "description": d.get("description"), "available": d.get("is_available"),
                           "page_count": d.get("page_count")} for d in documents],
        },
    )
