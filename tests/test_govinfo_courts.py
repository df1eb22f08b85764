"""GovInfo USCOURTS feeds: the court list, one source per court, docket numbers and identities."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.sources import Fetched, Page
from monitor.sources.govinfo_courts import (
    APPELLATE,
    BANKRUPTCY,
    DISTRICT,
    GovInfoCourtsConfig,
    GovInfoCourtsSource,
    docket_number,
    identity_docket,
)
from monitor.sources.pacer_rss import PacerRssConfig, PacerRssSource
from tests.conftest import realdata, run_cli
from tests.fakes.http_server import HttpServer

EXAMPLES = Path(__file__).parent / "examples" / "govinfo_courts"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(body)
    return path


def test_courts_all_is_one_source_per_appellate_and_district_court(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "sources:\n  - {id: courts, kind: govinfo_courts, courts: all}\n"))
    ids = [s.id for s in config.sources]
    assert len(ids) == 13 + 94 and {"courts.ca9", "courts.txsd", "courts.nysd", "courts.cacd"} <= set(ids)
    assert not {f"courts.{c}" for c in BANKRUPTCY} & set(ids)
    with_bankruptcy = load_config(write(
        tmp_path, "sources:\n  - {id: courts, kind: govinfo_courts, courts: all, bankruptcy: true}\n"))
    assert len(with_bankruptcy.sources) == 13 + 94 + 91 and "courts.nysb" in {s.id for s in with_bankruptcy.sources}


def test_every_court_govinfos_opml_lists_is_covered_and_more() -> None:
    """GovInfo's OPML predates courts that publish there now (nysd): the lists are the courts themselves."""
    opml = realdata("govinfo", "rss_opml", "judicial-publications.opml").read_text()
    listed = set(re.findall(r"rss/uscourts-([a-z0-9]+)\.xml", opml))
    assert listed - {"cit"} <= set(APPELLATE + DISTRICT + BANKRUPTCY)
    assert (len(APPELLATE), len(DISTRICT), len(BANKRUPTCY)) == (13, 94, 91)
    assert {"nysd", "cacd", "ded"} <= set(DISTRICT) - listed


def test_groups_spell_out_their_courts(tmp_path: Path) -> None:
    config = load_config(write(tmp_path,
                               "sources:\n  - {id: c, kind: govinfo_courts, courts: [appellate, cit, ca9]}\n"))
    assert [s.id for s in config.sources] == [f"c.{court}" for court in (*APPELLATE, "cit")]
    bankruptcy = load_config(write(tmp_path, "sources:\n  - {id: b, kind: govinfo_courts, courts: [bankruptcy]}\n"))
    assert len(bankruptcy.sources) == len(BANKRUPTCY) == 91


def test_a_listed_court_stays_one_source_and_a_clash_is_refused(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "sources:\n  - {id: ninth, kind: govinfo_courts, courts: [ca9]}\n"))
    assert [s.id for s in config.sources] == ["ninth"]
    with pytest.raises(ConfigError, match="duplicate id 'c.ca9'"):
        load_config(write(tmp_path, "sources:\n  - {id: c.ca9, kind: rss, url: 'https://x.test/'}\n"
                                    "  - {id: c, kind: govinfo_courts, courts: [ca9, ca5]}\n"))
    with pytest.raises(ConfigError, match="not a GovInfo court code"):
        load_config(write(tmp_path, "sources:\n  - {id: c, kind: govinfo_courts, courts: ['9th circuit']}\n"))


@pytest.mark.parametrize(("case", "docket", "identity"), [
    ("1_22-cv-01461", "1:22-cv-01461", "1:22-cv-01461"),
    ("24-01234", "24-01234", "24-1234"),
    ("17-30484", "17-30484", "17-30484"),
    ("1_01-bk-13984", "1:01-bk-13984", "1:01-bk-13984"),
])
def test_docket_numbers_from_package_ids(case: str, docket: str, identity: str) -> None:
    assert docket_number(case) == docket
    assert identity_docket(case) == identity


