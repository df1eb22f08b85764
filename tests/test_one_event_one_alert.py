"""One real-world event, one alert: S. 3470 followed through GovInfo BILLSTATUS and congress.gov,
both served locally in their recorded formats, end to end through the CLI.

The committee report reaches both providers: one Slack message, carrying the action's date and
the code in words, and the second provider's report kept as a confirmation. Then a watchlist
asks for two providers (``--confirm 2``): the Senate's passage waits until the second provider
reports it, and the House's passage, reported by one provider only, goes out after the
time-out marked as such.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from alerts.base import day_text
from monitor.db import Database
from monitor.delivery.dispatcher import Dispatcher
from monitor.models import utcnow
from tests.conftest import realdata, run_cli
from tests.fakes.http_server import HttpServer

EXAMPLES = Path(__file__).parent / "examples"
KEY = "test-key-5f2a9c81d3e4"
# Recorded-format actions added to the recorded S. 3470 payloads, one per move, dated in the
# recent past (a future action date fails the sanity check). The committee report carries
# Senate text with the Library of Congress code beside it, as real bills do.
TODAY = dt.date.today()
DAYS = {name: TODAY - dt.timedelta(days=ago) for name, ago in (("reported", 13), ("senate", 6), ("house", 2))}
REPORTED = (DAYS["reported"].isoformat(), "14000", "Committee", ("Committee on the Judiciary. Reported by Senator "
            "Durbin with an amendment in the nature of a substitute. Without written report."))
PASSED_SENATE = (DAYS["senate"].isoformat(), "17000", "Floor", "Passed Senate with an amendment by Unanimous Consent.")
PASSED_HOUSE = (DAYS["house"].isoformat(), "8000", "Floor", "On passage Passed without objection.")

def congress_actions(moves: list[tuple[str, str, str, str]]) -> bytes:
    """congress.gov's /actions page for S. 3470 with ``moves`` added, newest first as the API sends them."""
    page = json.loads((EXAMPLES / "congress_bill" / "s3470" / "s3470.actions.json").read_text())
    added = [{"actionCode": code, "actionDate": day, "committees": [], "links": [], "recordedVotes": [],
              "sourceSystem": {"code": 9, "name": "Library of Congress"}, "text": words, "type": kind}
             for day, code, kind, words in moves]
    page["actions"] = list(reversed(added)) + page["actions"]
    page["pagination"]["count"] = len(page["actions"])
    return json.dumps(page).encode()


def billstatus(moves: list[tuple[str, str, str, str]]) -> bytes:
    """GovInfo's BILLSTATUS-119s3470.xml with ``moves`` added to its actions, newest first."""
    xml = (EXAMPLES / "govinfo_billstatus" / "s3470.xml").read_text()
    items = "".join(f"<item><actionDate>{day}</actionDate><committees/><links/><sourceSystem><code>9</code>"
                    f"<name>Library of Congress</name></sourceSystem><text>{words}</text><type>{kind}</type>"
                    f"<actionCode>{code}</actionCode></item>" for day, code, kind, words in reversed(moves))
    return xml.replace("<actions>", "<actions>" + items, 1).encode()


def serve(feeds: HttpServer, *, congress: list[Any], govinfo: list[Any]) -> None:
    """Both providers' views of S. 3470, each with the moves it has seen so far."""
    for part in ("bill", "committees", "titles"):
        feeds.set("/v3/bill/119/s/3470" + ("" if part == "bill" else f"/{part}"),
                  (EXAMPLES / "congress_bill" / "s3470" / f"s3470.{part}.json").read_bytes(),
                  content_type="application/json")
    feeds.set("/v3/bill/119/s/3470/actions", congress_actions(congress), content_type="application/json")
    feeds.set("/bulk/119/s/BILLSTATUS-119s3470.xml", billstatus(govinfo), etag=True)


@pytest.fixture
def env(cli_env: dict[str, str], feeds: HttpServer, tmp_path: Path) -> dict[str, str]:
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        "sources:\n"
        f"  - id: congress-gov\n    kind: congress_bill\n    congress: 119\n    bills: [S. 3470]\n"
        f"    base_url: {feeds.url('/v3')}\n"
        f"  - id: govinfo\n    kind: govinfo_billstatus\n    congress: 119\n    bills: [S. 3470]\n"
        f"    base_url: {feeds.url('/bulk')}\n")
    return cli_env | {"CONGRESS_API_KEY": KEY, "COLUMNS": "300"}  # tables one line a row, as on a wide terminal


