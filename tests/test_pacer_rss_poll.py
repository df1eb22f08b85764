"""A pacer_rss source end to end: real PACER feed bytes over a local server, stored, alerted once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.models import Change, Item
from tests.conftest import realdata
from tests.fakes.http_server import HttpServer
from tests.test_pipeline import count, poll, subscribe

ROUTE = "/cgi-bin/rss_outside.pl"


def write_config(path: Path, feeds: HttpServer) -> Path:
    # A local URL has no ecf.<court> host, so the court is named.
    path.write_text(f"sources:\n  - id: ca10-pacer\n    kind: pacer_rss\n    url: {feeds.url(ROUTE)}\n"
                    "    court: ca10\n    timezone: America/Denver\n")
    return path


def test_pacer_feed_polls_into_docket_entries_and_alerts_on_a_new_one(db, feeds, slack, tmp_path):
    full = realdata("pacer_rss", "juriscraper", "ca10.xml").read_bytes()
    # The same feed an hour earlier: without its newest item (United States v. Kahn).
    items = re.findall(rb"<item>.*?</item>", full, re.DOTALL)
    earlier = full.replace(items[0], b"", 1)
    feeds.set(ROUTE, earlier, content_type="application/rss+xml; charset=ISO-8859-1")
    config = write_config(tmp_path / "sources.yaml", feeds)
    subscribe(db, slack, query="kahn")

    result = poll(db, config)
    assert result.polls[0].outcome == "changed" and result.polls[0].new == 5
    assert count(db, Change) == 0 and slack.requests == []  # first poll is the baseline

    feeds.set(ROUTE, full, content_type="application/rss+xml; charset=ISO-8859-1")
    result = poll(db, config)
    assert result.polls[0].new == 1
    with db.session() as s:
        item = s.scalar(select(Item).where(Item.key == "pacer:ca10:19-8054:010010807970"))
        assert item is not None
        assert (item.kind, item.status, item.identity, item.court) == ("entry", "filed", "ca10/19-8054", "ca10")
        assert item.raw_status == "Case termination for opinion"
        assert item.url == "https://ecf.ca10.uscourts.gov/docs1/010010807970"
        assert [c.type for c in s.scalars(select(Change))] == ["new"]
    assert len(slack.requests) == 1
    assert "United States v. Kahn" in slack.requests[0].json()["text"]

    poll(db, config)  # same feed again: nothing new, nothing sent
    assert len(slack.requests) == 1 and count(db, Item) == 6


def test_court_comes_from_the_host_or_must_be_named(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - id: ok\n    kind: pacer_rss\n    url: https://ecf.nysb.uscourts.gov/cgi-bin/rss_outside.pl\n")
    assert load_config(path).get("ok").court == "nysb"
    path.write_text("sources:\n  - id: local\n    kind: pacer_rss\n    url: http://127.0.0.1/rss\n")
    with pytest.raises(ConfigError, match=r"sources.yaml:2: source 'local': field 'court': .*ecf.<court>.uscourts.gov"):
        load_config(path)
    path.write_text("sources:\n  - id: tz\n    kind: pacer_rss\n    url: https://ecf.ilnd.uscourts.gov/cgi-bin/rss_outside.pl\n"
                    "    timezone: America/Chicgo\n")
    with pytest.raises(ConfigError, match=r"sources.yaml:5: .*unknown time zone 'America/Chicgo'"):
        load_config(path)


def test_a_district_entry_is_dated_the_day_the_court_entered_it(db, feeds, tmp_path):
    """District and bankruptcy feeds stamp entries in GMT; without a configured timezone the date
    is the court's own: 00:09:55 GMT on Apr 18 is 8:09 pm on Apr 17 in New York, the day S.D.N.Y.
    entered Chau v. Donovan's notice of appearance (an evening filing is not the next day's)."""
    feeds.set("/rss_outside.pl", realdata("pacer_rss", "juriscraper", "sdny_1.xml").read_bytes())
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - id: nysd\n    kind: pacer_rss\n    url: {feeds.url('/rss_outside.pl')}\n"
                      "    court: nysd\n")
    poll(db, config)
    with db.session() as s:
        entry = s.scalars(select(Item).where(Item.key == "pacer:nysd:1:18-cv-03365:3")).one()
    assert entry.status_date.isoformat() == "2018-04-17"
