"""Case names: every court item, whatever brought it, gets the court's own spelling of its caption.

The all-caps feeds (the Ninth Circuit's, cafc's) against juriscraper's expected output, kept in
tests/peers/juriscraper (see tests/peers/PROVENANCE.md); every difference is listed with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.normalise.casenames import case_name
from monitor.sources.base import Fetched, Page
from monitor.sources.rss import RssConfig, RssSource

EXAMPLES = Path(__file__).parent / "examples" / "rss"
PEERS = Path(__file__).parent / "peers" / "juriscraper"

# Where we differ from juriscraper on purpose. Its titlecase() lower-cases acronyms it does not
# know (CFPB, CNN, MNG, PCH, HTP, SJ) and writes "In Re:"; courts write "In re" and keep them.
# "dreamstime.com" is a first word juriscraper leaves in lower case.
OURS_ON_PURPOSE = {
    "dreamstime.com, LLC v. Google LLC": "Dreamstime.com, LLC v. Google LLC",
    "In Re: Sandra Tillman v. Lawrence Warfield": "In re: Sandra Tillman v. Lawrence Warfield",
    "Gciu-Employer Retirement Fund v. Mng Enterprises, Inc.": "Gciu-Employer Retirement Fund v. MNG Enterprises, Inc.",
    "James Shayler v. 1310 Pch, LLC": "James Shayler v. 1310 PCH, LLC",
    "In Re: Sj Group LLC v. Eric Haley": "In re: SJ Group LLC v. Eric Haley",
    "Htp, Inc. v. First Merit Group Holdings": "HTP, Inc. v. First Merit Group Holdings",
    "Cfpb v. Jawad Nesheiwat": "CFPB v. Jawad Nesheiwat",
    "In Re: Mark D. Waldron v. Perkins Coie LLP": "In re: Mark D. Waldron v. Perkins Coie LLP",
    "In Re: Brian K. Stanley v. Anthony Mason": "In re: Brian K. Stanley v. Anthony Mason",
    "Jesse Graham v. Cnn": "Jesse Graham v. CNN",
    "In Re: Rouhel Feinstein v. Tammy R. Phillips": "In re: Rouhel Feinstein v. Tammy R. Phillips",
    "In Re: James Rodriguez v. State Farm Mut. Auto. Ins. Co.": "In re: James Rodriguez v. State Farm Mut. Auto. Ins. Co.",
    "Unicolors, Inc. v. H&M Hennes & Mauritz, Lp": "Unicolors, Inc. v. H&M Hennes & Mauritz, LP",
}
FEEDS = {
    "ca9_opinions": "ca9",
    "ca9_memoranda": "ca9",
    "cadc_opinions": "cadc",
    "cadc_judgments": "cadc",
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("USA V. JONATHAN ANDERSON", "United States v. Jonathan Anderson"),
        ("CARA JONES, ET AL V. GOOGLE LLC, ET AL", "Cara Jones v. Google LLC"),
        ("U.S.A. V. MARIA LOPEZ", "United States v. Maria Lopez"),
        ("JANE DOE V. ICE, ET AL", "Jane Doe v. ICE"),
        ("A.B. V. DHS", "A.B. v. DHS"),
        ("NEW YORK TIMES CO. V. FBI", "New York Times Co. v. FBI"),
        ("JOHN ROE V. U.S. DEP'T OF STATE", "John Roe v. U.S. Dep't of State"),
        ("UNITED STATES EX REL. JONES V. ACME CORP.", "United States ex rel. Jones v. Acme Corp."),
        ("MARK BAX V. DOCTORS MED. CTR. OF MODESTO", "Mark Bax v. Doctors Med. Ctr. of Modesto"),
        ("SMITH V. MCDONALD", "Smith v. McDonald"),
        ("IN RE: SEALED CASE", "In re: Sealed Case"),
        (
            "ERIC DODGE V. EVERGREEN SCHOOL DISTRICT #114, ET AL",
            "Eric Dodge v. Evergreen School District 114",
        ),
        # Mixed case is the court's own: harmonised (vs., et al., USA), never re-cased.
        ("USA v. Russel Washington", "United States v. Russel Washington"),
        ("Thomas Gust vs. USA", "Thomas Gust v. United States"),
        (
            "Ryan Bundy v. Jefferson B. Session, III, et al.",
            "Ryan Bundy v. Jefferson B. Session, III",
        ),
        ("eBay Inc. v. MercExchange, L.L.C.", "eBay Inc. v. MercExchange, L.L.C."),
    ],
)
def test_case_name(raw: str, expected: str) -> None:
    assert case_name(raw) == expected


def parse(stem: str, flavor: str, item_kind: str | None = None) -> list:
    config = RssConfig(
        id="feed", url="https://court.example/rss", flavor=flavor, item_kind=item_kind
    )
    return RssSource(config).parse(
        Fetched(pages=(Page("file://feed", (EXAMPLES / f"{stem}.xml").read_bytes()),))
    )


@pytest.mark.parametrize("stem", sorted(FEEDS))
def test_appellate_feed_matches_juriscraper(stem: str) -> None:
    court = FEEDS[stem]
    expected = json.loads((PEERS / f"{stem}.compare.json").read_text())
    records = {r.url: r for r in parse(stem, court)}
    assert len(records) == len(expected)
    for case in expected:
        record = records[case["download_urls"]]
        assert record.data["case_name"] == OURS_ON_PURPOSE.get(
            case["case_names"], case["case_names"]
        )
        assert record.title == record.data["case_name"]
        assert (
            record.status_date.isoformat(),
            record.data["docket_number"],
            record.raw_status,
        ) == (case["case_dates"], case["docket_numbers"], case["precedential_statuses"])
        assert record.identity == f"{court}/{case['docket_numbers']}" and record.court == court
        assert record.data["raw_title"]  # as sent, beside the normalised title


def test_a_generic_feed_of_opinions_gets_the_same_names_and_keeps_the_raw_title() -> None:
    flavoured = {r.url: r.title for r in parse("ca9_opinions", "ca9")}
    generic = parse("ca9_opinions", "generic", item_kind="opinion")
    assert {r.url: r.title for r in generic} == flavoured
    anderson = next(r for r in generic if r.data["raw_title"] == "USA V. JONATHAN ANDERSON")
    assert anderson.title == anderson.data["case_name"] == "United States v. Jonathan Anderson"
    jones = next(
        r for r in generic if r.data["raw_title"] == "CARA JONES, ET AL V. GOOGLE LLC, ET AL"
    )
    assert jones.title == "Cara Jones v. Google LLC"


def test_a_generic_feed_of_articles_keeps_its_titles() -> None:
    records = parse("ca9_opinions", "generic")
    assert (
        records[0].kind == "article"
        and records[0].title == "IDANIA PEREZ-PORTILLO, ET AL V. MERRICK GARLAND"
    )
    assert "raw_title" not in records[0].data


def test_a_generic_feed_from_a_court_host_gets_case_names_without_any_setting() -> None:
    config = RssConfig(id="ca9", url="https://www.ca9.uscourts.gov/decisions/opinions/index.xml")
    body = (EXAMPLES / "ca9_opinions.xml").read_bytes()
    records = RssSource(config).parse(Fetched(pages=(Page("file://feed", body),)))
    anderson = next(r for r in records if r.data.get("raw_title") == "USA V. JONATHAN ANDERSON")
    assert (anderson.kind, anderson.title) == ("article", "United States v. Jonathan Anderson")
