"""Each bill kind polled end to end through ``run_once`` against a local server speaking the
provider's format: auth where the provider wants it, pagination, 401/403/429 answers, and one
identity for the congress.gov and GovInfo views of a bill."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import select

from monitor.config import load_config
from monitor.db import Database
from monitor.drivers.service import run_once
from monitor.models import Item, Source
from tests.conftest import run_cli
from tests.fakes.http_server import HttpServer, Reply, Request

EXAMPLES = Path(__file__).parent / "examples"
KEY = "test-key-5f2a9c81d3e4"


def poll(db: Database, tmp_path: Path, entries: str):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n" + entries)
    result = asyncio.run(run_once(db, load_config(path), wait_limit=1))
    return {p.source_id: p for p in result.polls}


def items(db: Database) -> dict[str, Item]:
    with db.session() as s:
        return {i.key: i for i in s.scalars(select(Item))}


def serve_congress(feeds: HttpServer) -> None:
    for f in (EXAMPLES / "congress_bill" / "s3470").iterdir():
        part = f.stem.split(".")[1]
        feeds.set("/v3/bill/119/s/3470" + ("" if part == "bill" else f"/{part}"), f.read_bytes(),
                  content_type="application/json")
    feeds.set("/bulk/119/s/BILLSTATUS-119s3470.xml", (EXAMPLES / "govinfo_billstatus" / "s3470.xml").read_bytes(),
              etag=True)


def test_congress_gov_and_govinfo_views_of_s3470_share_one_identity(db, feeds, tmp_path, monkeypatch):
    monkeypatch.setenv("CONGRESS_API_KEY", KEY)
    serve_congress(feeds)
    entries = ("  - id: cg\n    kind: congress_bill\n    congress: 119\n    bills: [S. 3470]\n"
               f"    base_url: {feeds.url('/v3')}\n"
               "  - id: gi\n    kind: govinfo_billstatus\n    congress: 119\n    bills: [S. 3470]\n"
               f"    base_url: {feeds.url('/bulk')}\n")
    polls = poll(db, tmp_path, entries)
    assert {p.outcome for p in polls.values()} == {"changed"}, polls
    stored = items(db)
    cg, gi = stored["congress_bill:119:s:3470"], stored["govinfo_billstatus:119:s:3470"]
    assert cg.identity == gi.identity == "us/119/s/3470"
    assert cg.status == gi.status == "in_committee"
    assert cg.status_action == gi.status_action == "Read twice and referred to the Committee on the Judiciary."
    congress = [r for r in feeds.requests if r.path.startswith("/v3/")]
    assert len(congress) == 4 and all(r.headers.get("x-api-key") == KEY for r in congress)
    assert all("format=json" in r.path and KEY not in r.path for r in congress)
    assert not any("x-api-key" in r.headers for r in feeds.requests if r.path.startswith("/bulk/"))

    polls = poll(db, tmp_path, entries)  # GovInfo answers 304, congress.gov the same bodies
    assert polls["gi"].outcome == polls["cg"].outcome == "unchanged"
    assert feeds.counts["/bulk/119/s/BILLSTATUS-119s3470.xml"] == 2


@pytest.mark.parametrize("status", [401, 403, 429])
def test_congress_bill_refusals_fail_the_poll_without_leaking_the_key(db, feeds, tmp_path, monkeypatch, status):
    monkeypatch.setenv("CONGRESS_API_KEY", KEY)
    feeds.set("/v3/bill/119/s/3470",
              json.dumps({"error": {"code": "API_KEY_INVALID", "message": "An invalid api_key was supplied."}}),
              status=status, content_type="application/json", headers={"Retry-After": "0"})
    polls = poll(db, tmp_path, f"  - id: cg\n    kind: congress_bill\n    congress: 119\n    bills: [s3470]\n"
                               f"    base_url: {feeds.url('/v3')}\n")
    # 401/403 fail the poll; a 429 defers it (the provider's whole budget waits for Retry-After).
    assert polls["cg"].outcome == ("deferred" if status == 429 else "failed")
    assert f"{status}" in (polls["cg"].error or "")
    assert KEY not in (polls["cg"].error or "")
    assert feeds.counts["/v3/bill/119/s/3470"] == (3 if status == 429 else 1)  # 429 retried, 401/403 never
    assert items(db) == {}


def test_a_kind_without_its_key_is_skipped_naming_the_variable(db, feeds, tmp_path, monkeypatch):
    for name in ("CONGRESS_API_KEY", "OPENSTATES_API_KEY", "LEGISCAN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    polls = poll(db, tmp_path, "  - id: cg\n    kind: congress_bill\n    congress: 119\n    bills: [s3470]\n"
                               "  - id: os\n    kind: openstates\n    jurisdiction: il\n"
                               "  - id: ls\n    kind: legiscan\n    state: IL\n    bills: [HB1312]\n")
    assert {sid: (p.outcome, p.error) for sid, p in polls.items()} == {
        "cg": ("skipped", "set CONGRESS_API_KEY to enable this source"),
        "os": ("skipped", "set OPENSTATES_API_KEY to enable this source"),
        "ls": ("skipped", "set LEGISCAN_API_KEY to enable this source"),
    }
    assert feeds.requests == []


def test_congress_recent_follows_pagination_filters_and_keeps_a_watermark(db, feeds, tmp_path, monkeypatch):
    monkeypatch.setenv("CONGRESS_API_KEY", KEY)
    first = json.loads((EXAMPLES / "congress_recent" / "recent" / "page1.json").read_text())
    second = {"bills": first["bills"][2:], "pagination": {"count": 4}, "request": first["request"]}
    first = {**first, "bills": first["bills"][:2],
             "pagination": {"count": 4, "next": feeds.url("/v3/bill/119?offset=2&limit=2&format=json")}}
    feeds.set("/v3/bill/119", json.dumps(first), content_type="application/json")
    feeds.set("/v3/bill/119?offset=2&limit=2&format=json", json.dumps(second), content_type="application/json")
    entry = ("  - id: recent\n    kind: congress_recent\n    congress: 119\n    filter: act\n    page_size: 2\n"
             "    lookback_days: 366\n"
             f"    base_url: {feeds.url('/v3')}\n")
    polls = poll(db, tmp_path, entry)
    assert polls["recent"].outcome == "changed" and polls["recent"].requests == 2
    # three titles contain "act"; the untitled H.R. 8101 does not pass the filter
    assert sorted(i.identity for i in items(db).values()) == ["us/119/hr/6091", "us/119/hr/8120", "us/119/s/3470"]
    first_request = feeds.requests[0]
    assert "sort=updateDate" in first_request.path and "fromDateTime=" in first_request.path
    assert first_request.headers.get("x-api-key") == KEY
    with db.session() as s:
        assert s.get(Source, "recent").watermark == "2026-04-21T00:00:00Z"
    poll(db, tmp_path, entry)
    assert "fromDateTime=2026-04-21T00%3A00%3A00Z" in feeds.requests[2].path


def openstates_page(bills: list[dict], page: int, max_page: int) -> Reply:
    body = {"results": bills,
            "pagination": {"per_page": 1, "page": page, "max_page": max_page, "total_items": max_page}}
    return Reply(200, json.dumps(body), {"Content-Type": "application/json"})


def test_openstates_pages_auth_header_and_status(db, feeds, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENSTATES_API_KEY", KEY)
    [hb1312] = json.loads((EXAMPLES / "openstates" / "il_hb1312" / "page1.json").read_text())["results"]
    other = {**hb1312, "id": "ocd-bill/00000000-0000-4000-8000-000000000002", "identifier": "HB 9",
             "title": "PROCUREMENT CODE", "updated_at": "2025-12-11T01:00:00+00:00",
             "actions": hb1312["actions"][:3]}
    feeds.sequence("/v3os/bills", [openstates_page([hb1312], 1, 2), openstates_page([other], 2, 2)])
    entry = (f"  - id: os-il\n    kind: openstates\n    jurisdiction: il\n    session: 104th\n"
             f"    identifiers: [HB 1312, HB 9]\n    per_page: 1\n    base_url: {feeds.url('/v3os')}\n")
    polls = poll(db, tmp_path, entry)
    assert polls["os-il"].outcome == "changed" and polls["os-il"].requests == 2
    stored = {i.identity: i for i in items(db).values()}
    assert stored["il/104/hb/1312"].status == "enacted" and stored["il/104/hb/1312"].raw_status == "executive-signature"
    assert stored["il/104/hb/9"].status == "in_committee"
    assert all(r.headers.get("x-api-key") == KEY and KEY not in r.path for r in feeds.requests)
    assert ("identifier=HB+1312&identifier=HB+9" in feeds.requests[0].path
            and "include=actions" in feeds.requests[0].path)
    assert "page=2" in feeds.requests[1].path
    with db.session() as s:
        assert s.get(Source, "os-il").watermark == "2025-12-11T01:00:00+00:00"


@pytest.mark.parametrize(("status", "body"), [
    (401, {"detail": "Invalid API Key. Login and visit https://open.pluralpolicy.com/accounts/profile/ "
                     "for your API key."}),
    (403, {"detail": "Missing API Key. Login and visit https://open.pluralpolicy.com/accounts/profile/ "
                     "for your API key."}),
    (429, {"detail": "exceeded limit of 10/min: 11"}),
])
def test_openstates_refusals(db, feeds, tmp_path, monkeypatch, status, body):
    monkeypatch.setenv("OPENSTATES_API_KEY", KEY)
    feeds.set("/v3os/bills", json.dumps(body), status=status, content_type="application/json",
              headers={"Retry-After": "0"})
    polls = poll(db, tmp_path, "  - id: os-md\n    kind: openstates\n    jurisdiction: md\n"
                               f"    base_url: {feeds.url('/v3os')}\n")
    assert polls["os-md"].outcome == ("deferred" if status == 429 else "failed")
    assert f"{status}" in (polls["os-md"].error or "")
    if status != 429:
        assert polls["os-md"].error.startswith("auth:")


def legiscan_paths(feeds: HttpServer, hashes: dict[int, str]) -> None:
    masterlist = {"session": {"session_id": 2203, "session_name": "2026 Regular Session"}}
    masterlist |= {str(i): {"bill_id": bid, "number": f"HB{350 + i + 1}", "change_hash": h}
                   for i, (bid, h) in enumerate(hashes.items())}
    feeds.set(f"/ls/?key={KEY}&op=getMasterListRaw&state=MD", json.dumps({"status": "OK", "masterlist": masterlist}),
              content_type="application/json")
    bill = json.loads((EXAMPLES / "legiscan" / "md_hb351" / "bill1893251.json").read_text())
    bill["bill"]["change_hash"] = hashes[1893251]
    feeds.set(f"/ls/?key={KEY}&op=getBill&id=1893251", json.dumps(bill), content_type="application/json")


def test_legiscan_fetches_a_bill_only_when_its_change_hash_changes(db, feeds, tmp_path, monkeypatch):
    monkeypatch.setenv("LEGISCAN_API_KEY", KEY)
    entry = ("  - id: ls-md\n    kind: legiscan\n    state: MD\n    bills: [HB 351]\n"
             f"    base_url: {feeds.url('/ls/')}\n")
    legiscan_paths(feeds, {1893251: "aaaa1111", 1893252: "bbbb2222"})  # HB351 watched, HB352 not
    polls = poll(db, tmp_path, entry)
    assert polls["ls-md"].outcome == "changed" and polls["ls-md"].requests == 2
    [item] = items(db).values()
    assert (item.identity, item.status, item.status_action) == ("md/2026/hb/351", "passed_one_chamber",
                                                                "Third Reading Passed (96-38)")

    polls = poll(db, tmp_path, entry)  # same hashes: the masterlist only
    assert polls["ls-md"].outcome == "unchanged" and polls["ls-md"].requests == 1

    legiscan_paths(feeds, {1893251: "cccc3333", 1893252: "bbbb2222"})
    polls = poll(db, tmp_path, entry)
    assert polls["ls-md"].requests == 2
    gets = [r.path for r in feeds.requests if "op=getBill" in r.path]
    assert gets == [f"/ls/?key={KEY}&op=getBill&id=1893251"] * 2
    with db.session() as s:
        assert json.loads(s.get(Source, "ls-md").watermark) == {"1893251": "cccc3333"}
    item = items(db)["legiscan:1893251"]
    assert KEY not in json.dumps(item.data) + (item.url or "")


def test_legiscan_error_envelope_is_an_auth_failure_without_the_key(db, feeds, tmp_path, monkeypatch):
    monkeypatch.setenv("LEGISCAN_API_KEY", KEY)
    feeds.set(f"/ls/?key={KEY}&op=getMasterListRaw&state=IL",
              json.dumps({"status": "ERROR", "alert": {"message": "Unknown API key"}}), content_type="application/json")
    polls = poll(db, tmp_path, f"  - id: ls-il\n    kind: legiscan\n    state: IL\n    bills: [HB1312]\n"
                               f"    base_url: {feeds.url('/ls/')}\n")
    assert polls["ls-il"].outcome == "failed" and polls["ls-il"].error == "auth: LegiScan list: Unknown API key"
    with db.session() as s:
        assert KEY not in (s.get(Source, "ls-il").last_error or "")


def test_congress_bill_follows_action_pages_and_refetches_304_parts_of_a_changed_bill(db, feeds, tmp_path, monkeypatch):
    monkeypatch.setenv("CONGRESS_API_KEY", KEY)
    folder = EXAMPLES / "congress_bill" / "s3470"
    bill = json.loads((folder / "s3470.bill.json").read_text())
    actions = json.loads((folder / "s3470.actions.json").read_text())
    older = {"actionDate": "2025-12-15", "text": "Sponsor introductory remarks on measure. (CR S8731-8732)",
             "type": "IntroReferral", "actionCode": "B00100",
             "sourceSystem": {"code": 9, "name": "Library of Congress"}}
    more = "/v3/bill/119/s/3470/actions?offset=250&limit=250&format=json"
    page1 = {**actions, "pagination": {"count": 3, "next": feeds.url(more)}}
    page2 = {**actions, "actions": [older], "pagination": {"count": 3}}
    json_ = {"content_type": "application/json", "etag": True}
    feeds.set("/v3/bill/119/s/3470", json.dumps(bill), **json_)
    feeds.set("/v3/bill/119/s/3470/actions", json.dumps(page1), **json_)
    feeds.set(more, json.dumps(page2), **json_)
    entry = (f"  - id: cg\n    kind: congress_bill\n    congress: 119\n    bills: [S. 3470]\n    titles: false\n"
             f"    committees: false\n    base_url: {feeds.url('/v3')}\n")
    assert poll(db, tmp_path, entry)["cg"].requests == 3
    assert items(db)["congress_bill:119:s:3470"].data["actions"] == 3

    bill["bill"]["cosponsors"]["count"] = 13
    feeds.set("/v3/bill/119/s/3470", json.dumps(bill), **json_)
    result = poll(db, tmp_path, entry)["cg"]
    assert result.outcome == "changed" and result.changed == 1
    # bill 200, actions page 1 answers 304 (so page 2 is unknown), then both action pages without validators
    assert result.requests == 4
    item = items(db)["congress_bill:119:s:3470"]
    assert (item.data["cosponsors"], item.data["actions"], item.status) == (13, 3, "in_committee")
    assert poll(db, tmp_path, entry)["cg"].outcome == "unchanged"


def test_legiscan_search_fetches_its_best_matches_first_then_only_what_changed(db, feeds, tmp_path, monkeypatch):
    """A search's first poll is its baseline: the bill left over is remembered, not fetched later as
    if it were new; once it changes it is fetched."""
    monkeypatch.setenv("LEGISCAN_API_KEY", KEY)
    template = json.loads((EXAMPLES / "legiscan" / "md_hb351" / "bill1893251.json").read_text())
    results = []
    for bill_id, number in ((1893251, "HB351"), (1893300, "HB550")):
        bill = json.loads(json.dumps(template))
        bill["bill"].update(bill_id=bill_id, bill_number=number, change_hash=f"hash{bill_id}")
        feeds.set(f"/ls/?key={KEY}&op=getBill&id={bill_id}", json.dumps(bill), content_type="application/json")
        results.append({"relevance": 100, "bill_id": bill_id, "change_hash": f"hash{bill_id}"})
    search = {"status": "OK", "searchresult": {
        "summary": {"page": "1", "range": "1 - 2", "relevancy": "100% - 100%", "count": 2, "page_current": 1,
                    "page_total": 1, "query": "bivens"}, "results": results}}
    feeds.set(f"/ls/?key={KEY}&op=getSearchRaw&state=MD&query=bivens", json.dumps(search),
              content_type="application/json")
    entry = (f"  - id: ls-search\n    kind: legiscan\n    state: MD\n    query: bivens\n    max_bills: 1\n"
             f"    base_url: {feeds.url('/ls/')}\n")
    assert poll(db, tmp_path, entry)["ls-search"].requests == 2
    assert poll(db, tmp_path, entry)["ls-search"].outcome == "unchanged"  # HB 550: known, unchanged
    assert [i.identity for i in items(db).values()] == ["md/2026/hb/351"]
    results[1]["change_hash"] = "moved"
    feeds.set(f"/ls/?key={KEY}&op=getSearchRaw&state=MD&query=bivens", json.dumps(search),
              content_type="application/json")
    assert poll(db, tmp_path, entry)["ls-search"].requests == 2
    assert sorted(i.identity for i in items(db).values()) == ["md/2026/hb/351", "md/2026/hb/550"]


@pytest.mark.parametrize("kind", ["govinfo_billstatus", "congress_bill"])
def test_one_bill_not_published_yet_holds_back_none_of_the_others(kind, cli_env, feeds):
    """A source following S. 3470 and a bill whose file is not there yet (404): S. 3470 is stored
    and alerted as usual, the poll is a failure naming the missing bill, and a bill missing poll
    after poll opens an incident as any failing source does; once its file is there, all is well."""
    serve_congress(feeds)
    base = feeds.url("/bulk" if kind == "govinfo_billstatus" else "/v3")
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - id: bills\n    kind: {kind}\n    congress: 119\n    bills: [S. 3470, H.R. 9999]\n"
        f"    base_url: {base}\n")
    env = cli_env | {"CONGRESS_API_KEY": KEY}
    first = run_cli(["run", "--once"], env)
    assert "bills: FAILED in part: fetch: hr9999: HTTP 404" in first.stdout, first.stdout
    assert "(the rest was stored); 1 seen, 1 new" in first.stdout
    # S. 3470 was polled: the pass says the source was polled in part, not that nothing is watched
    assert "not polled" not in first.stdout and "1 of 1 sources polled, 1 failed in part" in first.stdout, first.stdout
    assert "nothing is being watched" not in first.stderr, first.stderr
    shown = json.loads(run_cli(["items", "show", "us/119/s/3470", "--json"], env).stdout)
    assert shown, "S. 3470 was not stored"
    for _ in range(2):
        run_cli(["run", "--once"], env)
    [row] = json.loads(run_cli(["status", "--json"], env).stdout)
    assert row["consecutive_failures"] == 3 and "hr9999" in row["last_error"] and row["incident"]
    if kind == "govinfo_billstatus":
        feeds.set("/bulk/119/hr/BILLSTATUS-119hr9999.xml",
                  (EXAMPLES / "govinfo_billstatus" / "s3470.xml").read_bytes().replace(b"<number>3470</number>",
                                                                                 b"<number>9999</number>"))
    else:
        for f in (EXAMPLES / "congress_bill" / "s3470").iterdir():
            part = f.stem.split(".")[1]
            feeds.set("/v3/bill/119/hr/9999" + ("" if part == "bill" else f"/{part}"), f.read_bytes(),
                      content_type="application/json")
    healed = run_cli(["run", "--once"], env)
    assert healed.returncode == 0 and "FAILED" not in healed.stdout, healed.stdout
    [row] = json.loads(run_cli(["status", "--json"], env).stdout)
    assert row["consecutive_failures"] == 0 and not row["failing"]


@pytest.mark.parametrize("kind", ["govinfo_billstatus", "congress_bill"])
def test_one_bills_broken_document_holds_back_none_of_the_others(kind, cli_env, feeds):
    """One bill's document that does not parse (an error page answered 200, cut-off JSON) fails
    that bill only: S. 3470 is stored, the poll is a failure naming the broken bill, poll after
    poll while it stays broken, and the bill is stored once its document is whole again."""
    serve_congress(feeds)
    broken, whole = ("/bulk/119/hr/BILLSTATUS-119hr9999.xml", "/v3/bill/119/hr/9999/actions")
    if kind == "govinfo_billstatus":
        feeds.set(broken, "<html><body>Service Unavailable</body></html>", content_type="text/html")
    else:
        for f in (EXAMPLES / "congress_bill" / "s3470").iterdir():
            part = f.stem.split(".")[1]
            feeds.set("/v3/bill/119/hr/9999" + ("" if part == "bill" else f"/{part}"), f.read_bytes(),
                      content_type="application/json")
        feeds.set(whole, b'{"actions": [{"actionDate": "2026-', content_type="application/json")
    base = feeds.url("/bulk" if kind == "govinfo_billstatus" else "/v3")
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - id: bills\n    kind: {kind}\n    congress: 119\n    bills: [S. 3470, H.R. 9999]\n"
        f"    base_url: {base}\n")
    env = cli_env | {"CONGRESS_API_KEY": KEY}
    for _ in range(2):  # still named on the next poll: the broken answer is not remembered as seen
        result = run_cli(["run", "--once"], env)
        assert "bills: FAILED in part: parse: hr9999: " in result.stdout, result.stdout
        assert "/119/hr/" in result.stdout  # the broken document's address, to look at
    assert json.loads(run_cli(["items", "show", "us/119/s/3470", "--json"], env).stdout), "S. 3470 was not stored"
    if kind == "govinfo_billstatus":
        feeds.set(broken, (EXAMPLES / "govinfo_billstatus" / "s3470.xml").read_bytes().replace(
            b"<number>3470</number>", b"<number>9999</number>"))
    else:
        feeds.set(whole, (EXAMPLES / "congress_bill" / "s3470" / "s3470.actions.json").read_bytes(),
                  content_type="application/json")
    healed = run_cli(["run", "--once"], env)
    assert healed.returncode == 0 and "FAILED" not in healed.stdout and "bills: 1 seen" in healed.stdout, healed.stdout


def test_congress_recent_catches_up_on_updates_beyond_its_pages(db, feeds, tmp_path, monkeypatch):
    """More bills were updated since the last poll than max_pages holds: the newest pages come
    first, and the older updates the poll could not reach are fetched by the next polls, not
    skipped (the Bivens Act's passage, updated before two busier bills, used to be lost)."""
    monkeypatch.setenv("CONGRESS_API_KEY", KEY)
    template = json.loads((EXAMPLES / "congress_recent" / "recent" / "page1.json").read_text())
    bivens = next(b for b in template["bills"] if b["number"] == "6091")
    listed = [bivens | {"updateDate": "2026-04-20T10:00:00Z"}]

    def answer(request: Request) -> Reply:
        """congress.gov's list: updated within fromDateTime..toDateTime, newest first, offset pages."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        window = [b for b in listed if query["fromDateTime"] <= b["updateDate"] <= query.get("toDateTime", "9999")]
        window.sort(key=lambda b: b["updateDate"], reverse=True)
        offset, limit = int(query.get("offset", 0)), int(query["limit"])
        more = offset + limit < len(window)
        following = feeds.url(f"/v3/bill/119?{urlencode(query | {'offset': offset + limit})}") if more else None
        page = {"bills": window[offset:offset + limit], "pagination": {"count": len(window), "next": following}}
        return Reply(200, json.dumps(page), {"Content-Type": "application/json"})

    feeds.route("/v3/bill/119", answer)
    entry = ("  - id: recent\n    kind: congress_recent\n    congress: 119\n    filter: bivens\n    page_size: 1\n"
             f"    max_pages: 1\n    lookback_days: 366\n    base_url: {feeds.url('/v3')}\n")
    poll(db, tmp_path, entry)
    assert items(db)["congress_recent:recent:119:hr:6091"].status == "in_committee"
    passed = {"actionDate": "2026-04-22", "text": "Passed/agreed to in House: On passage Passed by voice vote."}
    listed[:] = [bivens | {"updateDate": "2026-04-22T09:00:00Z", "latestAction": passed},
                 *(b | {"updateDate": f"2026-04-22T1{n}:00:00Z"} for n, b in enumerate(template["bills"][:2]))]
    for _ in range(3):
        poll(db, tmp_path, entry)
    assert items(db)["congress_recent:recent:119:hr:6091"].status == "passed_one_chamber"
    requests = len(feeds.requests)
    poll(db, tmp_path, entry)  # caught up: one request, from the newest update seen
    assert len(feeds.requests) == requests + 1 and "fromDateTime=2026-04-22T11%3A00%3A00Z" in feeds.requests[-1].path


def test_openstates_catches_up_on_updates_beyond_its_pages(db, feeds, tmp_path, monkeypatch):
    """More bills were updated since the last poll than max_pages holds (Open States sorts newest
    first only): the pages a poll did not reach are fetched by the next polls, not skipped (HB 1312's
    signature, updated before two busier bills, used to be lost)."""
    monkeypatch.setenv("OPENSTATES_API_KEY", KEY)
    [hb1312] = json.loads((EXAMPLES / "openstates" / "il_hb1312" / "page1.json").read_text())["results"]
    introduced = {**hb1312, "actions": hb1312["actions"][:1], "updated_at": "2025-01-29T00:00:00+00:00"}
    listed = [introduced]

    def answer(request: Request) -> Reply:
        """Open States' /bills: updated since updated_since, newest first, numbered pages."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        rows = sorted((b for b in listed if b["updated_at"] >= query.get("updated_since", "")),
                      key=lambda b: b["updated_at"], reverse=True)
        page, per_page = int(query["page"]), int(query["per_page"])
        return openstates_page(rows[(page - 1) * per_page:page * per_page], page, max(1, len(rows)))

    feeds.route("/v3os/bills", answer)
    entry = (f"  - id: os-il\n    kind: openstates\n    jurisdiction: il\n    q: bivens\n    per_page: 1\n"
             f"    max_pages: 1\n    base_url: {feeds.url('/v3os')}\n")
    poll(db, tmp_path, entry)
    assert items(db)[f"openstates:{hb1312['id']}"].status == "introduced"
    others = [{**hb1312, "id": f"ocd-bill/00000000-0000-4000-8000-00000000000{n}", "identifier": f"HB {n}",
               "actions": hb1312["actions"][:1], "updated_at": f"2025-12-1{n}T00:00:00+00:00"} for n in (1, 2)]
    listed[:] = [hb1312, *others]  # HB 1312 signed (updated Dec 10), then two bills updated later
    for _ in range(3):
        poll(db, tmp_path, entry)
    assert items(db)[f"openstates:{hb1312['id']}"].status == "enacted"
    requests = len(feeds.requests)
    poll(db, tmp_path, entry)  # caught up: one request, from the newest update seen
    assert len(feeds.requests) == requests + 1
    assert "updated_since=2025-12-12T00%3A00%3A00%2B00%3A00" in feeds.requests[-1].path
    assert "page=1&" in feeds.requests[-1].path


