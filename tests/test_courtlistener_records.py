"""The CourtListener crosswalks entry by entry, and the pure mapping of the real webhook bodies."""

from __future__ import annotations

import json
import re

import pytest

from monitor.config import load_config
from monitor.errors import ConfigError, ParseError
from monitor.normalise.statuses import ALL_STATUSES
from monitor.sources.courtlistener import (
    DOCKET_STATUS_RULES,
    PRECEDENTIAL_V4,
    docket_record,
    entry_record,
    opinion_record,
    precedential,
)
from monitor.web.courtlistener import event_records
from tests.conftest import realdata
from tests.peer_snapshots import peer_file


@pytest.mark.parametrize(("v3", "v4"), sorted(PRECEDENTIAL_V4.items()))
def test_v3_precedential_status_maps_to_its_v4_name(v3, v4):
    assert precedential(v3.title()) == v4
    assert precedential(v4) == v4  # v4 names pass through unchanged


@pytest.mark.parametrize(("field", "status"), DOCKET_STATUS_RULES)
def test_each_docket_date_sets_its_status(field, status):
    record = docket_record({"id": 1, "case_name": "A v. B", "date_filed": "2024-01-02", field: "2025-03-04"})
    assert (record.status, record.status_action, record.status_date.isoformat()) == (status, field, "2025-03-04")
    assert status in ALL_STATUSES


def test_a_docket_without_end_dates_is_pending_since_filing():
    record = docket_record({"id": 1, "case_name": "A v. B", "date_filed": "2024-01-02"})
    assert (record.status, record.raw_status, record.status_date.isoformat()) == ("pending", "open", "2024-01-02")


def test_termination_wins_over_cert_dates():
    record = docket_record({"id": 1, "case_name": "A v. B", "date_cert_denied": "2024-01-01",
                            "date_terminated": "2024-02-01"})
    assert record.status == "terminated"


def webhook(name: str, version: int) -> dict:
    text = realdata("courtlistener", "webhooks", name).read_text()
    return json.loads(text.replace("{{ webhook_version }}", str(version)))


def test_search_alert_v1_and_v2_give_the_same_opinion_record():
    v1 = event_records(webhook("search_alert_webhook_dummy.json.tmpl", 1))
    v2 = event_records(webhook("search_alert_webhook_dummy_v2.json.tmpl", 2))
    assert [r.key for r in v1] == [r.key for r in v2] == ["cl:cluster:2812209"]
    for field in ("title", "url", "identity", "court", "status", "raw_status", "status_date"):
        assert getattr(v1[0], field) == getattr(v2[0], field), field
    assert v2[0].data["citations"] == ["192 L. Ed. 2d 609", "135 S. Ct. 2584", "2015 U.S. LEXIS 4250", "576 U.S. 644"]


def test_docket_alert_gives_its_entries():
    (entry,) = event_records(webhook("docket_alert_webhook_dummy.json.tmpl", 2))
    assert entry.key == "cl:docket:4214664:entry:140"
    assert entry.url == "https://www.courtlistener.com/docket/4214664/140/national-veterans-legal-services-program-v-united-states/"
    assert [d["attachment"] for d in entry.data["documents"]] == [None, 1]


def test_results_without_their_keys_are_parse_errors():
    with pytest.raises(ParseError, match="cluster_id"):
        opinion_record({"caseName": "A v. B"})
    with pytest.raises(ParseError, match="names no docket"):
        entry_record({"id": 1, "docket": "https://example.org/not-a-docket/"})


@pytest.mark.parametrize(("entry", "message"), [
    ("kind: courtlistener_search\n    query: ''", "query"),
    ("kind: courtlistener_search\n    query: x\n    type: q", "type"),
    ("kind: courtlistener_docket", "missing required field 'docket_id'"),
    ("kind: html\n    url: https://example.org/", "missing required field 'item'"),
    ("kind: html\n    url: https://example.org/\n    preset: nope", "preset"),
    ("kind: federal_register\n    types: [MEMO]", "types"),
])
def test_bad_source_entries_name_the_field(tmp_path, entry, message):
    path = tmp_path / "sources.yaml"
    path.write_text(f"sources:\n  - id: s\n    {entry}\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(info.value).startswith("sources.yaml:")


@pytest.mark.parametrize("name", ["ca2_p_example", "ca2_p_example_2", "ca2_u_example", "ca2_u_example_2",
                                  "ca8_example"])
def test_an_appellate_opinion_has_the_identity_govinfo_and_pacer_give_its_case(name):
    """CourtListener scrapes the circuits with juriscraper and keeps their docket numbers as the courts
    print them: the Second Circuit's "24-1025-cr", "21-2737(L)", "15-3135-cv (L)" (the case type and
    the lead case of a consolidated appeal), the Eighth's "24-2330, 24-2526" (every consolidated
    appeal). GovInfo's package USCOURTS-ca2-24-01025 and the court's PACER feed name the case
    ca2/24-1025: the opinion must share that identity (the lead case's), or it alerts twice (once
    from each provider) and a watchlist pinning the case never hears it."""
    commit, folder = "8446197f3885164fd337624490cf466d8817d775", "tests/examples/opinions/united_states"
    cases = json.loads(peer_file("freelawproject/juriscraper", commit, f"{folder}/{name}.compare.json"))
    court = name.split("_")[0]
    result = webhook("search_alert_webhook_dummy_v2.json.tmpl", 2)["payload"]["results"][0]
    for case in cases:
        year, number = re.match(r"(\d\d)-(\d+)", case["docket_numbers"]).groups()
        record = opinion_record(result | {"court_id": court, "docketNumber": case["docket_numbers"]})
        assert record.identity == f"{court}/{year}-{int(number)}", case["docket_numbers"]
        assert record.data["docket_number"] == case["docket_numbers"]  # as the court printed it
