"""Status moves of one identity across providers, through the real pipeline with two providers of
already-normalised records: which report alerts, and which is kept as evidence only."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from monitor.cli import watchlist_admin as wl
from monitor.config import load_config
from monitor.db import Database
from monitor.drivers.service import run_once
from monitor.models import Subscription
from monitor.sources import SOURCE_KINDS
from tests.fakes.http_server import HttpServer
from tests.fakes.records_source import RecordsSource

BILL = {"kind": "bill", "identity": "us/119/s/3470", "jurisdiction": "us",
        "title": "Accountability for Federal Law Enforcement Act"}
IN_COMMITTEE = {"status": "in_committee", "status_action": "Read twice and referred to the Committee on the Judiciary.",
                "status_date": "2025-12-15"}
REPORTED = {"status": "reported", "raw_status": "14000", "status_date": "2026-11-24",
            "status_action": "Committee on the Judiciary. Reported by Senator Durbin with an amendment."}
PASSED = {"status": "passed_one_chamber", "raw_status": "17000", "status_date": "2026-12-01",
          "status_action": "Passed Senate with an amendment by Unanimous Consent."}


@pytest.fixture(autouse=True)
def records_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SOURCE_KINDS, "records", RecordsSource)


class Providers:
    """Two providers (``a`` and ``b``) of records, a watchlist pinning S. 3470 and a Slack subscriber."""

    def __init__(self, db: Database, feeds: HttpServer, slack: HttpServer, tmp_path: Path) -> None:
        self.db, self.feeds, self.slack = db, feeds, slack
        self.config = tmp_path / "sources.yaml"
        self.config.write_text("sources:\n" + "".join(
            f"  - id: {p}\n    kind: records\n    url: {feeds.url(f'/{p}.json')}\n" for p in "ab"))
        with db.session() as s:
            wl.apply(s, wl.WatchlistSpec(name="s3470", pinned=["us/119/s/3470"], on_new=True))
            s.flush()
            s.add(Subscription(watchlist_id=wl.get(s, "s3470").id, channel="slack", target="slack:" + slack.url()))

    def serve(self, provider: str, *items: dict[str, Any]) -> None:
        self.feeds.set(f"/{provider}.json", json.dumps(list(items)), content_type="application/json")

    def poll(self, *providers: str) -> None:
        asyncio.run(run_once(self.db, load_config(self.config), source_ids=list(providers), wait_limit=3))

    def alerts(self) -> list[str]:
        return [json.dumps(r.json()["blocks"], ensure_ascii=False) for r in self.slack.requests]


def bill(provider: str, **status: Any) -> dict[str, Any]:
    return BILL | {"key": f"{provider}:119:s:3470"} | status


@pytest.fixture
def two(db: Database, feeds: HttpServer, slack: HttpServer, tmp_path: Path) -> Providers:
    providers = Providers(db, feeds, slack, tmp_path)
    providers.serve("a", bill("a", **IN_COMMITTEE))
    providers.serve("b", bill("b", **IN_COMMITTEE))
    providers.poll("a", "b")  # baselines: nothing sent
    return providers


def test_a_later_provider_confirms_and_does_not_alert_again(two: Providers) -> None:
    two.serve("a", bill("a", **REPORTED))
    two.poll("a")
    assert len(two.alerts()) == 1 and "Reported by committee on Nov 24, 2026" in two.alerts()[0]
    two.serve("b", bill("b", **REPORTED))
    two.poll("b")
    assert len(two.alerts()) == 1
    with two.db.session() as s:
        (event,) = wl.identity_view(s, "us/119/s/3470").events
        assert (event.first_source_id, [r.source_id for r in event.reports]) == ("a", ["a", "b"])


def test_a_flip_flopping_provider_alerts_one_move_once(two: Providers) -> None:
    for status in (REPORTED, IN_COMMITTEE, REPORTED):
        two.serve("a", bill("a", **status))
        two.poll("a")
    assert len(two.alerts()) == 1


def test_a_lagging_provider_catching_up_is_not_news(two: Providers) -> None:
    two.serve("a", bill("a", **PASSED))
    two.poll("a")
    assert len(two.alerts()) == 1
    two.serve("b", bill("b", **REPORTED))  # b moves up a rung a has long passed
    two.poll("b")
    assert len(two.alerts()) == 1
    with two.db.session() as s:
        view = wl.identity_view(s, "us/119/s/3470")
        assert not view.agree and {e.status for e in view.events} == {"passed_one_chamber", "reported"}


def test_an_end_is_never_behind_a_rung_it_disagrees_with(two: Providers) -> None:
    two.serve("a", bill("a", **PASSED))
    two.poll("a")
    vetoed = {"status": "failed", "raw_status": "18000", "status_date": "2026-12-02",
              "status_action": "Failed of passage in Senate."}
    two.serve("b", bill("b", **vetoed))
    two.poll("b")
    assert len(two.alerts()) == 2 and "Failed on Dec 2, 2026" in two.alerts()[1]


def test_a_new_provider_item_below_another_providers_end_is_catching_up(two: Providers) -> None:
    """a saw the Senate's failed vote; b's new listing of the bill stands at a rung it passed before
    that vote: b is behind, not news that the bill left its failure (only the law lifts a veto)."""
    failed = {"status": "failed", "raw_status": "18000", "status_date": "2026-12-02",
              "status_action": "Failed of passage in Senate."}
    two.serve("a", bill("a", **failed))
    two.poll("a")
    assert len(two.alerts()) == 1
    two.serve("b", bill("b", **IN_COMMITTEE), bill("b2", **PASSED))
    two.poll("b")
    assert len(two.alerts()) == 1, two.alerts()


def test_a_lagging_provider_climbing_below_another_providers_veto_is_not_news(two: Providers) -> None:
    """a reported the veto; b, a day behind, now reads the bill as passed: old news, not a move after
    the veto (only a law lifts it)."""
    vetoed = {"status": "vetoed", "raw_status": "31000", "status_date": "2026-12-04",
              "status_action": "Vetoed by President."}
    two.serve("a", bill("a", **vetoed))
    two.poll("a")
    assert len(two.alerts()) == 1 and "Vetoed on Dec 4, 2026" in two.alerts()[0]
    two.serve("b", bill("b", **PASSED))
    two.poll("b")
    assert len(two.alerts()) == 1, two.alerts()


def test_a_vote_dated_after_another_providers_failure_is_news(two: Providers) -> None:
    """a reported the committee's failed vote; b, behind, then reads the bill as reported (dated before
    that vote: catching up) and later as passed on a day after it (revived and passed): only the
    passage leaves the failure, and it is news."""
    failed = {"status": "failed", "raw_status": "18000", "status_date": "2026-11-26",
              "status_action": "Failed to pass in committee."}
    two.serve("a", bill("a", **failed))
    two.poll("a")
    two.serve("b", bill("b", **REPORTED))  # dated Nov 24: before the failure
    two.poll("b")
    assert len(two.alerts()) == 1, two.alerts()
    two.serve("b", bill("b", **PASSED))  # dated Dec 1: after it
    two.poll("b")
    assert len(two.alerts()) == 2 and "Passed one chamber on Dec 1, 2026" in two.alerts()[1]


def test_the_same_status_on_another_day_is_another_move(two: Providers) -> None:
    two.serve("a", bill("a", **REPORTED))
    two.poll("a")
    two.serve("a", bill("a", **IN_COMMITTEE | {"status_date": "2026-11-30"}))  # recommitted
    two.poll("a")
    two.serve("b", bill("b", **REPORTED | {"status_date": "2026-12-05"}))  # reported again
    two.poll("b")
    assert len(two.alerts()) == 2 and "Reported by committee on Dec 5, 2026" in two.alerts()[1]


def test_a_new_provider_item_of_a_tracked_identity_is_not_a_new_thing(two: Providers) -> None:
    other = {"key": "b:119:s:9", "kind": "bill", "identity": "us/119/s/9", "title": "Another bill",
             "status": "introduced", "status_date": "2026-01-05"}
    two.serve("b", other)
    two.poll("b")
    assert len(two.alerts()) == 0  # not pinned: the watchlist does not follow it
    two.serve("b", other, bill("b2", **IN_COMMITTEE))  # b lists S. 3470 under a second key, as a is at
    two.poll("b")
    assert len(two.alerts()) == 0
    two.serve("b", other, bill("b2", **IN_COMMITTEE), bill("b3", **PASSED))  # and a third that moves it on
    two.poll("b")
    assert len(two.alerts()) == 1 and "Passed one chamber on Dec 1, 2026" in two.alerts()[0]


def test_two_opinions_of_one_case_on_one_day_are_two_events(two: Providers) -> None:
    """One provider's two items of a case (GovInfo publishes each opinion of a case as its own
    granule) are two decisions, both alerted; another provider's copy of one of them confirms it."""
    with two.db.session() as s:
        wl.apply(s, wl.WatchlistSpec(name="case", pinned=["ca9/24-1234"], on_new=True))
        s.flush()
        s.add(Subscription(watchlist_id=wl.get(s, "case").id, channel="slack", target="slack:" + two.slack.url()))

    def opinion(key: str, title: str) -> dict[str, Any]:
        return {"key": key, "kind": "opinion", "identity": "ca9/24-1234", "jurisdiction": "us", "title": title,
                "status": "decided", "status_date": "2026-11-24"}

    two.serve("a", opinion("a:1", "Doe v. Smith (opinion)"), opinion("a:2", "Doe v. Smith (order on costs)"))
    two.poll("a")
    sent = " ".join(two.alerts())
    assert "Doe v. Smith (opinion)" in sent and "Doe v. Smith (order on costs)" in sent
    two.serve("b", opinion("b:1", "Doe v. Smith"))
    two.poll("b")
    two.serve("a", opinion("a:1", "Doe v. Smith (opinion)"), opinion("a:2", "Doe v. Smith (order on costs)"),
              opinion("a:3", "Doe v. Smith (mandate)"))
    two.poll("a")
    assert len(two.alerts()) == 2 and "Doe v. Smith (mandate)" in two.alerts()[1]
    with two.db.session() as s:
        events = wl.identity_view(s, "ca9/24-1234").events
        assert sorted(len(e.reports) for e in events) == [1, 1, 2]


