"""Follow-on-match: a discovered bill that a watchlist matches is followed once, with a notice,
and becomes a polled source; a watchlist can turn it off, and a pinned bill is tracked already."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import follow
from monitor.cli import watchlist_admin as wl
from monitor.config import load_config
from monitor.db import Database
from monitor.models import FollowedBill
from monitor.sources import Fetched, Page
from monitor.sources.govinfo_bill_feed import GovInfoBillFeedConfig, GovInfoBillFeedSource
from monitor.sources.govinfo_billstatus import BillStatusConfig

EXAMPLES = Path(__file__).parent / "examples" / "govinfo_bill_feed"
CONFIG = """\
sources:
  - id: govinfo-bills
    kind: govinfo_bill_feed
    billstatus_url: http://127.0.0.1:1/bulk
    follow_interval: 3h
  - id: remedy-bills
    kind: govinfo_billstatus
    congress: 119
    bills: [S. 3187]
"""


def discovered() -> list:
    source = GovInfoBillFeedSource(GovInfoBillFeedConfig(id="govinfo-bills"))
    return source.parse(Fetched(pages=(Page("x", (EXAMPLES / "bills.xml").read_bytes()),)))


def add(db: Database, name: str, query: str, **extra: object) -> None:
    with db.session() as session:
        wl.apply(session, wl.WatchlistSpec(name=name, query=query, **extra))


def test_a_matching_discovered_bill_is_followed_once_with_a_notice(db: Database, tmp_path: Path) -> None:
    add(db, "qualified-immunity", '"qualified immunity" kind:bill')
    config = GovInfoBillFeedConfig(id="govinfo-bills")
    with db.session() as session:
        notices = follow.after_poll(session, config, discovered())
    assert notices == ["now following H.R. 10660 (matched watchlist 'qualified-immunity')"]
    with db.session() as session:  # the same bill again (the next poll): nothing new
        assert follow.after_poll(session, config, discovered()) == []
        [row] = session.scalars(select(FollowedBill)).all()
        assert (row.identity, row.label, row.found_by, row.why) == ("us/119/hr/10660", "H.R. 10660", "govinfo-bills",
                                                                    "query")
        board = wl.board(session, wl.get(session, "qualified-immunity"))
    assert [f["notice"] for f in board["following"]] == notices


def test_only_discovery_sources_follow_and_a_watchlist_can_say_no(db: Database) -> None:
    add(db, "quiet", '"qualified immunity"', follow_matches=False)
    add(db, "bivens", "bivens", pinned=["us/119/s/3187"])
    with db.session() as session:
        assert follow.after_poll(session, GovInfoBillFeedConfig(id="govinfo-bills"), discovered()) == []
        add(db, "loud", '"qualified immunity"')
        not_discovery = BillStatusConfig(id="remedy-bills", congress=119, bills=["H.R. 10660"])
        assert follow.after_poll(session, not_discovery, discovered()) == []
        assert session.scalars(select(FollowedBill)).all() == []


def test_followed_bills_become_sources_on_the_feeds_schedule(db: Database, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(CONFIG)
    config = load_config(path)
    add(db, "any-bill", "kind:bill")
    with db.session() as session:
        notices = follow.after_poll(session, config.get("govinfo-bills"), discovered())
    assert len(notices) == 3  # H.R. 10660, S. 3187, H.J.Res. 45
    extended = follow.with_followed(config, db)
    added = extended.sources[len(config.sources):]
    # S. 3187 is already polled by remedy-bills: not twice
    assert [s.id for s in added] == ["follow.us-119-hr-10660", "follow.us-119-hjres-45"]
    first = added[0]
    assert isinstance(first, BillStatusConfig)
    assert (first.bills, first.congress, first.base_url, first.interval) == (
        ["H.R. 10660"], 119, "http://127.0.0.1:1/bulk", "3h")
    monkeypatch.setenv("CONGRESS_API_KEY", "k")  # with a key, congress.gov's record of each too
    keyed = follow.with_followed(config, db).sources[len(config.sources):]
    assert [(s.id, s.kind) for s in keyed] == [
        ("follow.us-119-hr-10660", "govinfo_billstatus"), ("follow.us-119-hr-10660.congress", "congress_bill"),
        ("follow.us-119-hjres-45", "govinfo_billstatus"), ("follow.us-119-hjres-45.congress", "congress_bill")]


def test_a_state_search_follows_what_it_finds_and_a_named_bill_source_does_not(db: Database) -> None:
    from monitor.sources.openstates import OpenStatesConfig, OpenStatesSource

    add(db, "state-private-rights", 'kind:bill NOT jurisdiction:us ("bivens act" OR "federal officer")')
    page = (EXAMPLES.parent / "openstates" / "il_hb1312" / "page1.json").read_bytes()
    search = OpenStatesConfig(id="openstates-search-il", jurisdiction="il", q='"federal officer" OR Bivens')
    named = OpenStatesConfig(id="openstates-il", jurisdiction="il", identifiers=["HB 1312"])
    records = OpenStatesSource(search).parse(Fetched(pages=(Page("x", page, label="page1"),)))
    with db.session() as session:
        assert follow.after_poll(session, named, records) == []
        assert follow.after_poll(session, search, records) == [
            "now following HB 1312 (matched watchlist 'state-private-rights')"]
        board = wl.board(session, wl.get(session, "state-private-rights"))
    assert [f["identity"] for f in board["following"]] == ["il/104/hb/1312"]


def test_the_service_schedules_a_bill_followed_while_it_runs(db: Database, tmp_path: Path) -> None:
    from monitor.drivers.service import Service
    from monitor.models import Source

    path = tmp_path / "sources.yaml"
    path.write_text(CONFIG)
    service = Service(db, load_config(path))
    add(db, "qualified-immunity", '"qualified immunity"')
    with db.session() as session:
        follow.after_poll(session, service.config.get("govinfo-bills"), discovered())
    service.follow_bills()  # what a discovery source's poll is followed by
    assert "follow.us-119-hr-10660" in {s.id for s in service.config.enabled_sources()}
    with db.session() as session:
        assert session.get(Source, "follow.us-119-hr-10660") is not None
