"""Watchlists as tracked remedies, through the real pipeline: pins, status moves, muted entries,
snooze, the remedy board, preview, and the YAML round trip."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from monitor.changes.match import CompiledWatchlist
from monitor.changes.query import MatchDoc
from monitor.cli import watchlist_admin as wl
from monitor.config import load_config
from monitor.db import Database
from monitor.drivers.service import run_once
from monitor.models import Change, Delivery, Subscription, Watchlist, utcnow
from monitor.sources import SOURCE_KINDS
from tests.conftest import realdata
from tests.fakes.http_server import HttpServer
from tests.fakes.records_source import RecordsSource

S3470 = {"key": "congress:119:s:3470", "kind": "bill", "identity": "us/119/s/3470", "jurisdiction": "us",
         "title": "Accountability for Federal Law Enforcement Act", "status": "introduced",
         "raw_status": "Introduced in Senate", "status_action": "Introduced in Senate",
         "status_date": "2025-12-15"}
DOCKET = {"key": "cl:docket:1", "kind": "docket", "identity": "ca9/24-1234", "court": "ca9",
          "title": "Doe v. Immigration and Customs Enforcement", "status": "pending"}


def entry(n: int, text: str) -> dict[str, Any]:
    return {"key": f"cl:entry:1:{n}", "kind": "entry", "identity": "ca9/24-1234", "court": "ca9",
            "title": f"Doe v. ICE, entry {n}", "summary": text}


@pytest.fixture(autouse=True)
def records_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SOURCE_KINDS, "records", RecordsSource)


def setup(db: Database, feeds: HttpServer, tmp_path: Path, items: list[dict[str, Any]]) -> Path:
    feeds.set("/records.json", json.dumps(items), content_type="application/json")
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - id: records\n    kind: records\n    url: {feeds.url('/records.json')}\n")
    poll(db, config)  # the baseline: stored, no alerts
    return config


def poll(db: Database, config: Path) -> Any:
    return asyncio.run(run_once(db, load_config(config), wait_limit=3))


def add_watchlist(db: Database, slack: HttpServer, mode: str = "immediate", **fields: Any) -> int:
    spec = wl.WatchlistSpec.model_validate({"name": "remedy"} | fields)
    with db.session() as s:
        wl.apply(s, spec)
        s.flush()
        watchlist = wl.get(s, "remedy")
        sub = Subscription(watchlist_id=watchlist.id, channel="slack", target="slack:" + slack.url(), mode=mode,
                           digest_at="07:30" if mode == "digest" else None)
        s.add(sub)
        s.flush()
        return sub.id


def test_pinned_identity_alerts_on_a_status_move_whatever_its_text(db, feeds, slack, tmp_path):
    config = setup(db, feeds, tmp_path, [S3470])
    add_watchlist(db, slack, query="kind:opinion", pinned=["us/119/s/3470"])  # the query alone would not match
    moved = S3470 | {"status": "in_committee", "raw_status": "Read twice and referred to the Committee on the "
                     "Judiciary.", "status_action": "Read twice and referred to the Committee on the Judiciary.",
                     "status_date": "2025-12-16"}
    feeds.set("/records.json", json.dumps([moved]), content_type="application/json")
    poll(db, config)
    assert len(slack.requests) == 1
    body = json.dumps(slack.requests[0].json())
    assert "Accountability for Federal Law Enforcement Act" in body and "In committee" in body
    with db.session() as s:
        delivery = s.scalar(select(Delivery))
        assert delivery.rule == "remedy: status-move (pinned us/119/s/3470)"
        board = wl.board(s, wl.get(s, "remedy"))
    row = board["pinned_status"][0]["sources"][0]
    assert (row["source"], row["status"]) == ("records", "in_committee")
    assert row["status_action"].startswith("Read twice") and row["status_changed_at"] is not None
    # A step back down the ladder is recorded but does not alert under the default rule.
    feeds.set("/records.json", json.dumps([S3470]), content_type="application/json")
    poll(db, config)
    assert len(slack.requests) == 1


def test_muted_docket_entry_stays_quiet_and_a_real_one_alerts(db, feeds, slack, tmp_path):
    config = setup(db, feeds, tmp_path, [DOCKET])
    add_watchlist(db, slack, pinned=["ca9/24-1234"], muted=["pro hac vice", "notice of appearance"])
    feeds.set("/records.json", json.dumps([DOCKET, entry(1, "MOTION for leave to appear Pro Hac Vice by J. Smith"),
                                           entry(2, "NOTICE OF APPEARANCE by Jane Roe")]),
              content_type="application/json")
    poll(db, config)
    assert slack.requests == []
    with db.session() as s:  # quiet, not lost: both entries are in history
        assert len(s.scalars(select(Change).where(Change.type == "new")).all()) == 2
    feeds.set("/records.json", json.dumps([DOCKET, entry(1, "MOTION for leave to appear Pro Hac Vice by J. Smith"),
                                           entry(2, "NOTICE OF APPEARANCE by Jane Roe"),
                                           entry(3, "ORDER granting preliminary injunction")]),
              content_type="application/json")
    poll(db, config)
    assert len(slack.requests) == 1
    assert "entry 3" in json.dumps(slack.requests[0].json())


def test_snoozed_watchlist_sends_nothing_until_its_date_but_keeps_history_and_the_digest(db, feeds, slack, tmp_path):
    config = setup(db, feeds, tmp_path, [S3470])
    add_watchlist(db, slack, pinned=["us/119/s/3470"], snooze_until=utcnow() + dt.timedelta(days=7))
    with db.session() as s:
        watchlist = wl.get(s, "remedy")
        digest = Subscription(watchlist_id=watchlist.id, channel="slack", target="slack:" + slack.url("/digest"),
                              mode="digest", digest_at="07:30", timezone="America/Chicago")
        s.add(digest)
        s.flush()
        digest_id = digest.id
    feeds.set("/records.json", json.dumps([S3470 | {"status": "in_committee"}]), content_type="application/json")
    poll(db, config)
    assert slack.requests == []  # nothing immediate while snoozed
    with db.session() as s:
        change = s.scalar(select(Change).where(Change.type == "status"))
        assert (change.old, change.new) == ("introduced", "in_committee")  # in history
        rows = s.scalars(select(Delivery)).all()
        assert [(d.kind, d.state, d.subscription_id) for d in rows] == [("digest", "queued", digest_id)]
        assert rows[0].change_id == change.id  # waiting for the first digest
        wl.get(s, "remedy").snooze_until = utcnow() - dt.timedelta(seconds=1)  # the date has come
    feeds.set("/records.json", json.dumps([S3470 | {"status": "reported"}]), content_type="application/json")
    poll(db, config)
    # The immediate alert for the move after the snooze, and the first digest after it, which
    # carries the change made during the snooze (its hour, 07:30 Chicago, has passed today or
    # the digest waits: both are right, so look only at what was sent).
    immediate = [r for r in slack.requests if r.path != "/digest"]
    assert len(immediate) == 1 and "Reported" in json.dumps(immediate[0].json())
    digests = [json.dumps(r.json()) for r in slack.requests if r.path == "/digest"]
    assert len(digests) <= 1
    if digests:
        assert "In committee" in digests[0]


def test_paused_watchlist_queues_nothing(db, feeds, slack, tmp_path):
    config = setup(db, feeds, tmp_path, [S3470])
    add_watchlist(db, slack, pinned=["us/119/s/3470"], paused=True)
    feeds.set("/records.json", json.dumps([S3470 | {"status": "in_committee"}]), content_type="application/json")
    poll(db, config)
    with db.session() as s:
        assert s.scalars(select(Delivery)).all() == [] and s.scalar(select(Change)) is not None
    assert slack.requests == []


def test_preview_counts_hits_and_the_alerts_a_query_would_have_sent(db, feeds, slack, tmp_path):
    config = setup(db, feeds, tmp_path, [DOCKET])
    feeds.set("/records.json", json.dumps([DOCKET, *(entry(n, f"order number {n} on bivens") for n in range(40))]),
              content_type="application/json")
    poll(db, config)
    with db.session() as s:
        noisy = wl.preview(s, wl.WatchlistSpec(name="p", query="bivens"), days=30)
        assert noisy.hits == 40 and noisy.alerts == 40 and noisy.covered_days < 1
        assert noisy.too_many  # 40 in under a day
        quiet = wl.preview(s, wl.WatchlistSpec(name="p", query='bivens "number 7"'), days=30)
        assert (quiet.hits, quiet.alerts, quiet.too_many) == (1, 1, False)
        muted = wl.preview(s, wl.WatchlistSpec(name="p", query="bivens", muted=["order number"]), days=30)
        assert muted.hits == 40 and muted.alerts == 0


def test_import_export_round_trip(db):
    starter = wl.parse_file(wl.starter_text(), "starter")
    with db.session() as s:
        assert {wl.apply(s, spec) for spec in starter} == {"created"}
    with db.session() as s:
        exported = wl.dump([wl.WatchlistSpec.of(w) for w in s.scalars(select(Watchlist).order_by(Watchlist.id))])
    assert wl.parse_file(exported, "export") == starter
    with db.session() as s:
        assert {wl.apply(s, spec) for spec in wl.parse_file(exported, "export")} == {"unchanged"}
    names = {spec.name for spec in starter}
    assert {"bivens", "qualified-immunity", "ftca", "ice-class-actions", "state-private-rights",
            "federal-legislation", "dhs-oig"} <= names
    federal = next(s for s in starter if s.name == "federal-legislation")
    assert set(federal.pinned) == {"us/119/s/3470", "us/119/s/3187", "us/119/hr/6091", "us/119/hr/3602",
                                   "us/119/hr/503", "us/119/s/122"}
    state = next(s for s in starter if s.name == "state-private-rights")
    assert set(state.pinned) == {"il/104/hb/1312", "ca/20252026/sb/747"}


@pytest.mark.parametrize(("text", "problem"), [
    ("watchlists:\n- name: Bad Name\n", "w.yaml:2: watchlist 'Bad Name': field 'name': 'Bad Name' is not a slug"),
    ("watchlists:\n- name: a\n  query: 'bivens ('\n", "w.yaml:2: watchlist 'a': field 'query': query does not parse"),
    ("watchlists:\n- name: a\n- name: b\n  pinned: [S 3470]\n", "w.yaml:3: watchlist 'b': field 'pinned': identity"),
    ("watchlists:\n- name: a\n  colour: red\n", "w.yaml:2: watchlist 'a': unknown field 'colour'"),
    ("watchlists:\n- name: a\n- name: a\n", "w.yaml:3: watchlist 'a': duplicate name"),
    ("sources: []\n", "w.yaml:1: expected a mapping with a 'watchlists:' list"),
    ("watchlists:\n- name: a\n  confirm_timeout: 90d\n",
     "w.yaml:2: watchlist 'a': field 'confirm_timeout': 90d is not between 1m and 30d"),
    ("watchlists:\n- name: a\n  confirm_timeout: 30\n",
     "w.yaml:2: watchlist 'a': field 'confirm_timeout': 30s is not between 1m and 30d"),
])
def test_a_bad_watchlist_file_is_one_clear_line(text, problem):
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        wl.parse_file(text, "w.yaml")
    assert str(info.value).startswith(problem)


def test_remedy_board_shows_each_source_view_of_a_pinned_identity(db, feeds, slack, tmp_path):
    feeds.set("/congress.json", json.dumps([S3470]), content_type="application/json")
    govinfo = S3470 | {"key": "govinfo:BILLSTATUS-119s3470", "status": "in_committee",
                       "status_action": "Read twice and referred to the Committee on the Judiciary."}
    feeds.set("/govinfo.json", json.dumps([govinfo]), content_type="application/json")
    config = tmp_path / "sources.yaml"
    config.write_text("sources:\n" + "".join(
        f"  - id: {sid}\n    kind: records\n    url: {feeds.url(f'/{sid}.json')}\n" for sid in ("congress", "govinfo")))
    poll(db, config)
    add_watchlist(db, slack, query="kind:bill", pinned=["us/119/s/3470", "ca/20252026/sb/747"])
    with db.session() as s:
        board = wl.board(s, wl.get(s, "remedy"))
    views = {row["source"]: (row["status"], row["status_action"], row["happened"])
             for row in board["pinned_status"][0]["sources"]}
    assert views == {"congress": ("introduced", "Introduced in Senate", "Introduced on Dec 15, 2025"),
                     "govinfo": ("in_committee", "Read twice and referred to the Committee on the Judiciary.",
                                 "In committee on Dec 15, 2025")}
    assert board["pinned_status"][1] == {"identity": "ca/20252026/sb/747", "agree": True, "status": None,
                                         "status_source": None, "sources": [], "moves": []}
    assert board["pinned_status"][0]["agree"] is False  # congress says introduced, govinfo in committee
    assert {i["key"] for i in board["latest"]} == {"congress:119:s:3470", "govinfo:BILLSTATUS-119s3470"}


def test_starter_bivens_matches_a_real_suit_against_unknown_federal_officers(db, feeds, tmp_path):
    """Bivens suits name their defendants as unknown officers ("Six Unknown Named Agents"): the
    Fourth Circuit's real PACER feed carries Nur v. Unknown CBP Officers, No. 23-1057, whose
    entries never say "Bivens"; the starter watchlist must still hear of it, and not of an
    ordinary petition for review against the Attorney General in the same feed."""
    feeds.set("/ca4.xml", realdata("pacer_rss", "juriscraper", "ca4_1.xml").read_bytes())
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - id: ca4\n    kind: pacer_rss\n    url: {feeds.url('/ca4.xml')}\n"
                      "    court: ca4\n")
    poll(db, config)
    bivens = next(spec for spec in wl.parse_file(wl.starter_text(), "starter") if spec.name == "bivens")
    with db.session() as s:
        watchlist = CompiledWatchlist.compile(Watchlist(id=0, **bivens.model_dump()))
        matched = {item.identity for item in wl.matching_items(s, watchlist, limit=50)}
    assert matched == {"ca4/23-1057"}


@pytest.mark.parametrize(("name", "kind", "text"), [
    ("bivens", "docket", "ORDER dismissing the claims against the agents. See Egbert v. Boule, 142 S. Ct. 1793."),
    ("bivens", "opinion", "Ziglar v. Abbasi, 137 S. Ct. 1843, 1857 (2017); Hernández v. Mesa, 140 S. Ct. 735."),
    ("ftca", "entry", "NOTICE of substitution of the United States as defendant under 28 U.S.C. § 2679(d)(1)."),
    ("ftca", "opinion", "Plaintiff did not present her claim to the agency first. 28 U.S.C. § 2675(a)."),
])
def test_starter_watchlists_find_the_citations_courts_write(name, kind, text):
    """Courts cite Egbert and Ziglar by the Supreme Court Reporter as often as by U.S. Reports, and an
    FTCA docket cites the Act's sections (Westfall substitution, § 2679(d); exhaustion, § 2675(a))
    without naming it: the starter set hears of both."""
    spec = next(spec for spec in wl.parse_file(wl.starter_text(), "starter") if spec.name == name)
    watchlist = CompiledWatchlist.compile(Watchlist(id=0, **spec.model_dump()))
    assert watchlist.why_matched(match_doc_of(kind, text)) == "query"
    assert watchlist.why_matched(match_doc_of(kind, "Smith v. Jones, 142 F.4th 1793 (9th Cir. 2025).")) is None


def match_doc_of(kind: str, text: str) -> MatchDoc:
    return MatchDoc(key="k", kind=kind, source="court", title="Doe v. Unnamed Agents", text=text)


@pytest.mark.parametrize(("written", "stored"), [
    ("us/119/s/03470", "us/119/s/3470"),             # bill numbers lose padding, as every provider's do
    ("ny/2025/s/8500a", "ny/2025/s/8500"),            # and amendment letters (S8500A is a version of S8500)
    ("ca9/25-00412", "ca9/25-412"),                   # GovInfo's USCOURTS-ca9-25-00412: the court writes 25-412
    ("nysd/1:18-cv-3355", "nysd/1:18-cv-03355"),      # PACER pads a district case number to five digits
    ("NYSD/1:18-CV-03355-JMF", "nysd/1:18-cv-03355"),  # and the judge's initials are no part of the case
])
def test_a_pin_written_as_people_write_it_follows_the_stored_identity(written, stored):
    spec = wl.WatchlistSpec.model_validate({"name": "pins", "pinned": [written]})
    assert spec.pinned == [stored]
    watchlist = CompiledWatchlist.compile(Watchlist(id=0, **spec.model_dump()))
    assert watchlist.why_matched(MatchDoc(key="k", kind="opinion", source="s", identity=stored)) == f"pinned {stored}"


def test_preview_judges_the_pace_by_the_hits_that_would_alert_not_the_muted_ones(db, feeds, tmp_path):
    """On a fresh install the pace comes from the hits' own dates: S.D.N.Y.'s real feed carries 33
    notices of appearance and transcript filings in a day, which a watchlist muting them never
    sends, so it must not be warned of 33 alerts a day."""
    feeds.set("/sdny.xml", realdata("pacer_rss", "juriscraper", "sdny_1.xml").read_bytes())
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - id: sdny\n    kind: pacer_rss\n    url: {feeds.url('/sdny.xml')}\n"
                      "    court: nysd\n")
    poll(db, config)
    query = 'court:nysd ("notice of appearance" OR transcript)'
    with db.session() as s:
        loud = wl.preview(s, wl.WatchlistSpec(name="p", query=query))
        quiet = wl.preview(s, wl.WatchlistSpec(name="p", query=query, muted=["notice of appearance", "transcript"]))
    assert loud.hits == quiet.hits > 30 and loud.too_many
    assert (quiet.alerts, quiet.per_day, quiet.too_many) == (0, 0.0, False)