def test_an_undated_move_is_the_same_move_only_while_recent() -> None:
    from monitor.changes.events import same_move
    from monitor.models import StatusEvent

    seen = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    decided = StatusEvent(kind="docket", status="decided", status_date=None, first_seen_at=seen)
    assert same_move(decided, "docket", "decided", None, seen + dt.timedelta(days=2))  # a feed flip-flopping
    assert not same_move(decided, "docket", "decided", None, seen + dt.timedelta(days=90))  # decided again
    dated = StatusEvent(kind="bill", status="reported", status_date=dt.date(2026, 11, 24), first_seen_at=seen)
    assert same_move(dated, "bill", "reported", dt.date(2026, 11, 25), seen)
    assert not same_move(dated, "bill", "reported", dt.date(2026, 11, 27), seen)
    assert not same_move(dated, "opinion", "reported", dt.date(2026, 11, 24), seen)


def test_two_workers_deciding_one_move_at_once_make_one_first(db: Database) -> None:
    """Two polls of the same move in two transactions at once (two workers on PostgreSQL): the
    second waits for the first's commit and reads its event, so only one of them alerts."""
    import threading
    import time

    from sqlalchemy import func, select, text
    from sqlalchemy.orm import Session

    from monitor.changes.diff import ChangeSpec, ChangeType
    from monitor.changes.events import Observed, Verdict, settle
    from monitor.models import Change, Item, Source, utcnow
    from monitor.sources.base import ItemRecord

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: two polls never decide at once")
    now = utcnow()
    moves: dict[str, Observed] = {}
    with db.session() as s:
        for provider in "ab":
            s.add(Source(id=provider, kind="records"))
            s.flush()
            item = Item(key=f"{provider}:s3470", source_id=provider, kind="bill", identity="us/119/s/3470",
                        title="S. 3470", status="in_committee", content_hash="x")  # as each sees the other
            s.add(item)
            s.flush()
            change = Change(item_id=item.id, type="status", field="status", old="in_committee", new="reported")
            s.add(change)
            s.flush()
            record = ItemRecord(key=item.key, kind="bill", title="S. 3470", identity="us/119/s/3470",
                                status="reported", status_date=dt.date(2026, 11, 24))
            spec = ChangeSpec(ChangeType.STATUS, "status", "in_committee", "reported")
            moves[provider] = Observed(change.id, item.id, record, spec)
    verdicts: dict[str, dict[int, Verdict]] = {}
    first = db.engine.connect()
    transaction = first.begin()
    verdicts["a"] = settle(Session(first), "a", [moves["a"]], now)  # holds the identity's lock until it commits

    def second() -> None:
        with db.session() as session:
            verdicts["b"] = settle(session, "b", [moves["b"]], now)

    worker = threading.Thread(target=second)
    worker.start()
    waiting = select(func.count()).select_from(text("pg_locks")).where(text("locktype = 'advisory' AND NOT granted"))
    with db.engine.connect() as watcher:
        deadline = time.monotonic() + 30
        while not watcher.execute(waiting).scalar_one() and time.monotonic() < deadline:
            time.sleep(0.01)  # until the second poll is seen waiting for the lock
    transaction.commit()
    first.close()
    worker.join(30)
    assert verdicts["a"][moves["a"].change_id].reason == "first"
    assert verdicts["b"][moves["b"].change_id].reason == "confirms"


