"""The html kind: the supremecourt.gov preset against juriscraper's expected parse, and a real poll."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.errors import ParseError
from monitor.models import Item
from monitor.sanity import sanity_check
from monitor.sources.base import Fetched, Page
from monitor.sources.html import HtmlConfig, HtmlSource
from tests.conftest import realdata
from tests.test_pipeline import poll

EXAMPLES = Path(__file__).parent / "examples" / "html"
SCOTUS = {"id": "scotus", "kind": "html", "url": "https://www.supremecourt.gov/opinions/slipopinion/22",
          "preset": "scotus_slip_opinions"}


def parse(config: dict, body: bytes) -> list:
    return HtmlSource(HtmlConfig.model_validate(config)).parse(Fetched(pages=(Page("test", body),)))


def test_scotus_preset_matches_juriscrapers_expected_parse():
    page = realdata("supremecourt", "scotus_slip_opinions_page.html").read_bytes()
    expected = json.loads(realdata("supremecourt", "scotus_slip_opinions_page.compare.json").read_text())
    records = parse(SCOTUS, page)
    sanity_check(records)
    got = sorted((r.key.removeprefix("html:scotus:"), r.title, r.status_date.isoformat(), r.url) for r in records)
    want = sorted((e["docket_numbers"], e["case_names"], e["case_dates"], e["download_urls"]) for e in expected)
    assert len(got) == len(want) == 58
    assert got == want
    assert {r.kind for r in records} == {"opinion"} and {r.status for r in records} == {"decided"}
    citations = {e["docket_numbers"]: e["citations"] for e in expected}
    assert all(r.data["citation"] == citations[r.key.removeprefix("html:scotus:")] for r in records)
    assert all(r.identity == "scotus/" + r.key.removeprefix("html:scotus:").lower() for r in records)


def test_config_fields_override_the_preset():
    config = HtmlConfig.model_validate(SCOTUS | {"item_kind": "document", "court": "us-supreme"})
    assert (config.item_kind, config.court, config.item) == ("document", "us-supreme", "table.table-bordered tr")


def test_a_redesigned_page_is_a_parse_error_not_an_empty_poll():
    with pytest.raises(ParseError, match="matches nothing"):
        parse(SCOTUS, b"<html><body><p>We have moved the opinions.</p></body></html>")


def test_an_unknown_date_format_is_a_parse_error():
    body = (EXAMPLES / "scotus_slip_opinions.html").read_bytes().replace(b"1/20/26", b"Jan. 20")
    with pytest.raises(ParseError, match="Jan. 20"):
        parse(SCOTUS, body)


def test_poll_stores_the_page_then_revalidates_and_fails_clearly(db, feeds, tmp_path):
    feeds.set("/opinions/slipopinion/25", (EXAMPLES / "scotus_slip_opinions.html").read_bytes(), etag=True,
              content_type="text/html; charset=utf-8")
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - id: scotus\n    kind: html\n    preset: scotus_slip_opinions\n"
                      f"    url: {feeds.url('/opinions/slipopinion/25')}\n")
    first = poll(db, config).polls[0]
    assert first.new == 2
    with db.session() as s:
        urls = sorted(s.scalars(select(Item.url)))
    assert urls == [feeds.url("/opinions/25pdf/24-1089_4h2k.pdf"), feeds.url("/opinions/25pdf/24-813_p8k1.pdf")]
    assert poll(db, config).polls[0].outcome == "unchanged"
    assert feeds.requests[-1].headers.get("if-none-match")

    feeds.set("/opinions/slipopinion/25", "Forbidden", status=403, content_type="text/plain")
    failed = poll(db, config).polls[0]
    assert failed.outcome == "failed" and "403" in failed.error


@pytest.mark.parametrize("published", ["current", "last"])
def test_the_slip_opinions_page_of_the_term_in_progress(db, feeds, tmp_path, published):
    """``{term}`` in the url is the October Term in progress: a config naming one term went quiet
    when the next began (OT2025's page in December 2026). Until the new term's page exists (it
    appears with its first opinion) the last term's is read."""
    today = dt.date.today()
    term = today.year if today.month >= 10 else today.year - 1
    served = term if published == "current" else term - 1
    feeds.set(f"/opinions/slipopinion/{served % 100:02d}", (EXAMPLES / "scotus_slip_opinions.html").read_bytes(),
              content_type="text/html; charset=utf-8")
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - id: scotus\n    kind: html\n    preset: scotus_slip_opinions\n"
                      f"    url: '{feeds.url('/opinions/slipopinion/{term}')}'\n")
    result = poll(db, config).polls[0]
    assert result.outcome == "changed" and result.new == 2
    assert feeds.requests[0].path == f"/opinions/slipopinion/{term % 100:02d}"


def test_a_new_terms_page_before_its_first_opinion_is_a_quiet_poll_not_a_failure(db, feeds, tmp_path):
    """From October the term in progress is the new one, whose page shows its opinions table empty
    until the first decision, often in December (juriscraper's scotus_slip crashed on that page in
    November 2023, its PR 772). Before: every poll failed ("none has a title") for two months, an
    outage with its admin notice and `run --once` exiting 1, for a court that had simply not ruled yet."""
    today = dt.date.today()
    term = today.year if today.month >= 10 else today.year - 1
    page = (EXAMPLES / "scotus_slip_opinions.html").read_text()
    rows = page.index("<tr>", page.index("</tr>"))
    empty = page[:rows] + page[page.index("</table>"):]
    feeds.set(f"/opinions/slipopinion/{term % 100:02d}", empty, content_type="text/html; charset=utf-8")
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - id: scotus\n    kind: html\n    preset: scotus_slip_opinions\n"
                      f"    url: '{feeds.url('/opinions/slipopinion/{term}')}'\n")
    result = poll(db, config).polls[0]
    assert result.outcome != "failed", result.error
    assert result.new == 0


def test_an_application_docket_has_the_identity_courtlistener_gives_it():
    """The Court decides some emergency applications by a per curiam listed with the term's opinions
    under the application's number (A.A.R.P. v. Trump, 24A1007). Identities are lower-case, as
    CourtListener's and a pin's are: scotus/24A1007 matched neither, so the opinion alerted once from
    each provider and a watchlist pinning scotus/24a1007 never heard it."""
    from monitor.sources.courtlistener import opinion_record

    page = (EXAMPLES / "scotus_slip_opinions.html").read_bytes().replace(b">24-1089<", b">24A1007<")
    [record] = [r for r in parse(SCOTUS, page) if r.url.endswith("24-1089_4h2k.pdf")]
    cluster = {"cluster_id": 1, "caseName": "A. A. R. P. v. Trump", "court_id": "scotus", "docketNumber": "24A1007"}
    assert record.identity == opinion_record(cluster).identity == "scotus/24a1007"
