"""CourtListener webhooks over real HTTP (uvicorn on a free port) with CourtListener's own bodies."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from monitor.db import Database
from monitor.delivery.dispatcher import Dispatcher
from monitor.models import Change, Delivery, Item, Subscription, Watchlist, WebhookEvent
from monitor.web import MAX_BODY, create_app
from monitor.web.courtlistener import WEBHOOK_SOURCE, process_pending, store_event
from tests.cluster import wait_for
from tests.conftest import realdata, serve_asgi, visit_service
from tests.fakes.http_server import HttpServer
from tests.test_pipeline import count, poll, subscribe

SECRET = "s3cret-path-token"


def body(name: str, version: int) -> bytes:
    template = realdata("courtlistener", "webhooks", name).read_text()
    return template.replace("{{ webhook_version }}", str(version)).encode()


SEARCH_V1 = ("search_alert_webhook_dummy.json.tmpl", 1)
SEARCH_V2 = ("search_alert_webhook_dummy_v2.json.tmpl", 2)
DOCKET_V1 = ("docket_alert_webhook_dummy.json.tmpl", 1)
DOCKET_V2 = ("docket_alert_webhook_dummy.json.tmpl", 2)


class HookServer:
    def __init__(self, base: str) -> None:
        self.base = base

    def url(self, path: str = f"/hooks/courtlistener/{SECRET}") -> str:
        return self.base + path

    def post(self, content: bytes, *, key: str | None = None, path: str | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {"Content-Type": "application/json"} | (headers or {})
        if key is not None:
            sent["Idempotency-Key"] = key
        return httpx.post(self.url(path) if path else self.url(), content=content, headers=sent, timeout=10)


@pytest.fixture
def hooks(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[HookServer]:
    monkeypatch.setenv("MONITOR_HOOK_SECRET", SECRET)
    with serve_asgi(create_app(db)) as base:
        yield HookServer(base)


def processed(db: Database, n: int) -> bool:
    with db.session() as s:
        return (s.scalar(select(func.count()).select_from(WebhookEvent).where(
            WebhookEvent.processed_at.is_not(None))) or 0) >= n


def item_keys(db: Database) -> list[str]:
    with db.session() as s:
        return sorted(s.scalars(select(Item.key)))


def test_search_alert_is_stored_once_processed_and_alerts_its_watchlist(db, hooks, slack: HttpServer):
    subscribe(db, slack, query="obergefell")
    key = str(uuid.uuid4())
    first = hooks.post(body(*SEARCH_V2), key=key)
    assert first.status_code == 202, first.text
    again = hooks.post(body(*SEARCH_V2), key=key)
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert count(db, WebhookEvent) == 1

    assert wait_for(lambda: processed(db, 1), timeout=15), "the stored event was never processed"
    with db.session() as s:
        item = s.scalars(select(Item).where(Item.key == "cl:cluster:2812209")).one()
        assert (item.title, item.kind, item.identity, item.status) == ("Obergefell v. Hodges", "opinion",
                                                                       "scotus/14-556", "decided")
        assert item.source_id == WEBHOOK_SOURCE and item.raw_status == "Published"
    assert count(db, Change) == 1 and count(db, Delivery) == 1

    stats = asyncio.run(Dispatcher(db).run_once())
    assert stats.sent == 1
    assert "Obergefell v. Hodges" in slack.requests[0].json()["text"]


def test_a_docket_alert_entry_alerts_with_the_day_it_was_filed(db, hooks, slack: HttpServer):
    """CourtListener's docket alert dates its entry (``date_filed``): the alert says when the motion
    was filed, as a PACER entry's does, never "No date from the source"."""
    subscribe(db, slack, query="kind:entry settlement")
    assert hooks.post(body(*DOCKET_V2), key="d-dated").status_code == 202
    assert wait_for(lambda: processed(db, 1), timeout=15)
    asyncio.run(Dispatcher(db).run_once())
    (message,) = [json.dumps(r.json()["blocks"]) for r in slack.requests]
    assert "Filed on Oct 11, 2022" in message and "No date from the source" not in message


def test_version_1_and_2_bodies_are_the_same_opinion(db, hooks):
    assert hooks.post(body(*SEARCH_V1), key="v1").status_code == 202
    assert wait_for(lambda: processed(db, 1), timeout=15)
    assert hooks.post(body(*SEARCH_V2), key="v2").status_code == 202
    assert wait_for(lambda: processed(db, 2), timeout=15)
    assert item_keys(db) == ["cl:cluster:2812209"]
    with db.session() as s:
        item = s.scalars(select(Item)).one()
        assert item.status_date.isoformat() == "2015-06-26"  # v1's PST datetime is the same day
        assert item.raw_status == "Published"  # v1 "Precedential" is v4's "Published"


@pytest.mark.parametrize("template", [DOCKET_V1, DOCKET_V2], ids=["v1", "v2"])
def test_docket_alert_entries_become_entry_items(db, hooks, template):
    assert hooks.post(body(*template), key="d-" + str(template[1])).status_code == 202
    assert wait_for(lambda: processed(db, 1), timeout=15)
    with db.session() as s:
        entry = s.scalars(select(Item)).one()
    assert entry.key == "cl:docket:4214664:entry:140" and entry.kind == "entry"
    assert entry.title.startswith("Entry 140: MOTION for Settlement Preliminary Approval")
    assert entry.status_date.isoformat() == "2022-10-11"