def test_an_opinion_shares_its_identity_with_the_pacer_entries_of_its_case() -> None:
    """PACER's appellate feed writes 20-4482 where GovInfo's package id says 20-04482."""
    pacer = PacerRssSource(PacerRssConfig(id="p", kind="pacer_rss", court="ca4", url="https://ecf.ca4.uscourts.gov/rss"))
    pacer_ids = {r.identity for r in pacer.parse(Fetched(pages=(Page(
        "x", realdata("pacer_rss", "juriscraper", "ca4_1.xml").read_bytes()),)))}
    assert "ca4/20-4482" in pacer_ids
    feed = (b'<rss version="2.0"><channel><title>t</title><item><title>United States v. Doe</title>'
            b'<guid>USCOURTS-ca4-20-04482</guid><link>https://www.govinfo.gov/app/details/USCOURTS-ca4-20-04482</link>'
            b'<pubDate>Wed, 30 Sep 2026 21:51:04 GMT</pubDate></item></channel></rss>')
    source = GovInfoCourtsSource(GovInfoCourtsConfig(id="g", courts=["ca4"]))
    [record] = source.parse(Fetched(pages=(Page("x", feed, label="ca4"),)))
    assert record.identity == "ca4/20-4482" and record.data["docket_number"] == "20-04482"


def test_federal_circuit_is_named_as_courtlistener_names_it() -> None:
    feed = (b'<rss version="2.0"><channel><title>t</title><item><title>Acme v. Widget</title>'
            b'<guid>USCOURTS-ca13-24-01046</guid></item></channel></rss>')
    [record] = GovInfoCourtsSource(GovInfoCourtsConfig(id="g", courts=["ca13"])).parse(
        Fetched(pages=(Page("x", feed, label="ca13"),)))
    assert (record.court, record.identity) == ("cafc", "cafc/24-1046")


def test_example_items_link_the_pdf_and_the_details_page() -> None:
    items = json.loads((EXAMPLES / "ca9.expected.json").read_text())
    bivens = items[0]
    assert bivens["title"] == "Rosa Hernandez-Lopez v. Kristi Noem"
    assert bivens["url"] == "https://www.govinfo.gov/app/details/USCOURTS-ca9-25-00412"
    assert bivens["data"]["download_url"].endswith("/USCOURTS-ca9-25-00412/pdf/USCOURTS-ca9-25-00412-0.pdf")


def test_each_opinion_of_a_case_is_its_own_item_and_a_repeat_is_one() -> None:
    """A case's package gains a granule per opinion: the second opinion is news, a repeat is not."""
    def item(guid: str, pdf: str, date: str) -> str:
        return (f"<item><title>Doe v. Noem</title><guid>{guid}</guid><pubDate>{date}</pubDate>"
                f'<description><![CDATA[<a href="https://www.govinfo.gov/content/pkg/USCOURTS-ca9-24-01234/pdf/'
                f'{pdf}.pdf">PDF</a>]]></description></item>')
    feed = ('<rss version="2.0"><channel><title>t</title>'
            + item("USCOURTS-ca9-24-01234", "USCOURTS-ca9-24-01234-0", "Mon, 01 Jun 2026 10:00:00 GMT")
            + item("USCOURTS-ca9-24-01234-1", "USCOURTS-ca9-24-01234-1", "Wed, 30 Sep 2026 10:00:00 GMT")
            + item("USCOURTS-ca9-24-01234", "USCOURTS-ca9-24-01234-0", "Tue, 02 Jun 2026 10:00:00 GMT")
            + "</channel></rss>").encode()
    records = GovInfoCourtsSource(GovInfoCourtsConfig(id="g", courts=["ca9"])).parse(
        Fetched(pages=(Page("x", feed, label="ca9"),)))
    assert sorted((r.key, r.published_at.date().isoformat() if r.published_at else None) for r in records) == [
        ("govinfo:USCOURTS-ca9-24-01234-0", "2026-06-02"), ("govinfo:USCOURTS-ca9-24-01234-1", "2026-09-30")]
    assert {r.identity for r in records} == {"ca9/24-1234"}