def cli(env: dict[str, str], *args: str) -> str:
    result = run_cli(list(args), env)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def texts(slack: HttpServer) -> list[str]:
    """Every Slack message as one string: its blocks' text, as a reader sees it."""
    return [json.dumps(r.json()["blocks"], ensure_ascii=False) for r in slack.requests]


def test_two_providers_one_move_one_alert_then_confirm_two_holds(env, feeds: HttpServer, slack: HttpServer,
                                                                 db_url: str) -> None:
    serve(feeds, congress=[], govinfo=[])
    cli(env, "init")
    cli(env, "watchlist", "add", "s3470", "--pin", "us/119/s/3470")
    cli(env, "subscribe", "s3470", "slack:" + slack.url())
    cli(env, "run", "--once")  # the baseline: both providers say "in committee"; nothing sent
    assert slack.requests == []

    # 1. Both providers report the committee report: one alert, with the day it happened.
    serve(feeds, congress=[REPORTED], govinfo=[REPORTED])
    cli(env, "run", "--once")
    assert len(slack.requests) == 1
    (message,) = texts(slack)
    assert f"Reported by committee on {day_text(DAYS['reported'])}" in message
    assert "14000 — Reported to Senate" in message and "Reported by Senator Durbin" in message
    cli(env, "run", "--once")  # nothing new from either provider: nothing more
    assert len(slack.requests) == 1
    preview = json.loads(cli(env, "watchlist", "preview", "s3470", "--json"))
    assert preview["alerts"] == 1  # what was sent: the second provider's report is a confirmation

    view = json.loads(cli(env, "items", "show", "us/119/s/3470", "--json"))
    assert {p["source"] for p in view["providers"]} == {"congress-gov", "govinfo"}
    assert view["agree"] is True
    assert {p["happened"] for p in view["providers"]} == {f"Reported by committee on {day_text(DAYS['reported'])}"}
    (move,) = [m for m in view["moves"] if m["status"] == "reported"]
    first = move["first_source"]
    other = ({"congress-gov", "govinfo"} - {first}).pop()
    assert f"|{first}>" in message and f"|{other}>" not in message  # alerted by whichever saw it first
    assert [c["source"] for c in move["confirmed_by"]] == [other]  # the second report is evidence, not an alert
    shown = cli(env, "items", "show", "us/119/s/3470")
    assert "every provider's view" in shown and "they agree" in shown and "not yet confirmed" not in shown

    board = cli(env, "watchlist", "show", "s3470")
    assert f"Reported by committee on {day_text(DAYS['reported'])}" in board and "14000 — Reported to Senate" in board
    assert "2 providers agree" in board
    latest = json.loads(cli(env, "watchlist", "show", "s3470", "--json"))["latest"]
    assert {i["happened"] for i in latest} == {f"Reported by committee on {day_text(DAYS['reported'])}"}

    # 2. --confirm 2: the Senate's passage waits for the second provider.
    cli(env, "watchlist", "edit", "s3470", "--confirm", "2", "--confirm-timeout", "12h")
    assert "status moves wait for 2 providers, at most 12 h" in cli(env, "watchlist", "show", "s3470")
    serve(feeds, congress=[REPORTED], govinfo=[REPORTED, PASSED_SENATE])
    cli(env, "run", "--once")
    assert len(slack.requests) == 1  # held: one provider only so far
    disagreeing = cli(env, "items", "show", "us/119/s/3470")
    assert "PROVIDERS DISAGREE" in disagreeing
    assert "PROVIDERS DISAGREE" in cli(env, "watchlist", "show", "s3470")
    assert json.loads(cli(env, "alerts", "list", "--json"))[0]["state"] == "held"

    serve(feeds, congress=[REPORTED, PASSED_SENATE], govinfo=[REPORTED, PASSED_SENATE])
    cli(env, "run", "--once")
    assert len(slack.requests) == 2  # confirmed: sent once, saying by whom
    passed = texts(slack)[1]
    assert (f"Passed one chamber on {day_text(DAYS['senate'])}" in passed
            and "17000 — Passed/agreed to in Senate" in passed)
    assert "Confirmed by congress-gov" in passed and "|govinfo>" in passed

    # 3. A move only one provider ever reports goes out after the time-out, marked as such.
    serve(feeds, congress=[REPORTED, PASSED_SENATE], govinfo=[REPORTED, PASSED_SENATE, PASSED_HOUSE])
    cli(env, "run", "--once")
    assert len(slack.requests) == 2
    db = Database(db_url)
    try:
        asyncio.run(Dispatcher(db).run_once(utcnow() + dt.timedelta(hours=11)))
        assert len(slack.requests) == 2  # still inside the time-out
        asyncio.run(Dispatcher(db).run_once(utcnow() + dt.timedelta(hours=12, minutes=1)))
    finally:
        db.dispose()
    assert len(slack.requests) == 3
    lone = texts(slack)[2]
    assert f"Passed both chambers on {day_text(DAYS['house'])}" in lone
    assert "Reported by govinfo only: no other provider confirmed it within 12 h" in lone


