"""courtlistener_search and courtlistener_docket polled end to end against a local server
speaking CourtListener's v4 JSON and Atom formats (token header, cursor pages, 401/403/429)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from monitor.models import Change, Item, Source
from tests.conftest import run_cli
from tests.fakes.http_server import HttpServer
from tests.test_pipeline import count, poll

EXAMPLES = Path(__file__).parent / "examples"
TOKEN = "0123456789abcdef0123456789abcdef01234567"
SEARCH = "/api/rest/v4/search/"


def opinion(cluster_id: int, name: str, filed: str) -> dict[str, Any]:
    """A v4 type=o result in the shape of the golden example, with its own id, name and date."""
    template = json.loads((EXAMPLES / "courtlistener_search" / "opinions.json").read_text())["results"][0]
    result = copy.deepcopy(template)
    result.update(cluster_id=cluster_id, caseName=name, dateFiled=filed,
                  absolute_url=f"/opinion/{cluster_id}/{name.lower().replace(' ', '-')}/")
    return result


def search_page(results: list[dict[str, Any]], next_url: str | None = None) -> str:
    return json.dumps({"count": 500, "next": next_url, "previous": None, "results": results})


def write_search(tmp_path: Path, feeds: HttpServer, **extra: Any) -> Path:
    lines = ["sources:", "  - id: cl-bivens", "    kind: courtlistener_search", "    query: Bivens",
             f"    base_url: {feeds.base}"] + [f"    {k}: {v}" for k, v in extra.items()]
    path = tmp_path / "sources.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def watermark(db, source_id: str) -> str | None:
    with db.session() as s:
        return s.get(Source, source_id).watermark


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COURTLISTENER_TOKEN", TOKEN)
    return TOKEN


def test_search_baseline_then_incremental_pages_with_token_header(db, feeds, token, tmp_path):
    config = write_search(tmp_path, feeds)
    feeds.set(SEARCH, search_page([opinion(3, "Three v. ICE", "2026-01-20"), opinion(2, "Two v. ICE", "2026-01-16")],
                                  next_url=feeds.url(SEARCH + "?cursor=old")), content_type="application/json")

    first = poll(db, config).polls[0]
    assert (first.outcome, first.new, first.requests) == ("changed", 2, 1)  # baseline spends one request
    assert watermark(db, "cl-bivens") == "2026-01-20"
    sent = feeds.requests[0]
    assert sent.headers["authorization"] == f"Token {TOKEN}"
    assert TOKEN not in sent.path
    assert "order_by=dateFiled+desc" in sent.path and "type=o" in sent.path and "q=Bivens" in sent.path

    # Two newer opinions fill page 1, so page 2 is fetched; it reaches the watermark, so it stops there.
    feeds.set(SEARCH, search_page([opinion(5, "Five v. ICE", "2026-01-27"), opinion(4, "Four v. ICE", "2026-01-22")],
                                  next_url=feeds.url(SEARCH + "?cursor=p2")), content_type="application/json")
    feeds.set(SEARCH + "?cursor=p2", search_page([opinion(3, "Three v. ICE", "2026-01-20"),
                                                  opinion(2, "Two v. ICE", "2026-01-16")],
                                                 next_url=feeds.url(SEARCH + "?cursor=p3")),
              content_type="application/json")
    second = poll(db, config).polls[0]
    assert (second.new, second.requests) == (2, 2)
    assert feeds.counts[SEARCH] == 3 and all(r.headers["authorization"] == f"Token {TOKEN}" for r in feeds.requests)
    assert watermark(db, "cl-bivens") == "2026-01-27"
    with db.session() as s:
        assert sorted(s.scalars(select(Item.key))) == [f"cl:cluster:{n}" for n in (2, 3, 4, 5)]
        assert {c.type for c in s.scalars(select(Change))} == {"new"}
    assert count(db, Change) == 2


def test_search_pages_are_bounded_by_max_pages(db, feeds, token, tmp_path):
    config = write_search(tmp_path, feeds, max_pages=2)
    feeds.set(SEARCH, search_page([opinion(1, "One v. ICE", "2026-01-01")]), content_type="application/json")
    poll(db, config)
    # Every page is newer than the watermark and has a next: only max_pages are spent.
    for n in range(1, 5):
        nxt = feeds.url(SEARCH + f"?cursor=c{n}")
        page = search_page([opinion(100 + n, f"New {n} v. ICE", f"2026-02-{10 - n:02d}")], next_url=nxt)
        feeds.set(SEARCH if n == 1 else SEARCH + f"?cursor=c{n - 1}", page, content_type="application/json")
    result = poll(db, config).polls[0]
    assert (result.requests, result.new) == (2, 2)
    # The pages max_pages left are owed: the next polls go on from the cursor, nothing is skipped.
    config.write_text("providers:\n  courtlistener: {per_minute: 60}\n" + config.read_text())  # 7 requests
    feeds.set(SEARCH + "?cursor=c4", search_page([opinion(1, "One v. ICE", "2026-01-01")]),
              content_type="application/json")
    poll(db, config)
    poll(db, config)
    with db.session() as s:
        assert {f"cl:cluster:{100 + n}" for n in range(1, 5)} <= set(s.scalars(select(Item.key)))
    assert watermark(db, "cl-bivens") == "2026-02-09"


def test_search_recap_dockets_take_their_status_from_termination(db, feeds, token, tmp_path):
    config = write_search(tmp_path, feeds, type="r")
    feeds.set(SEARCH, (EXAMPLES / "courtlistener_search" / "recap_dockets.json").read_bytes(),
              content_type="application/json")
    poll(db, config)
    with db.session() as s:
        statuses = {i.identity: i.status for i in s.scalars(select(Item))}
    assert statuses == {"mnd/0:26-cv-00112": "pending", "cacd/2:24-cv-01733": "terminated"}
    assert "type=r" in feeds.requests[0].path


@pytest.mark.parametrize("status", [401, 403])
def test_search_auth_failure_is_a_clear_error_without_the_token(db, feeds, token, tmp_path, status):
    config = write_search(tmp_path, feeds)
    feeds.set(SEARCH, '{"detail": "Invalid token."}', status=status, content_type="application/json")
    result = poll(db, config).polls[0]
    assert result.outcome == "failed" and result.error.startswith(f"auth: HTTP {status}")
    assert TOKEN not in result.error
    assert feeds.counts[SEARCH] == 1  # never retried
    assert watermark(db, "cl-bivens") is None


def test_search_429_fails_the_poll_and_keeps_the_watermark(db, feeds, token, tmp_path):
    config = write_search(tmp_path, feeds)
    feeds.set(SEARCH, search_page([opinion(1, "One v. ICE", "2026-01-01")]), content_type="application/json")
    poll(db, config)
    feeds.set(SEARCH, '{"detail": "Request was throttled. Expected available in 3600 seconds."}', status=429,
              headers={"Retry-After": "3600"}, content_type="application/json")
    result = poll(db, config).polls[0]
    assert result.outcome == "deferred" and "429" in result.error  # the provider's budget waits
    assert watermark(db, "cl-bivens") == "2026-01-01"


def test_search_without_token_is_skipped_naming_the_variable(db, feeds, tmp_path, monkeypatch):
    monkeypatch.delenv("COURTLISTENER_TOKEN", raising=False)
    result = poll(db, write_search(tmp_path, feeds)).polls[0]
    assert result.outcome == "skipped" and "COURTLISTENER_TOKEN" in result.error
    assert feeds.requests == []


# --- courtlistener_docket --------------------------------------------------------------------

DOCKET = "/api/rest/v4/dockets/4214664/"
ENTRIES = "/api/rest/v4/docket-entries/"
FEED = "/docket/4214664/feed/"


def write_docket(tmp_path: Path, feeds: HttpServer) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - id: nvlsp\n    kind: courtlistener_docket\n    docket_id: 4214664\n"
                    f"    court: dcd\n    docket_number: '1:16-cv-00745'\n    base_url: {feeds.base}\n")
    return path


def docket_json(**changes: Any) -> str:
    return json.dumps(json.loads((EXAMPLES / "courtlistener_docket" / "api" / "docket.json").read_text()) | changes)


def entries_json(*extra: dict[str, Any]) -> str:
    data = json.loads((EXAMPLES / "courtlistener_docket" / "api" / "entries1.json").read_text())
    data["results"] = [*extra, *data["results"]]
    data["next"] = None
    return json.dumps(data)


def test_docket_with_token_new_entry_and_termination_are_changes(db, feeds, token, tmp_path):
    config = write_docket(tmp_path, feeds)
    feeds.set(DOCKET, docket_json(), content_type="application/json")
    feeds.set(ENTRIES, entries_json(), content_type="application/json")
    first = poll(db, config).polls[0]
    assert (first.new, first.requests) == (3, 2)
    assert all(r.headers["authorization"] == f"Token {TOKEN}" for r in feeds.requests)
    assert "docket=4214664" in feeds.requests[1].path and "order_by=-date_modified" in feeds.requests[1].path

    entry = {"id": 2209000001, "docket": f"https://www.courtlistener.com{DOCKET}", "recap_documents": [],
             "date_created": "2024-05-15T10:00:00-07:00", "date_modified": "2024-05-15T10:00:00-07:00",
             "date_filed": "2024-05-15", "entry_number": 141, "description": "ORDER granting final approval."}
    feeds.set(DOCKET, docket_json(date_terminated="2024-05-16"), content_type="application/json")
    feeds.set(ENTRIES, entries_json(entry), content_type="application/json")
    poll(db, config)
    with db.session() as s:
        changes = {(c.item.key, c.type, c.old, c.new) for c in s.scalars(select(Change)) if c.type != "field"}
        docket = s.scalars(select(Item).where(Item.key == "cl:docket:4214664")).one()
        assert (docket.status, docket.identity) == ("terminated", "dcd/1:16-cv-00745")
    assert changes == {("cl:docket:4214664", "status", "pending", "terminated"),
                       ("cl:docket:4214664:entry:141", "new", None, None)}
    assert watermark(db, "nvlsp") == "2024-05-15T17:00:00+00:00"


def test_a_long_docket_entry_is_titled_with_its_description_cut_with_an_ellipsis(db, feeds, token, tmp_path):
    config = write_docket(tmp_path, feeds)
    described = "ORDER granting in part and denying in part the motion to dismiss; " * 6
    entry = {"id": 2209000002, "docket": f"https://www.courtlistener.com{DOCKET}", "recap_documents": [],
             "date_created": "2024-05-15T10:00:00-07:00", "date_modified": "2024-05-15T10:00:00-07:00",
             "date_filed": "2024-05-15", "entry_number": 142, "description": described}
    feeds.set(DOCKET, docket_json(), content_type="application/json")
    feeds.set(ENTRIES, entries_json(entry), content_type="application/json")
    poll(db, config)
    with db.session() as s:
        item = s.scalars(select(Item).where(Item.key == "cl:docket:4214664:entry:142")).one()
    case = "NATIONAL VETERANS LEGAL SERVICES PROGRAM v. United States — "
    assert item.title.startswith(case + "Entry 142: ORDER granting") and item.title.endswith("…")
    assert len(item.title) == len(case + "Entry 142: ") + 200 and item.text == described.strip()


def test_docket_without_token_reads_the_public_feed(db, feeds, tmp_path, monkeypatch):
    monkeypatch.delenv("COURTLISTENER_TOKEN", raising=False)
    config = write_docket(tmp_path, feeds)
    feeds.set(FEED, (EXAMPLES / "courtlistener_docket" / "feed" / "feed.xml").read_bytes(), etag=True,
              content_type="application/atom+xml")
    first = poll(db, config).polls[0]
    assert first.new == 3
    assert "authorization" not in feeds.requests[0].headers
    second = poll(db, config).polls[0]
    assert second.outcome == "unchanged"  # ETag revalidation: 304
    with db.session() as s:
        assert sorted(s.scalars(select(Item.key))) == [
            "cl:docket:4214664", "cl:docket:4214664:entry:140", "cl:docket:4214664:entry:id2208001234"]


@pytest.mark.parametrize(("path", "status", "prefix"), [(DOCKET, 401, "auth: HTTP 401"),
                                                        (ENTRIES, 403, "auth: HTTP 403"),
                                                        (ENTRIES, 429, "courtlistener: HTTP 429")])
def test_docket_failures_store_nothing_and_keep_the_watermark(db, feeds, token, tmp_path, path, status, prefix):
    config = write_docket(tmp_path, feeds)
    feeds.set(DOCKET, docket_json(), content_type="application/json")
    feeds.set(ENTRIES, entries_json(), content_type="application/json")
    poll(db, config)
    feeds.set(DOCKET, docket_json(date_terminated="2024-05-16"), content_type="application/json")
    feeds.set(path, '{"detail": "no"}', status=status, headers={"Retry-After": "3600"}, content_type="application/json")
    result = poll(db, config).polls[0]
    assert result.outcome == ("deferred" if status == 429 else "failed")
    assert result.error.startswith(prefix) and TOKEN not in result.error
    with db.session() as s:
        assert s.scalars(select(Item).where(Item.key == "cl:docket:4214664")).one().status == "pending"
    assert watermark(db, "nvlsp") == "2022-10-18T20:03:18.466039+00:00"


@pytest.mark.parametrize("mode", ["api", "feed"])
def test_a_new_filing_on_a_pinned_case_alerts_its_watchlist(cli_env, feeds, slack, tmp_path, mode):
    """The case is pinned by the identity `items show` gives its docket (dcd/1:16-cv-00745): a
    new entry of that docket is a filing of the pinned case, as a PACER entry of it is."""
    env = cli_env | ({"COURTLISTENER_TOKEN": TOKEN} if mode == "api" else {})
    Path(env["MONITOR_CONFIG"]).write_text(write_docket(tmp_path, feeds).read_text())
    order = {"id": 2209000001, "docket": f"https://www.courtlistener.com{DOCKET}", "recap_documents": [],
             "date_created": "2024-05-15T10:00:00-07:00", "date_modified": "2024-05-15T10:00:00-07:00",
             "date_filed": "2024-05-15", "entry_number": 141, "description": "ORDER granting final approval."}
    feed = (EXAMPLES / "courtlistener_docket" / "feed" / "feed.xml").read_text()
    first = feed.index("<entry>")
    link = "https://www.courtlistener.com/docket/4214664/nvlsp/?order_by=desc#entry-141"
    added = (f'<entry><title>Entry #141</title><link href="{link}" rel="alternate"></link><published>'
             f"2024-05-15T10:00:00-07:00</published><id>{link}</id><summary>ORDER granting final approval."
             "</summary></entry>")
    feeds.set(DOCKET, docket_json(), content_type="application/json")
    for filings in ([], [order]):
        feeds.set(ENTRIES, entries_json(*filings), content_type="application/json")
        feeds.set(FEED, feed[:first] + added * len(filings) + feed[first:], content_type="application/atom+xml")
        if not filings:
            for args in (["init"], ["watchlist", "add", "nvlsp", "--pin", "dcd/1:16-cv-00745"],
                         ["subscribe", "nvlsp", "slack:" + slack.url()]):
                assert run_cli(args, env).returncode == 0
        assert run_cli(["run", "--once"], env).returncode == 0
    (message,) = [r.json() for r in slack.requests]
    # the case is named, as a PACER entry names it: a tracker follows several dockets
    assert "New entry: NATIONAL VETERANS LEGAL SERVICES PROGRAM v. United States" in message["text"], message["text"]
    assert "— Entry 141: ORDER granting final approval." in message["text"]
    assert "Filed on May 15, 2024" in json.dumps(message["blocks"])  # the day it was filed, not "No date"


def test_docket_entries_beyond_max_pages_are_fetched_by_the_next_polls(db, feeds, token, tmp_path):
    """Three entries changed since the last poll, one page each, max_pages 1: each poll goes on
    from the cursor the last one stopped at, so entry 141 (the oldest change) is not skipped."""
    config = write_docket(tmp_path, feeds)
    config.write_text("providers:\n  courtlistener: {per_minute: 60}\n"
                      + config.read_text().replace("    base_url", "    max_pages: 1\n    base_url"))
    feeds.set(DOCKET, docket_json(), content_type="application/json")
    feeds.set(ENTRIES, entries_json(), content_type="application/json")
    poll(db, config)

    def entry(number: int, modified: str, following: str | None) -> str:
        row = {"id": 2209000000 + number, "docket": f"https://www.courtlistener.com{DOCKET}", "recap_documents": [],
               "date_modified": modified, "date_filed": modified[:10], "entry_number": number,
               "description": f"ORDER number {number}."}
        return json.dumps({"next": following and feeds.url(ENTRIES + f"?cursor={following}"), "results": [row]})

    feeds.set(ENTRIES, entry(143, "2024-05-17T10:00:00-07:00", "c2"), content_type="application/json")
    feeds.set(ENTRIES + "?cursor=c2", entry(142, "2024-05-16T10:00:00-07:00", "c3"), content_type="application/json")
    feeds.set(ENTRIES + "?cursor=c3", entry(141, "2024-05-15T10:00:00-07:00", "c4"), content_type="application/json")
    feeds.set(ENTRIES + "?cursor=c4", entries_json(), content_type="application/json")
    for _ in range(4):  # a page a poll, the last one reaching what the baseline stored
        poll(db, config)
    with db.session() as s:
        keys = set(s.scalars(select(Item.key)))
    assert {f"cl:docket:4214664:entry:{n}" for n in (141, 142, 143)} <= keys
    assert watermark(db, "nvlsp") == "2024-05-17T17:00:00+00:00"


def test_a_search_result_is_found_by_the_words_of_its_snippet(cli_env, feeds, tmp_path):
    """CourtListener's search result gives no opinion text, only each opinion's snippet: the passage
    that matched ("a <mark>Bivens</mark> claim against the ICE officers"). A watchlist's query reads
    it, so `bivens` finds Garcia v. ICE, whose caption never says so."""
    env = cli_env | {"COURTLISTENER_TOKEN": TOKEN}
    Path(env["MONITOR_CONFIG"]).write_text(write_search(tmp_path, feeds).read_text())
    feeds.set(SEARCH, (EXAMPLES / "courtlistener_search" / "opinions.json").read_text(),
              content_type="application/json")
    assert run_cli(["run", "--once"], env).returncode == 0
    found = json.loads(run_cli(["items", "search", '"bivens claim" ice', "--json"], env).stdout)
    assert [i["title"] for i in found] == ["Garcia v. United States Immigration and Customs Enforcement"]
    assert json.loads(run_cli(["items", "search", "mark", "--json"], env).stdout) == []  # the highlight tag is no word


def test_one_opinion_in_two_courtlistener_search_feeds_alerts_once(cli_env, feeds, slack):
    """The shipped search feeds overlap: an opinion on a Bivens claim against ICE officers that
    turns on qualified immunity is in the Bivens feed and in the qualified-immunity feed. It is one
    CourtListener opinion (one /opinion/<cluster>/ link), so one item and one alert, not one per feed."""
    feed = (EXAMPLES / "rss" / "courtlistener_ca9.xml").read_text()
    first = feed.index("<entry>")
    later = feed.index("<entry>", first + 1)
    names = ("cl-feed-bivens-ftca", "cl-feed-qualified-immunity")
    Path(cli_env["MONITOR_CONFIG"]).write_text("sources:\n" + "".join(
        f"  - id: {name}\n    kind: rss\n    flavor: courtlistener\n    item_kind: opinion\n"
        f"    url: {feeds.url(f'/feed/{name}.xml')}\n" for name in names))
    for shown in (feed[:first] + feed[later:], feed):  # the baseline, then the Bivens opinion in both
        for name in names:
            feeds.set(f"/feed/{name}.xml", shown, content_type="application/atom+xml")
        if shown != feed:
            for args in (["init"], ["watchlist", "add", "bivens", "--query", "bivens"],
                         ["subscribe", "bivens", "slack:" + slack.url()]):
                assert run_cli(args, cli_env).returncode == 0
        assert run_cli(["run", "--once"], cli_env).returncode == 0
    (message,) = [r.json()["text"] for r in slack.requests]
    assert message.count("New opinion: Jane Doe") == 1, message
    listed = json.loads(run_cli(["items", "list", "--json"], cli_env).stdout)
    assert [i["title"] for i in listed].count("Jane Doe v. U.S. Immigration & Customs Enforcement") == 1


@pytest.mark.parametrize("first", ["feed", "search"])
def test_one_opinion_from_courtlistener_feed_and_search_alerts_once(cli_env, feeds, slack, first):
    """With a token, the shipped CourtListener search (API) and the public Atom search feeds overlap:
    one opinion cluster reaches us as a search result (cluster 10734518) and as a feed entry
    linking /opinion/10734518/…. It is one opinion: one alert, whichever comes first."""
    env = cli_env | {"COURTLISTENER_TOKEN": TOKEN}
    feed = (EXAMPLES / "rss" / "courtlistener_ca9.xml").read_text()
    entry = feed.index("<entry>")
    without = feed[:entry] + feed[feed.index("<entry>", entry + 1):]
    found = opinion(10734518, "Jane Doe v. U.S. Immigration and Customs Enforcement", "2026-02-10")
    Path(env["MONITOR_CONFIG"]).write_text(
        "sources:\n  - id: cl-feed\n    kind: rss\n    flavor: courtlistener\n    item_kind: opinion\n"
        f"    url: {feeds.url('/feed/search.xml')}\n"
        f"  - id: cl-search\n    kind: courtlistener_search\n    query: Bivens\n    base_url: {feeds.base}\n")
    feeds.set("/feed/search.xml", without, content_type="application/atom+xml")
    feeds.set(SEARCH, search_page([]), content_type="application/json")
    for args in (["run", "--once"], ["watchlist", "add", "bivens", "--query", "jane doe"],
                 ["subscribe", "bivens", "slack:" + slack.url()]):
        assert run_cli(args, env).returncode == 0
    for source in (first, "search" if first == "feed" else "feed"):
        if source == "feed":
            feeds.set("/feed/search.xml", feed, content_type="application/atom+xml")
        else:
            feeds.set(SEARCH, search_page([found]), content_type="application/json")
        assert run_cli(["run", "--once", "-s", f"cl-{source}"], env).returncode == 0
    messages = [r.json()["text"] for r in slack.requests]
    assert len(messages) == 1 and "Jane Doe" in messages[0], messages