def rss(items: str) -> bytes:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def parse(court: str, body: bytes) -> list[tuple[str, str | None, str, str]]:
    records = GovInfoCourtsSource(GovInfoCourtsConfig(id="g", courts=[court])).parse(
        Fetched(pages=(Page("x", body, label=court),)))
    return [(r.key, r.identity, r.title, r.data["download_url"].rsplit("/", 1)[1]) for r in records]


@pytest.mark.parametrize(("court", "body", "expected"), [
    pytest.param("nysd", rss("<item><title>Mata v. Avianca, Inc.</title><guid>USCOURTS-nysd-1_22-cv-01461-1</guid>"
                             "</item>"),
                 [("govinfo:USCOURTS-nysd-1_22-cv-01461-1", "nysd/1:22-cv-01461", "Mata v. Avianca, Inc.",
                   "USCOURTS-nysd-1_22-cv-01461-1.pdf")], id="a granule id as the guid, no description"),
    pytest.param("nysb", rss("<item><title>In re Acme Corp.</title><guid>USCOURTS-nysb-1_20-bk-12345</guid></item>"
                             "<item><title>Trustee v. Doe</title>"
                             "<link>https://www.govinfo.gov/app/details/USCOURTS-nysb-1_21-ap-01002</link></item>"),
                 [("govinfo:USCOURTS-nysb-1_20-bk-12345", "nysb/1:20-bk-12345", "In re Acme Corp.",
                   "USCOURTS-nysb-1_20-bk-12345-0.pdf"),
                  ("govinfo:USCOURTS-nysb-1_21-ap-01002", "nysb/1:21-ap-01002", "Trustee v. Doe",
                   "USCOURTS-nysb-1_21-ap-01002-0.pdf")], id="a bankruptcy case and an adversary proceeding"),
    pytest.param("nysd", rss("<item><title>Smith &amp;amp; Sons, Inc. v. O&amp;#39;Neil</title>"
                             "<guid>USCOURTS-nysd-1_23-cv-00007</guid></item>"),
                 [("govinfo:USCOURTS-nysd-1_23-cv-00007", "nysd/1:23-cv-00007", "Smith & Sons, Inc. v. O'Neil",
                   "USCOURTS-nysd-1_23-cv-00007-0.pdf")], id="entities escaped twice in the title"),
    pytest.param("nysd", rss('<item><description><![CDATA[<a href="https://www.govinfo.gov/content/pkg/'
                             'USCOURTS-nysd-1_23-cv-00008/pdf/USCOURTS-nysd-1_23-cv-00008-2.pdf">PDF</a>]]>'
                             "</description></item><item><title>No package named</title></item>"),
                 [("govinfo:USCOURTS-nysd-1_23-cv-00008-2", "nysd/1:23-cv-00008", "1:23-cv-00008",
                   "USCOURTS-nysd-1_23-cv-00008-2.pdf")], id="no title, guid, link or date: the PDF link names it"),
    pytest.param("ca9", rss("<item><title>USCOURTS-ca9-24-01234-1 - Roe v. Noem</title>"
                            "<link>https://www.govinfo.gov/app/details/USCOURTS-ca9-24-01234/USCOURTS-ca9-24-01234-1"
                            "</link></item>"),
                 [("govinfo:USCOURTS-ca9-24-01234-1", "ca9/24-1234", "Roe v. Noem", "USCOURTS-ca9-24-01234-1.pdf")],
                 id="a granule's details page as the link, its id before the name"),
    pytest.param("ca9", b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>x</id>'
                        b"<updated>2026-09-30T10:00:00Z</updated><entry><id>USCOURTS-ca9-24-01234</id>"
                        b"<title>Doe v. Noem</title><updated>2026-09-30T10:00:00Z</updated>"
                        b'<link href="https://www.govinfo.gov/app/details/USCOURTS-ca9-24-01234"/></entry></feed>',
                 [("govinfo:USCOURTS-ca9-24-01234", "ca9/24-1234", "Doe v. Noem", "USCOURTS-ca9-24-01234-0.pdf")],
                 id="an Atom feed"),
])
def test_real_quirks_of_package_ids_and_feeds(court: str, body: bytes,
                                              expected: list[tuple[str, str, str, str]]) -> None:
    assert parse(court, body) == expected