def serve_alaska(feeds: HttpServer, bill: dict[str, Any], row: dict[str, Any]) -> None:
    """LegiScan's view of an Alaska bill (its list row and getBill) and Open States' (one result)."""
    listing = {"status": "OK", "masterlist": {"0": {"bill_id": bill["bill_id"], "number": bill["bill_number"],
                                                     "change_hash": bill["change_hash"]}}}
    feeds.set(f"/ls/?key={KEY}&op=getMasterListRaw&state=AK", json.dumps(listing), content_type="application/json")
    feeds.set(f"/ls/?key={KEY}&op=getBill&id={bill['bill_id']}", json.dumps({"status": "OK", "bill": bill}),
              content_type="application/json")
    row = dict(row, session="27", jurisdiction={"id": "ocd-jurisdiction/country:us/state:ak/government"})
    feeds.set("/os/bills", json.dumps({"results": [row], "pagination": {"max_page": 1}}),
              content_type="application/json")


def follow_alaska(cli_env: dict[str, str], feeds: HttpServer, slack: HttpServer, number: str) -> dict[str, str]:
    """Both providers follow Alaska's ``number`` ("HB 1") for a subscribed watchlist; the baseline poll is run."""
    env = cli_env | {"LEGISCAN_API_KEY": KEY, "OPENSTATES_API_KEY": KEY}
    Path(env["MONITOR_CONFIG"]).write_text(
        "sources:\n"
        f"  - id: legiscan-ak\n    kind: legiscan\n    state: AK\n    bills: [{number.replace(' ', '')}]\n"
        f"    base_url: {feeds.url('/ls/')}\n"
        f"  - id: openstates-ak\n    kind: openstates\n    jurisdiction: ak\n    identifiers: [{number}]\n"
        f"    base_url: {feeds.url('/os')}\n")
    cli(env, "init")
    cli(env, "watchlist", "add", "ak", "--query", "health care")
    cli(env, "subscribe", "ak", "slack:" + slack.url())
    cli(env, "run", "--once")
    return env


def test_a_state_veto_reported_by_legiscan_and_open_states_alerts_once(cli_env, feeds: HttpServer, slack: HttpServer,
                                                                        tmp_path: Path) -> None:
    """Alaska's 27th Legislature, HB 1: LegiScan's real bill object, and Open States' view of it
    (session ``27``, as Open States names Alaska's sessions). The governor's veto reaches both:
    one alert, as for a federal bill, since both name the bill ak/2011/hb/1."""
    bill = json.loads(realdata("legiscan", "dataset_bill_AK_HB1_2011.json").read_text())["bill"]
    actions = [{"date": "2011-01-18", "description": "READ THE FIRST TIME - REFERRALS",
                "classification": ["introduction", "referral-committee"], "organization": {"classification": "lower"}},
               {"date": "2011-04-11", "description": "PASSED Y24 N16", "classification": ["passage"],
                "organization": {"classification": "lower"}}]

    def serve_both(vetoed: bool) -> None:
        shown = dict(bill, progress=bill["progress"] + [{"date": "2012-05-20", "event": 5}] * vetoed,
                     history=bill["history"] + [{"date": "2012-05-20", "action": "VETOED BY GOVERNOR",
                                                 "importance": 1}] * vetoed,
                     change_hash="vetoed" if vetoed else bill["change_hash"])
        veto = [{"date": "2012-05-20", "description": "VETOED BY GOVERNOR", "classification": ["executive-veto"],
                 "organization": {"classification": "executive"}}] * vetoed
        serve_alaska(feeds, shown, {"id": "ocd-bill/ak-27-hb1", "identifier": "HB 1", "title": bill["title"],
                                    "actions": [dict(a, order=n) for n, a in enumerate(actions + veto, 1)]})

    serve_both(vetoed=False)
    env = follow_alaska(cli_env, feeds, slack, "HB 1")
    serve_both(vetoed=True)
    cli(env, "run", "--once")
    (message,) = texts(slack)
    assert message.count(f"Vetoed on {day_text(dt.date(2012, 5, 20))}") == 1
    view = json.loads(cli(env, "items", "show", "ak/2011/hb/1", "--json"))
    assert {p["source"] for p in view["providers"]} == {"legiscan-ak", "openstates-ak"} and view["agree"] is True


