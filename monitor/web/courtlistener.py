"""``POST /hooks/courtlistener``: CourtListener's alert webhooks, stored first, processed after.

CourtListener POSTs ``{"payload": {...}, "webhook": {"version", "event_type", ...}}`` with an
``Idempotency-Key`` header, no signature, and wants a 2xx within one second, else it retries
(up to 7 times over ~54 h) and disables the endpoint after 8 failures
(realdata/courtlistener/api_docs_templates/webhooks-docs-vlatest.html). So the handler only
validates, stores the raw event in ``webhook_events`` (a repeated key is stored once and
answered 200) and answers 202; turning events into items runs after the answer, through
``store_poll`` like any poll, under the synthetic source ``courtlistener-webhooks``.
Events not yet processed (a crash, a restart) are picked up by the next event or at start.

The endpoint is protected by ``MONITOR_HOOK_SECRET`` because CourtListener cannot sign:
either in the path (``/hooks/courtlistener/<secret>``, what CourtListener's form can hold;
a wrong one answers 404) or as ``Authorization: Bearer <secret>`` (wrong or missing: 401).
Unset, the endpoint answers 404. Comparisons are constant-time.

Event types handled: 1 docket alert (entries become ``entry`` items) and 2 search alert
(opinions or RECAP dockets, by the alert's ``type=``); 3–5 are stored and marked processed.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import threading
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from monitor.db import Database
from monitor.errors import MonitorError
from monitor.models import Item, Source, WebhookEvent, utcnow
from monitor.pipeline import store_poll
from monitor.sanity import sanity_check
from monitor.sources.base import ItemRecord, SourceConfig
from monitor.sources.courtlistener import docket_record, entry_record, opinion_record, snake_docket
from monitor.web import MAX_BODY

log = logging.getLogger(__name__)

SECRET_ENV = "MONITOR_HOOK_SECRET"
PROVIDER = "courtlistener"
WEBHOOK_SOURCE = "courtlistener-webhooks"
_WEBHOOK_CONFIG = SourceConfig(id=WEBHOOK_SOURCE, kind="courtlistener-webhook")  # events stored as its polls
DOCKET_ALERT, SEARCH_ALERT = 1, 2
EVENT_TYPES = frozenset({1, 2, 3, 4, 5})  # docket alert, search alert, RECAP fetch, old alerts report, pray and pay
VERSIONS = frozenset({1, 2})
_PROCESSING = threading.Lock()  # one processor at a time: two would race to insert the same item


class BadEvent(ValueError):
    """A request body that is not a well-formed CourtListener webhook event."""


def validate(body: Any) -> tuple[int, int]:
    """(event_type, version) of a well-formed event, else ``BadEvent`` saying what is wrong."""
    if (not isinstance(body, dict) or not isinstance(body.get("payload"), dict)
            or not isinstance(body.get("webhook"), dict)):
        raise BadEvent("expected a JSON object with 'payload' and 'webhook' objects")
    hook = body["webhook"]
    event_type, version = hook.get("event_type"), hook.get("version")
    if not isinstance(event_type, int) or isinstance(event_type, bool) or event_type not in EVENT_TYPES:
        raise BadEvent(f"webhook.event_type {event_type!r} is not one of {sorted(EVENT_TYPES)}")
    if not isinstance(version, int) or isinstance(version, bool) or version not in VERSIONS:
        raise BadEvent(f"webhook.version {version!r} is not one of {sorted(VERSIONS)}")
    if event_type in (DOCKET_ALERT, SEARCH_ALERT):
        results = body["payload"].get("results")
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise BadEvent("payload.results must be a list of objects")
    return event_type, version


def event_records(body: dict[str, Any]) -> list[ItemRecord]:
    """The items an event reports (pure): opinions/dockets of a search alert, entries of a docket alert."""
    event_type = body["webhook"]["event_type"]
    results = body["payload"].get("results") or []
    if event_type == DOCKET_ALERT:
        return [entry_record(r) for r in results]
    if event_type == SEARCH_ALERT:
        alert = body["payload"].get("alert") or {}
        query = parse_qs(str(alert.get("query") or "").lstrip("?"))
        search_type = (query.get("type") or ["o"])[0]
        if search_type == "o":
            return [opinion_record(r) for r in results]
        return [docket_record(snake_docket(r)) for r in results]
    return []


def with_cases(session: Session, records: list[ItemRecord]) -> list[ItemRecord]:
    """A docket alert's entries name only their docket's id: each takes the case identity of that
    docket as stored (``dcd/1:16-cv-00745``), so a watchlist pinning the case hears its filings,
    and its case name, so the alert says which case filed it."""
    for record in records:
        if record.kind == "entry" and record.identity is None:
            docket = session.execute(select(Item.identity, Item.title).where(
                Item.key == f"cl:docket:{record.data['docket_id']}")).first()
            if docket is not None:
                record.identity = docket.identity
                record.title = f"{docket.title} — {record.title}" if docket.title else record.title
    return records


def _secret() -> str:
    return os.environ.get(SECRET_ENV, "").strip()


def _matches(given: str, secret: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


async def _read_capped(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def receive(request: Request) -> JSONResponse:
    secret = _secret()
    path_secret = request.path_params.get("secret")
    if not secret:
        return JSONResponse({"error": "not found"}, status_code=404)
    if path_secret is not None:
        if not _matches(path_secret, secret):
            return JSONResponse({"error": "not found"}, status_code=404)
    else:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not _matches(token.strip(), secret):
            return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)

    raw = await _read_capped(request, MAX_BODY)
    if raw is None:
        return JSONResponse({"error": f"body larger than {MAX_BODY} bytes"}, status_code=413)
    key = request.headers.get("idempotency-key", "").strip()
    if not key or len(key) > 200:
        return JSONResponse({"error": "missing or overlong Idempotency-Key header"}, status_code=400)
    try:
        body = json.loads(raw)
        event_type, version = validate(body)
    except (ValueError, BadEvent) as exc:
        return JSONResponse({"error": f"not a CourtListener webhook event: {exc}"}, status_code=400)
    except RecursionError:  # nesting deeper than the parser goes: no event is shaped like that
        return JSONResponse({"error": "not a CourtListener webhook event: JSON nested too deeply"},
                            status_code=400)

    db: Database = request.app.state.db
    stored = await asyncio.to_thread(store_event, db, key, event_type, version, body)
    if not stored:
        return JSONResponse({"status": "duplicate"}, status_code=200)
    return JSONResponse({"status": "accepted"}, status_code=202,
                        background=BackgroundTask(asyncio.to_thread, process_pending, db))


def store_event(db: Database, key: str, event_type: int, version: int, body: dict[str, Any]) -> bool:
    """Insert the raw event; False when its Idempotency-Key was stored before (a redelivery)."""
    try:
        with db.session() as session:
            session.add(WebhookEvent(provider=PROVIDER, idempotency_key=key, event_type=event_type,
                                     version=version, body=body))
        return True
    except IntegrityError:
        return False


def _ensure_source(db: Database) -> None:
    with db.session() as session:
        if session.get(Source, WEBHOOK_SOURCE) is None:
            session.add(Source(id=WEBHOOK_SOURCE, kind="webhook", enabled=True, baseline_done=True,
                               title="CourtListener alert webhooks"))


def process_pending(db: Database) -> int:
    """Turn every unprocessed CourtListener event into items and changes; returns how many were done.

    Each event is one transaction: its items, changes and deliveries commit together with its
    ``processed_at``, so a crash in between leaves it pending, never half-stored. A pushed
    item is new by definition, so nothing is treated as a baseline.
    """
    with _PROCESSING:
        return _process_pending(db)


def _process_pending(db: Database) -> int:
    _ensure_source(db)
    with db.session() as session:
        ids = list(session.scalars(select(WebhookEvent.id).where(
            WebhookEvent.provider == PROVIDER, WebhookEvent.processed_at.is_(None)).order_by(WebhookEvent.id)))
    done = 0
    for event_id in ids:
        try:
            with db.session() as session:
                event = session.get(WebhookEvent, event_id)
                if event is None or event.processed_at is not None:
                    continue
                records = with_cases(session, event_records(event.body))
                sanity_check(records)
                if records:
                    store_poll(session, _WEBHOOK_CONFIG, records, baseline=False)
                event.processed_at = utcnow()
            done += 1
        except MonitorError as exc:  # a body we cannot map: keep it, say why, do not retry forever
            log.warning("webhook event %s cannot be processed: %s", event_id, exc)
            with db.session() as session:
                event = session.get(WebhookEvent, event_id)
                if event is not None:
                    event.processed_at, event.error = utcnow(), str(exc)[:1000]
    return done


def routes() -> list[BaseRoute]:
    return [
        Route("/hooks/courtlistener", receive, methods=["POST"]),
        Route("/hooks/courtlistener/{secret}", receive, methods=["POST"]),
    ]