def test_a_court_with_no_govinfo_feed_fails_alone_saying_so(cli_env: dict[str, str], feeds: HttpServer,
                                                             tmp_path: Path) -> None:
    """Publishing to GovInfo is each court's choice: a court with no feed is named, the rest run."""
    feeds.set("/rss/uscourts-ca9.xml", (EXAMPLES / "ca9.xml").read_bytes())
    config = write(tmp_path, f"sources:\n  - {{id: c, kind: govinfo_courts, courts: [ca9, nmid], "
                             f"base_url: '{feeds.base}/rss'}}\n")
    result = run_cli(["run", "--once", "--json", "--config", str(config)], cli_env)
    polls = {p["source_id"]: p for p in json.loads(result.stdout)["sources"]}
    assert str(polls["c.ca9"]["outcome"]).lower() == "changed"
    assert str(polls["c.nmid"]["outcome"]).lower() == "failed"
    assert "GovInfo has no opinions feed for court 'nmid'" in polls["c.nmid"]["error"]


@pytest.mark.parametrize("first", ["court", "govinfo"])
def test_an_opinion_on_govinfo_and_the_courts_feed_is_one_decision_whichever_comes_first(
        cli_env: dict[str, str], feeds: HttpServer, slack: HttpServer, first: str) -> None:
    """The Ninth Circuit's feed dates Quintero-Vega v. Garland by its decision (Mar 12, 2024);
    GovInfo publishes the case two days later, and its feed knows only that day. That is when
    GovInfo published it, not another decision: one alert, and GovInfo's item says "Published".
    GovInfo may be read first: a decision dated on or before GovInfo published the case's opinion
    can be that opinion, and is. Before, it was a "new decision", and the watchlist heard the same
    opinion twice ("Published on Mar 14", then "Decided on Mar 12")."""
    court = (Path(__file__).parent / "examples" / "rss" / "ca9_opinions.xml").read_text()
    start = court.index("<item>")
    without = court[:start] + court[court.index("</item>", start) + len("</item>"):]
    package = ('<item><title>Marisol Quintero-Vega v. Merrick Garland</title><guid isPermaLink="false">'
               "USCOURTS-ca9-22-70417</guid><link>https://www.govinfo.gov/app/details/USCOURTS-ca9-22-70417</link>"
               "<pubDate>Thu, 14 Mar 2024 15:20:00 GMT</pubDate></item>")
    gov = (EXAMPLES / "ca9.xml").read_text()
    feeds.set("/ca9_opinions.xml", without)
    feeds.set("/rss/uscourts-ca9.xml", gov)
    env = cli_env | {"COLUMNS": "300"}
    Path(env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - {{id: ca9-opinions, kind: rss, flavor: ca9, url: '{feeds.url('/ca9_opinions.xml')}'}}\n"
        f"  - {{id: gi, kind: govinfo_courts, courts: [ca9], base_url: '{feeds.base}/rss'}}\n")
    for args in (["init"], ["watchlist", "add", "case", "--pin", "ca9/22-70417"],
                 ["subscribe", "case", "slack:" + slack.url()], ["run", "--once"]):
        assert run_cli(args, env).returncode == 0
    published = {"court": ("/ca9_opinions.xml", court),
                 "govinfo": ("/rss/uscourts-ca9.xml", gov.replace("<item>", package + "<item>", 1))}
    for provider in (first, *(set(published) - {first})):
        feeds.set(*published[provider])
        assert run_cli(["run", "--once"], env).returncode == 0
    (message,) = [json.dumps(r.json()["blocks"]) for r in slack.requests]
    assert "Quintero-Vega" in message
    if first == "court":
        assert "Decided on Mar 12, 2024" in message
        shown = run_cli(["items", "show", "govinfo:USCOURTS-ca9-22-70417"], env).stdout
        assert "Decided on Mar 14" not in shown