def pacer_feed(*entries: int) -> str:
    """D.D.C.'s PACER "Recent Entries" feed in the court's format, with these entries of NVLSP v. United States."""
    items = "".join(
        "<item><title>1:16-cv-00745 National Veterans Legal Services Program et al v. United States of America"
        "</title><link>https://ecf.dcd.uscourts.gov/cgi-bin/DktRpt.pl?178502</link><description>[Order on Motion "
        f"for Settlement] (&#x3C;a href=&#x22;https://ecf.dcd.uscourts.gov/doc1/04519{n:06d}?caseid=178502&#x26;"
        f"de_seq_num={n * 3}&#x22; &#x3E;{n}&#x3C;/a&#x3E;)</description><guid isPermaLink=\"true\">"
        f"https://ecf.dcd.uscourts.gov/cgi-bin/DktRpt.pl?178502&#x26;{n * 3}</guid>"
        "<pubDate>Wed, 15 May 2024 20:09:55 GMT</pubDate></item>" for n in entries)
    return ('<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>District of Columbia - '
            f"Recent Entries</title><link>https://ecf.dcd.uscourts.gov</link>{items}</channel></rss>")


def test_one_filing_reported_by_pacer_and_courtlistener_alerts_once(cli_env, feeds: HttpServer,
                                                                    slack: HttpServer) -> None:
    """CourtListener reads the courts' PACER feeds: the order entered as entry 141 of a pinned case
    reaches both the court's feed and the CourtListener docket, and is one alert."""
    docket = (EXAMPLES / "courtlistener_docket" / "api" / "docket.json").read_text()
    entries = json.loads((EXAMPLES / "courtlistener_docket" / "api" / "entries1.json").read_text())
    entries["next"] = None
    order = {"id": 2209000001, "docket": "https://www.courtlistener.com/api/rest/v4/dockets/4214664/",
             "recap_documents": [], "date_modified": "2024-05-15T14:00:00-07:00", "date_filed": "2024-05-15",
             "entry_number": 141, "description": "ORDER granting preliminary approval of the settlement."}
    env = cli_env | {"COURTLISTENER_TOKEN": "0123456789abcdef0123456789abcdef01234567"}
    Path(env["MONITOR_CONFIG"]).write_text(
        "sources:\n"
        f"  - id: dcd-pacer\n    kind: pacer_rss\n    url: {feeds.url('/dcd/rss_outside.pl')}\n    court: dcd\n"
        f"  - id: cl-nvlsp\n    kind: courtlistener_docket\n    docket_id: 4214664\n    base_url: {feeds.base}\n")
    feeds.set("/api/rest/v4/dockets/4214664/", docket, content_type="application/json")
    for filed in ([140], [140, 141]):
        feeds.set("/dcd/rss_outside.pl", pacer_feed(*filed))
        shown = dict(entries, results=[order] * (141 in filed) + entries["results"])
        feeds.set("/api/rest/v4/docket-entries/", json.dumps(shown), content_type="application/json")
        if filed == [140]:
            cli(env, "init")
            cli(env, "watchlist", "add", "nvlsp", "--pin", "dcd/1:16-cv-00745")
            cli(env, "subscribe", "nvlsp", "slack:" + slack.url())
        cli(env, "run", "--once")
    (message,) = [r.json()["text"] for r in slack.requests]
    assert message.count("New entry") == 1 and "141" in message