def test_congress_recent_can_follow_the_congress_in_session(db, feeds, tmp_path, monkeypatch):
    """``congress: current`` asks for the Congress in session (a new one meets on January 3 of an
    odd year): a source naming the 119th finds no bill introduced in the 120th."""
    monkeypatch.setenv("CONGRESS_API_KEY", KEY)
    today = dt.date.today()
    year = today.year - (today.year % 2 == 1 and (today.month, today.day) < (1, 3))
    congress = (year - 1789) // 2 + 1
    feeds.set(f"/v3/bill/{congress}", json.dumps({"bills": [], "pagination": {"count": 0}}),
              content_type="application/json")
    entry = ("  - id: recent\n    kind: congress_recent\n    congress: current\n    filter: bivens\n"
             f"    base_url: {feeds.url('/v3')}\n")
    assert poll(db, tmp_path, entry)["recent"].outcome != "failed"
    assert feeds.requests[0].path.startswith(f"/v3/bill/{congress}?")


def test_openstates_reads_special_session_numbers_and_the_district_and_territories(db, feeds, tmp_path, monkeypatch):
    """Colorado numbers a special session's bills with the session's letter ("SB25B-004", signed
    Aug 28, 2025), Florida after the number ("SB 2-C"); Open States names D.C. a district and
    Puerto Rico a territory, not a state. Each is a bill like any other: one of them in a page
    failed the whole poll, and a D.C. or Puerto Rico source never stored anything."""
    monkeypatch.setenv("OPENSTATES_API_KEY", KEY)
    [template] = json.loads((EXAMPLES / "openstates" / "il_hb1312" / "page1.json").read_text())["results"]

    def bill(n: int, place: str, session: str, identifier: str) -> dict:
        return {**template, "id": f"ocd-bill/00000000-0000-4000-8000-{n:012d}", "session": session,
                "identifier": identifier, "jurisdiction": {"id": f"ocd-jurisdiction/country:us/{place}/government"}}

    feeds.set("/v3os/bills", json.dumps({"results": [bill(1, "state:co", "2025A", "HB25-1001"),
                                                     bill(2, "state:co", "2025B", "SB25B-004"),
                                                     bill(3, "state:fl", "2025C", "SB 2-C"),
                                                     bill(4, "district:dc", "26", "B26-0001"),
                                                     bill(5, "territory:pr", "2025-2028", "PC 1")],
                                         "pagination": {"max_page": 1}}), content_type="application/json")
    polls = poll(db, tmp_path, f"  - id: os\n    kind: openstates\n    jurisdiction: co\n    q: immigration\n"
                               f"    base_url: {feeds.url('/v3os')}\n")
    assert polls["os"].outcome == "changed", polls["os"].error
    stored = {i.identity: i for i in items(db).values()}
    assert sorted(stored) == ["co/2025/hb/1001", "co/2025/sb/4", "dc/2025/b/1", "fl/2025/sb/2", "pr/2025/pc/1"]
    assert {i.jurisdiction for i in stored.values()} == {"co", "fl", "dc", "pr"}
    assert stored["co/2025/sb/4"].status == "enacted" and stored["co/2025/sb/4"].title.startswith("SB25B-004: ")