def test_what_an_alert_says_of_who_reported_the_move(two: Providers) -> None:
    """A move waiting for a second provider is "only so far" before the time-out, "only … within"
    after it, and "Confirmed by" once the second provider reports it."""
    from monitor.changes.events import corroboration
    from monitor.models import StatusEvent, utcnow

    with two.db.session() as s:
        wl.apply(s, wl.WatchlistSpec(name="s3470", pinned=["us/119/s/3470"], confirm=2, confirm_timeout="1d"))
    two.serve("a", bill("a", **REPORTED))
    two.poll("a")
    assert two.alerts() == []  # held for a second provider

    def said(hours: float) -> str | None:
        with two.db.session() as s:
            event = s.scalars(select(StatusEvent)).one()
            assert event.first_change_id is not None
            return corroboration(s, event.first_change_id, wl.get(s, "s3470"), utcnow() + dt.timedelta(hours=hours))

    assert said(0) == "Reported by a only so far"
    assert said(25) == "Reported by a only: no other provider confirmed it within 1 d"
    two.serve("b", bill("b", **REPORTED))
    two.poll("b")
    assert said(0) == "Confirmed by b"
    assert len(two.alerts()) == 1 and "Confirmed by b" in two.alerts()[0]


def test_a_bill_followed_in_full_replaces_the_status_its_list_row_derived(two: Providers) -> None:
    """A list row reads its status from the latest action alone; once a provider follows the bill's
    whole history, that status is the identity's, and the list row no longer counts as disagreeing."""
    two.serve("a", bill("a", **PASSED, data={"status_basis": "latest_action"}))
    two.serve("b", bill("b", **REPORTED, data={"status_basis": "actions"}))
    two.poll("a", "b")
    with two.db.session() as s:
        view = wl.identity_view(s, "us/119/s/3470")
        assert view.status_item is not None
        assert (view.status_item.source_id, view.status_item.status, view.agree) == ("b", "reported", True)
        board = wl.board(s, wl.get(s, "s3470"))
    (pinned,) = board["pinned_status"]
    assert (pinned["status"], pinned["status_source"]) == ("reported", "b")
    assert {p["source"]: p["latest_action_only"] for p in pinned["sources"]} == {"a": True, "b": False}