def loc_action(day: str, code: str, kind: str, words: str) -> dict[str, Any]:
    """One congress.gov action in the recorded format, from the Library of Congress."""
    return {"actionCode": code, "actionDate": day, "committees": [], "links": [], "recordedVotes": [],
            "sourceSystem": {"code": 9, "name": "Library of Congress"}, "text": words, "type": kind}


VETO = [loc_action("2022-05-10", "17000", "Floor", "Passed/agreed to in Senate: Passed Senate without amendment by "
                   "Unanimous Consent."),
        loc_action("2022-06-14", "28000", "President", "Presented to President."),
        loc_action("2022-06-20", "31000", "Veto", "Vetoed by President.")]
HOUSE_OVERRIDE = loc_action("2022-07-12", "32000", "Veto", "Passed House over veto: On passage, the objections of the "
                            "President to the contrary notwithstanding Passed by the Yeas and Nays: (2/3 required): "
                            "300 - 120 (Roll no. 350).")
SENATE_OVERRIDE = [loc_action("2022-07-20", "34000", "Veto", "Passed Senate over veto: On passage, the objections of "
                              "the President to the contrary notwithstanding Passed by Yea-Nay Vote. 70 - 28."),
                   loc_action("2022-07-20", "E40000", "BecameLaw", "Became Public Law No: 117-190.")]
FAILED_SUSPENSION = loc_action("2021-01-04", "9000", "Floor", "Failed of passage/not agreed to in House: On motion to "
                               "suspend the rules and pass the bill Failed by the Yeas and Nays: (2/3 required): "
                               "250 - 170 (Roll no. 5).")


# (actions added before, whether the House's recorded passage is shown yet, the status then, added after, the news)
@pytest.mark.parametrize(("before", "passed_before", "baseline", "after", "news"), [
    pytest.param(VETO + [HOUSE_OVERRIDE], True, "vetoed", VETO + [HOUSE_OVERRIDE] + SENATE_OVERRIDE,
                 "Vetoed → Enacted", id="veto-overridden-into-law"),
    pytest.param([FAILED_SUSPENSION], False, "failed", [FAILED_SUSPENSION], "Failed → Passed one chamber",
                 id="failed-vote-then-passed"),
])
def test_a_bill_that_leaves_a_veto_or_a_failure_for_a_higher_rung_alerts(cli_env, feeds: HttpServer, slack: HttpServer,
                                                                         before: list[dict[str, Any]],
                                                                         passed_before: bool, baseline: str,
                                                                         after: list[dict[str, Any]],
                                                                         news: str) -> None:
    """H.R. 21 (117th) as congress.gov recorded it, with later actions added: a veto overridden by
    both chambers makes the bill law, and a House passage after a failed suspension vote passes
    one chamber. Each is the news a tracker waits for, not a step back from an end."""
    folder = realdata("congress_gov")
    recorded = json.loads((folder / "bill_117_hr_21_actions.json").read_text())
    passage_day = "2021-01-05"

    def serve_hr21(added: list[dict[str, Any]], *, passed: bool) -> None:
        page = dict(recorded, actions=list(reversed(added)) + [
            a for a in recorded["actions"] if passed or a["actionDate"] < passage_day])
        for part in ("", "/titles", "/committees"):
            feeds.set("/v3/bill/117/hr/21" + part, (folder / f"bill_117_hr_21{part.replace('/', '_')}.json")
                      .read_bytes(), content_type="application/json")
        feeds.set("/v3/bill/117/hr/21/actions", json.dumps(page), content_type="application/json")

    env = cli_env | {"CONGRESS_API_KEY": KEY}
    Path(env["MONITOR_CONFIG"]).write_text(
        "sources:\n"
        f"  - id: congress-gov\n    kind: congress_bill\n    congress: 117\n    bills: [H.R. 21]\n"
        f"    base_url: {feeds.url('/v3')}\n")
    serve_hr21(before, passed=passed_before)
    cli(env, "init")
    cli(env, "watchlist", "add", "hr21", "--pin", "us/117/hr/21")
    cli(env, "subscribe", "hr21", "slack:" + slack.url())
    cli(env, "run", "--once")  # the baseline (the House's override alone lifts no veto)
    assert json.loads(cli(env, "items", "show", "us/117/hr/21", "--json"))["status"] == baseline

    serve_hr21(after, passed=True)
    cli(env, "run", "--once")
    cli(env, "run", "--once")  # nothing new: nothing more
    (message,) = [r.json()["text"] for r in slack.requests]
    assert news in message