def test_wrong_or_missing_secret_is_refused_and_nothing_stored(db, hooks):
    content = body(*SEARCH_V2)
    assert hooks.post(content, key="a", path="/hooks/courtlistener/wrong").status_code == 404
    assert hooks.post(content, key="b", path="/hooks/courtlistener").status_code == 401
    assert hooks.post(content, key="c", path="/hooks/courtlistener",
                      headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = hooks.post(content, key="d", path="/hooks/courtlistener", headers={"Authorization": f"Bearer {SECRET}"})
    assert ok.status_code == 202
    assert count(db, WebhookEvent) == 1


def test_endpoint_is_off_without_a_configured_secret(db, hooks, monkeypatch):
    monkeypatch.delenv("MONITOR_HOOK_SECRET")
    assert hooks.post(body(*SEARCH_V2), key="x").status_code == 404
    assert count(db, WebhookEvent) == 0


@pytest.mark.parametrize(("content", "key"), [
    (b"not json at all", "k"),
    (b'["a", "list"]', "k"),
    (b'{"payload": {"results": []}}', "k"),
    (b'{"payload": {"results": []}, "webhook": {"version": 3, "event_type": 2}}', "k"),
    (b'{"payload": {"results": []}, "webhook": {"version": 2, "event_type": 99}}', "k"),
    (b'{"payload": {"results": "nope"}, "webhook": {"version": 2, "event_type": 2}}', "k"),
    (None, None),  # a good body without an Idempotency-Key
], ids=["not-json", "not-object", "no-webhook", "bad-version", "bad-event-type", "bad-results", "no-key"])
def test_malformed_events_are_400_and_not_stored(db, hooks, content, key):
    response = hooks.post(content if content is not None else body(*SEARCH_V2), key=key)
    assert response.status_code == 400, response.text
    assert "error" in response.json()
    assert count(db, WebhookEvent) == 0


def test_oversized_body_is_413(db, hooks):
    response = hooks.post(b"{" + b" " * (MAX_BODY + 1) + b"}", key="big")
    assert response.status_code == 413
    assert count(db, WebhookEvent) == 0


def test_an_event_left_unprocessed_is_processed_later(db, hooks):
    # Stored but never processed: what a crash between answering and processing leaves behind.
    event = json.loads(body(*DOCKET_V2))
    assert store_event(db, "left-over", 1, 2, event)
    assert count(db, Item) == 0
    assert hooks.post(body(*SEARCH_V2), key="next").status_code == 202
    assert wait_for(lambda: processed(db, 2), timeout=15)
    assert item_keys(db) == ["cl:cluster:2812209", "cl:docket:4214664:entry:140"]
    assert process_pending(db) == 0  # nothing left, nothing processed twice


@pytest.mark.parametrize("name", ["recap_fetch_webhook_dummy.json.tmpl", "old_alerts_report_webhook_dummy.json.tmpl",
                                  "pray_and_pay_webhook_dummy.json.tmpl"])
def test_other_event_types_are_accepted_and_stored_without_items(db, hooks, name):
    assert hooks.post(body(name, 2), key=name).status_code == 202
    assert wait_for(lambda: processed(db, 1), timeout=15)
    assert count(db, Item) == 0


def test_the_service_processes_events_left_over_from_before_a_restart(db, feeds, tmp_path, monkeypatch):
    assert store_event(db, "before-restart", 2, 2, json.loads(body(*SEARCH_V2)))
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - id: a\n    kind: rss\n    url: {feeds.url('/a.xml')}\n    interval: 1d\n")
    monkeypatch.setenv("MONITOR_HOOK_SECRET", SECRET)

    # the service serves only once the left-over events are processed: its first answer is the sign
    visit_service(db, config, socket.create_server(("127.0.0.1", 0)), lambda c: c.get("/healthz"))
    assert processed(db, 1), "the left-over event was not processed at start"
    assert item_keys(db) == ["cl:cluster:2812209"]


def test_a_docket_alert_entry_alerts_the_watchlist_pinning_its_case(db, hooks, feeds: HttpServer, slack: HttpServer,
                                                                    tmp_path, monkeypatch):
    """A docket alert names only the docket's id: its entry is a filing of the case that docket is,
    as stored when followed (dcd/1:16-cv-00745), so the watchlist pinning the case hears it."""
    monkeypatch.setenv("COURTLISTENER_TOKEN", "0123456789abcdef0123456789abcdef01234567")
    examples = Path(__file__).parent / "examples" / "courtlistener_docket" / "api"
    feeds.set("/api/rest/v4/dockets/4214664/", (examples / "docket.json").read_bytes(),
              content_type="application/json")
    feeds.set("/api/rest/v4/docket-entries/", json.dumps({"next": None, "results": []}),
              content_type="application/json")
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - id: nvlsp\n    kind: courtlistener_docket\n    docket_id: 4214664\n"
                      f"    base_url: {feeds.base}\n")
    poll(db, config)
    with db.session() as s:
        watchlist = Watchlist(name="nvlsp", pinned=["dcd/1:16-cv-00745"])
        s.add(watchlist)
        s.flush()
        s.add(Subscription(watchlist_id=watchlist.id, channel="slack", target="slack:" + slack.url()))
    assert hooks.post(body(*DOCKET_V2), key="d-pinned").status_code == 202
    assert wait_for(lambda: processed(db, 1), timeout=15)
    asyncio.run(Dispatcher(db).run_once())
    (message,) = [r.json()["text"] for r in slack.requests]
    assert "NATIONAL VETERANS LEGAL SERVICES PROGRAM v. United States — Entry 140: MOTION for Settlement" in message