def test_without_a_full_history_the_latest_action_status_stands(two: Providers) -> None:
    two.serve("a", bill("a", **REPORTED, data={"status_basis": "latest_action"}))
    two.serve("b", bill("b", **IN_COMMITTEE, data={"status_basis": "latest_action"}))
    two.poll("a", "b")
    with two.db.session() as s:
        current = wl.identity_view(s, "us/119/s/3470").status_item
    assert current is not None and (current.source_id, current.status) == ("a", "reported")


def test_an_undated_opinion_does_not_swallow_a_later_dated_decision(two: Providers) -> None:
    """GovInfo's opinions are undated (its feed knows only when it published them): the court's
    own dated report of a case's next decision, weeks later, is that decision, not a copy."""
    with two.db.session() as s:
        wl.apply(s, wl.WatchlistSpec(name="case", pinned=["ca9/24-1234"], on_new=True))
        s.flush()
        s.add(Subscription(watchlist_id=wl.get(s, "case").id, channel="slack", target="slack:" + two.slack.url()))
    opinion = {"kind": "opinion", "identity": "ca9/24-1234", "jurisdiction": "us", "status": "decided"}
    two.serve("a", opinion | {"key": "a:1", "title": "Doe v. Smith (opinion)"})
    two.poll("a")
    two.serve("b", opinion | {"key": "b:2", "title": "Doe v. Smith (order denying rehearing)",
                              "status_date": "2026-11-24"})
    two.poll("b")
    assert len(two.alerts()) == 2 and "order denying rehearing" in two.alerts()[1]
