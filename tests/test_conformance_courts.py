"""Court feeds against juriscraper's own expected output, read in place from ../shared/realdata.

PACER RSS: ``pacer_rss/juriscraper/<court>[_n].xml`` + ``.expected.json`` (PacerRssFeed(court).data).
Opinion feeds: ``court_opinion_feeds/<court>_*.xml`` + ``.compare.json`` (the scraper's output).
Also: fastfeedparser and feedparser must see the same entries in every real feed, and a feed
broken by one stray ``&`` or one bad byte must still give every entry.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.sanity import sanity_check
from monitor.sources.base import Fetched, Page
from monitor.sources.feedparse import (
    FeedEntry,
    clean_feed_bytes,
    parse_feed,
    parse_with_fastfeedparser,
    parse_with_feedparser,
    plain_text,
)
from monitor.sources.pacer_rss import PacerRssConfig, PacerRssSource
from monitor.sources.rss import RssConfig, RssSource
from tests.conftest import REALDATA, realdata, realdata_files

PACER_FILES = sorted((REALDATA / "pacer_rss" / "juriscraper").glob("*.xml"))
OPINION_FEEDS = {"ca7_opinions_rss": "ca7", "ca10_daily_decisions_rss": "ca10",
                 "cafc_opinion_order_wordpress_rss": "cafc"}
ALL_FEEDS = sorted(REALDATA.glob("pacer_rss/*/*.xml")) + sorted(REALDATA.glob("court_opinion_feeds/*.xml"))
# juriscraper's own harmonize() turns "S.A. DE C.V. v." into "De C v. v."; we keep "C.V.".
JURISCRAPER_BUGS = {"Alpek Polyester, S.A. De C v. v. Polymetrix Ag": "Alpek Polyester, S.A. De C.V. v. Polymetrix Ag"}


def pacer(court: str, body: bytes) -> list:
    source = PacerRssSource(PacerRssConfig(id=f"pacer-{court}", url=f"https://ecf.{court}.uscourts.gov/cgi-bin/rss_outside.pl"))
    records = source.parse(Fetched(pages=(Page("file://feed", body),)))
    sanity_check(records)
    return records


def opinions(flavor: str, body: bytes) -> list:
    source = RssSource(RssConfig(id=f"{flavor}-opinions", url="https://court.example/rss", flavor=flavor))
    records = source.parse(Fetched(pages=(Page("file://feed", body),)))
    sanity_check(records)
    return records


def test_realdata_present() -> None:
    realdata("pacer_rss")
    assert PACER_FILES and ALL_FEEDS, "no court feeds found in realdata"


@pytest.mark.parametrize("path", realdata_files(PACER_FILES), ids=lambda p: p.stem)
def test_pacer_feed_matches_juriscraper(path: Path) -> None:
    court = path.stem.split("_")[0]
    expected = json.loads(path.with_suffix("").with_suffix(".expected.json").read_text())
    records = pacer(court, path.read_bytes())
    # One record per juriscraper docket, except one entry echoed into several defendants'
    # cases (same document): one record listing every PACER case id.
    got = {}
    for record in records:
        for case_id in record.data["pacer_case_ids"] or [None]:
            got[(record.data["docket_number"], record.data["document_number"], case_id,
                 record.data["pacer_doc_id"] or "", dt.datetime.fromisoformat(record.data["date_filed"]))] = record
    assert len(got) == len(expected)
    for docket in expected:
        entry = docket["docket_entries"][0]
        record = got[(docket["docket_number"], entry["document_number"], docket["pacer_case_id"], entry["pacer_doc_id"],
                      dt.datetime.fromisoformat(entry["date_filed"]))]
        data = record.data
        if docket["pacer_case_id"] in (data["pacer_case_id"], None):
            assert data["case_name"] == docket["case_name"]
        assert record.court == docket["court_id"] == court
        assert record.identity == f"{court}/{docket['docket_number']}"
        assert record.kind == "entry" and record.status == "filed"
        assert dt.datetime.fromisoformat(data["date_filed"]) == dt.datetime.fromisoformat(entry["date_filed"])
        assert data["short_description"] == entry["short_description"]
        assert data["pacer_seq_no"] == entry["pacer_seq_no"]
        for name in ("type", "office", "chapter"):
            if docket.get(name):
                assert data[name] == docket[name]
        if docket.get("trustee_str"):
            assert data["trustee"] == docket["trustee_str"]
        number = entry["document_number"]
        assert record.key == f"pacer:{court}:{docket['docket_number']}:{number}" if number else record.key.startswith(
            f"pacer:{court}:{docket['docket_number']}:h:")


def test_pacer_unnumbered_entry_gets_a_stable_hash_key() -> None:
    body = realdata("pacer_rss", "courtlistener", "rss_sample_unnumbered_mdb.xml").read_bytes()
    [record] = pacer("mdb", body)
    assert record.key.startswith("pacer:mdb:18-00079:h:")
    assert record.key == pacer("mdb", body)[0].key
    assert record.data["case_name"] == "Dozier v. CN of Dundalk, Inc. d/b/a CNAC of D"
    assert record.data["document_number"] is None and record.raw_status == "Close Adversary Case"
    assert (record.data["type"], record.data["office"], record.data["chapter"]) == ("ap", "1", "")
    assert record.url == "https://ecf.mdb.uscourts.gov/cgi-bin/DktRpt.pl?711557"


def test_pacer_appellate_feed_from_courtlistener_assets() -> None:
    records = pacer("ca10", realdata("pacer_rss", "courtlistener", "rss_ca10.xml").read_bytes())
    assert [(r.identity, r.data["document_number"], r.raw_status) for r in records] == [
        ("ca10/22-2127", "010010808570", "Case termination for COA"),
        ("ca10/22-2040", "010010808566", "Case termination for order and judgment"),
        ("ca10/22-6180", "010010808502", "Case termination for COA"),
    ]
    assert records[0].status_date == dt.date(2023, 2, 6)


@pytest.mark.parametrize("stem", sorted(OPINION_FEEDS))
def test_opinion_feed_matches_juriscraper(stem: str) -> None:
    path = realdata("court_opinion_feeds", f"{stem}.xml")
    expected = json.loads(path.with_suffix(".compare.json").read_text())
    court = OPINION_FEEDS[stem]
    records = opinions(court, path.read_bytes())
    by_url = {r.url: r for r in records}
    assert len(records) == len(expected)
    for case in expected:
        record = by_url[case["download_urls"]]
        name = JURISCRAPER_BUGS.get(case["case_names"], case["case_names"])
        # cafc captions are all capitals: juriscraper's title-casing keeps some acronyms (MSPB)
        # and not others (Itc), so case is not part of the comparison there.
        assert record.data["case_name"].casefold() == name.casefold()
        if court != "cafc":
            assert record.data["case_name"] == name
        assert record.status_date.isoformat() == case["case_dates"]
        assert record.data["docket_number"] == case["docket_numbers"]
        assert record.raw_status == case["precedential_statuses"]
        assert (record.kind, record.status, record.court) == ("opinion", "decided", court)
        assert record.identity == f"{court}/{case['docket_numbers']}"
        for field in ("judges", "authors", "lower_courts"):
            if field in case:
                assert (record.data[{"judges": "judge", "authors": "author", "lower_courts": "lower_court"}[field]]
                        == case[field])


def comparable(entry: FeedEntry) -> tuple:
    return (entry.id, entry.title, entry.link, entry.published, plain_text(entry.summary), entry.author,
            entry.categories)


@pytest.mark.parametrize("path", realdata_files(ALL_FEEDS), ids=lambda p: p.stem)
def test_fast_parser_agrees_with_feedparser(path: Path) -> None:
    body = clean_feed_bytes(path.read_bytes())
    fast = parse_with_fastfeedparser(body)
    slow = parse_with_feedparser(body)
    assert len(fast.entries) == len(slow.entries) > 0
    for a, b in zip(fast.entries, slow.entries, strict=True):
        assert comparable(a) == comparable(b)
    assert parse_feed(path.read_bytes()).parser == "fastfeedparser"


def test_stray_ampersand_costs_nothing() -> None:
    body = realdata("pacer_rss", "juriscraper", "ca10.xml").read_bytes()
    broken = body.replace(b"United States v. Kahn", b"United States & Kahn")
    records = pacer("ca10", broken)
    assert len(records) == len(pacer("ca10", body)) == 6
    assert records[0].data["case_name"] == "United States & Kahn"

    opinion_body = realdata("court_opinion_feeds", "ca7_opinions_rss.xml").read_bytes()
    broken = opinion_body.replace(b"Catrina Bragg v.", b"Catrina Bragg & Co v.", 1)
    records = opinions("ca7", broken)
    assert len(records) == 5 and records[0].data["case_name"] == "Catrina Bragg & Co v. Munster Medical Research Found"


def test_stray_less_than_is_kept_as_text() -> None:
    body = realdata("pacer_rss", "juriscraper", "ca10.xml").read_bytes()
    records = pacer("ca10", body.replace(b"Singh v. Garland", b"Singh <> Garland"))
    assert len(records) == 6 and records[1].data["case_name"] == "Singh <> Garland"


def test_feedparser_takes_over_when_the_fast_parse_comes_up_short() -> None:
    body = realdata("pacer_rss", "juriscraper", "ca10.xml").read_bytes()
    # An unclosed tag in one title: lxml's recovery swallows the items after it.
    broken = body.replace(b"Singh v. Garland</title>", b"Singh v. Garland<b></title>")
    assert len(parse_with_fastfeedparser(clean_feed_bytes(broken)).entries) < 6
    feed = parse_feed(broken)
    assert feed.parser == "feedparser" and len(feed.entries) == 6
    assert [r.identity for r in pacer("ca10", broken)] == [r.identity for r in pacer("ca10", body)]


def test_bad_bytes_and_wrong_charset_cost_one_character() -> None:
    body = realdata("pacer_rss", "juriscraper", "nysb_1.xml").read_bytes()
    expected = pacer("nysb", body)
    # A NUL and a form feed (illegal in XML), and UTF-8 pasted into the ISO-8859-1 feed.
    broken = body.replace(b"Primrose McLean", b"Primrose\x00 Mc\x0cLean", 1)
    broken = broken.replace(b"Carmen Abreu", "Carmen Abreú".encode(), 1)
    records = pacer("nysb", broken)
    assert len(records) == len(expected) == 160
    names = {r.data["case_name"] for r in records}
    assert {"Primrose McLean", "Carmen Abreú"} <= names
    # And a Latin-1 byte in a feed that is otherwise UTF-8 (cafc declares UTF-8).
    cafc = realdata("court_opinion_feeds", "cafc_opinion_order_wordpress_rss.xml").read_bytes()
    mixed = cafc.replace(b"KYOCERA SENCO", b"KYOCERA S\xc9NCO", 1)
    records = opinions("cafc", mixed)
    assert len(records) == 100 and records[0].data["case_name"] == "Kyocera Sénco Indus. Tools Inc v. ITC"


def test_an_html_page_is_an_error_not_an_empty_feed() -> None:
    # PACER answers an outage or a login wall with an HTML page and status 200.
    with pytest.raises(ParseError, match="not an RSS/Atom feed"):
        pacer("nysd", b"<html><head><title>CM/ECF</title></head><body><h1>Service unavailable</h1></body></html>")
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Recent Entries</title></channel></rss>'
    assert pacer("nysd", empty) == []


def test_a_guid_is_not_a_date() -> None:
    # fastfeedparser reads a date out of a guid when an item has none: "33.0" became 2033, and a
    # poll with a date years ahead fails the sanity check. Only date elements give a date.
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Orders</title>'
            b'<item><guid>33.0</guid><title>Order 33</title><link>https://example.org/33</link></item>'
            b'<item><guid>34.0</guid><title>Order 34</title><link>https://example.org/34</link>'
            b'<pubDate>Tue, 03 Nov 2026 10:00:00 GMT</pubDate></item>'
            b'</channel></rss>')
    feed = parse_feed(body)
    assert feed.parser == "fastfeedparser"
    assert [e.published for e in feed.entries] == [None, dt.datetime(2026, 11, 3, 10, tzinfo=dt.UTC)]
    assert [e.published for e in parse_with_feedparser(body).entries] == [e.published for e in feed.entries]