def test_a_bill_named_by_two_sources_of_one_kind_alerts_its_move_once(cli_env, feeds: HttpServer,
                                                                      slack: HttpServer) -> None:
    """S. 3470 in the shipped GovInfo source and in a researcher's own (here a mirror that is ahead):
    both keep one item, and its committee report alerts once, whichever source sees it first. The
    source that did not store the item first used to read the item it had just moved as another
    provider already there, and the move alerted nobody."""
    cli(cli_env, "init")
    cli(cli_env, "watchlist", "add", "s3470", "--pin", "us/119/s/3470")
    cli(cli_env, "subscribe", "s3470", "slack:" + slack.url())
    for sources in (["govinfo"], ["govinfo", "mirror"]):  # the baselines: the shipped source stores the item
        Path(cli_env["MONITOR_CONFIG"]).write_text("sources:\n" + "".join(
            f"  - id: {name}\n    kind: govinfo_billstatus\n    congress: 119\n    bills: [S. 3470]\n"
            f"    base_url: {feeds.url('/' + name)}\n" for name in sources))
        feeds.set(f"/{sources[-1]}/119/s/BILLSTATUS-119s3470.xml", billstatus([]))
        cli(cli_env, "run", "--once")
    assert slack.requests == []
    feeds.set("/mirror/119/s/BILLSTATUS-119s3470.xml", billstatus([REPORTED]))
    cli(cli_env, "run", "--once")
    assert len(slack.requests) == 1 and f"Reported by committee on {day_text(DAYS['reported'])}" in texts(slack)[0]
    feeds.set("/govinfo/119/s/BILLSTATUS-119s3470.xml", billstatus([REPORTED]))
    cli(cli_env, "run", "--once")
    assert len(slack.requests) == 1


def test_a_state_resolution_adopted_is_not_a_law_and_alerts_once(cli_env, feeds: HttpServer, slack: HttpServer) -> None:
    """LegiScan marks a resolution that did all it can "Passed" (status and progress event 4), the
    code a bill gets when it becomes law. Alaska's House adopting a resolution (LegiScan's real
    bill object as a resolution: ``bill_type`` "R") is that chamber's passage, as Open States'
    view of it says: one alert, "Passed one chamber", never "Enacted"."""
    bill = json.loads(realdata("legiscan", "dataset_bill_AK_HB1_2011.json").read_text())["bill"]
    adopted = [{"date": "2011-04-11", "event": 4}]

    def serve_both(passed: bool) -> None:
        shown = dict(bill, bill_number="HR1", bill_type="R", bill_type_id="2", status=4 if passed else 1,
                     status_date="2011-04-11" if passed else "2011-01-18",
                     progress=bill["progress"][:2] + adopted * passed, change_hash=f"passed{passed}")
        actions = [{"date": "2011-01-18", "description": "READ THE FIRST TIME - REFERRALS",
                    "classification": ["introduction", "referral-committee"]},
                   {"date": "2011-04-11", "description": "ADOPTED Y24 N16", "classification": ["passage"]}]
        serve_alaska(feeds, shown, {"id": "ocd-bill/ak-27-hr1", "identifier": "HR 1", "title": bill["title"],
                                    "actions": [dict(a, order=n, organization={"classification": "lower"})
                                                for n, a in enumerate(actions[:1 + passed], 1)]})

    serve_both(passed=False)
    env = follow_alaska(cli_env, feeds, slack, "HR 1")
    serve_both(passed=True)
    cli(env, "run", "--once")
    (message,) = texts(slack)
    assert message.count(f"Passed one chamber on {day_text(dt.date(2011, 4, 11))}") == 1 and "Enacted" not in message
    view = json.loads(cli(env, "items", "show", "ak/2011/hr/1", "--json"))
    assert {p["status"] for p in view["providers"]} == {"passed_one_chamber"} and view["agree"] is True
    assert "a resolution: adopted" in cli(env, "items", "show", "ak/2011/hr/1")  # LegiScan's "Passed", in words
