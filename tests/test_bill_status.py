"""The one bill ladder: crosswalk tables entry by entry, the state machine, identities, and
conformance with every real payload in ../shared/realdata (congress_gov, govinfo/billstatus,
legiscan)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from monitor.normalise import crosswalks as cw
from monitor.normalise.identity import federal_identity, parse_federal_bill, state_identity
from monitor.normalise.ladder import Action, climb
from monitor.normalise.statuses import ALL_STATUSES
from monitor.sources import SOURCE_KINDS, Fetched, Page
from monitor.sources.govinfo_billstatus import parse_billstatus
from tests.conftest import realdata

# What each code means, written out from the providers' documentation: (status, chamber) or None.
CONGRESS_EXPECTED = {
    "Intro-H": ("introduced", None), "1000": ("introduced", None), "1025": ("introduced", None),
    "2000": ("in_committee", None), "3000": ("in_committee", None), "5000": ("reported", None),
    "8000": ("passed_one_chamber", "lower"), "9000": ("failed", None), "10000": ("introduced", None),
    "11000": ("in_committee", None), "13100": ("in_committee", None), "13200": ("in_committee", None),
    "14000": ("reported", None), "14500": ("reported", None), "14900": ("reported", None),
    "17000": ("passed_one_chamber", "upper"), "18000": ("failed", None), "28000": ("sent_to_executive", None),
    "31000": ("vetoed", None), "36000": ("enacted", None), "E20000": ("sent_to_executive", None),
    "E30000": None, "E40000": ("enacted", None), "B00100": None,
    "5500": ("reported", None), "19500": None, "20500": None, "21000": None, "23000": None,
    "29000": ("enacted", None), "29100": ("enacted", None), "30000": ("vetoed", None), "32000": ("vetoed", "lower"),
    "33000": ("vetoed", None), "34000": ("vetoed", "upper"), "35000": ("vetoed", None), "39000": ("enacted", None),
    "44000": ("enacted", None), "H41610": None,
    "H11100": ("in_committee", None), "H11200": ("in_committee", None), "H12100": ("reported", None),
    "H12200": ("reported", None), "H12300": ("reported", None), "H12410": ("reported", None),
    "H14000": None, "H15000": None, "H17000": None, "H1L210": None, "H1L220": None, "H25200": None,
    "H30000": None, "H35000": None, "H37100": None, "H37300": None, "H38310": None, "H8D000": None, "H81000": None,
}
TYPE_EXPECTED = {
    "IntroReferral": "introduced", "IntroReferral+committee": "in_committee", "Introduced in House": "introduced",
    "Introduced in Senate": "introduced", "Committee": "in_committee", "Committee Actions": "in_committee",
    "Discharge": "reported", "Calendars": "reported", "BecameLaw": "enacted",
}
OPENSTATES_EXPECTED = {
    "filing": "introduced", "introduction": "introduced", "enrolled": "passed_both", "reading-1": "introduced",
    "passage": "passed_one_chamber", "failure": "failed", "withdrawal": "withdrawn",
    "committee-passage": "reported", "committee-passage-favorable": "reported",
    "committee-passage-unfavorable": "reported", "committee-failure": "failed",
    "executive-receipt": "sent_to_executive", "executive-signature": "enacted", "executive-veto": "vetoed",
    "became-law": "enacted", "veto-override-failure": "vetoed", "veto-override-passage": "vetoed",
    "referral": "in_committee", "referral-committee": "in_committee",
}
OPENSTATES_NEUTRAL = {
    "reading-2", "reading-3", "substitution", "amendment-introduction", "amendment-passage", "amendment-withdrawal",
    "amendment-failure", "amendment-amendment", "amendment-deferral", "executive-veto-line-item",
    "deferral", "receipt",
}
LEGISCAN_STATUS_EXPECTED = {0: "introduced", 1: "introduced", 2: "passed_one_chamber", 3: "passed_both",
                            4: "enacted", 5: "vetoed", 6: "failed"}
LEGISCAN_PROGRESS_EXPECTED = {1: "introduced", 2: "passed_one_chamber", 3: "passed_both", 4: "enacted", 5: "vetoed",
                              6: "failed", 7: "enacted", 8: "enacted", 9: "in_committee", 10: "reported",
                              11: "reported", 12: "introduced"}


@pytest.mark.parametrize("code", sorted(cw.CONGRESS_ACTION_CODES))
def test_congress_action_code(code: str) -> None:
    step = cw.CONGRESS_ACTION_CODES[code]
    assert (None if step is None else (step.status, step.chamber)) == CONGRESS_EXPECTED[code]


@pytest.mark.parametrize("action_type", sorted(cw.BILLSTATUS_ACTION_TYPES))
def test_billstatus_action_type(action_type: str) -> None:
    step = cw.BILLSTATUS_ACTION_TYPES[action_type]
    assert (None if step is None else step.status) == TYPE_EXPECTED.get(action_type)


@pytest.mark.parametrize("classification", sorted(cw.OPENSTATES_CLASSIFICATIONS))
def test_openstates_classification(classification: str) -> None:
    step = cw.OPENSTATES_CLASSIFICATIONS[classification]
    if classification in OPENSTATES_NEUTRAL:
        assert step is None
    else:
        assert step is not None and step.status == OPENSTATES_EXPECTED[classification]


@pytest.mark.parametrize("code", sorted(cw.LEGISCAN_STATUS))
def test_legiscan_status(code: int) -> None:
    assert cw.LEGISCAN_STATUS[code].status == LEGISCAN_STATUS_EXPECTED[code]


@pytest.mark.parametrize("event", sorted(cw.LEGISCAN_PROGRESS))
def test_legiscan_progress_event(event: int) -> None:
    assert cw.LEGISCAN_PROGRESS[event].status == LEGISCAN_PROGRESS_EXPECTED[event]


def test_tables_cover_the_documented_vocabularies_and_only_ladder_statuses() -> None:
    assert set(cw.CONGRESS_ACTION_CODES) == set(CONGRESS_EXPECTED)
    assert set(cw.OPENSTATES_CLASSIFICATIONS) == set(OPENSTATES_EXPECTED) | OPENSTATES_NEUTRAL
    assert set(cw.LEGISCAN_STATUS) == set(range(7)) and set(cw.LEGISCAN_PROGRESS) == set(range(1, 13))
    steps = [*cw.CONGRESS_ACTION_CODES.values(), *cw.BILLSTATUS_ACTION_TYPES.values(),
             *cw.OPENSTATES_CLASSIFICATIONS.values(), *cw.LEGISCAN_STATUS.values(), *cw.LEGISCAN_PROGRESS.values()]
    assert {s.status for s in steps if s is not None} <= ALL_STATUSES


def day(n: int) -> dt.date:
    return dt.date(2026, 1, n)


def test_ladder_climbs_counts_chambers_and_never_steps_back() -> None:
    events = [
        (Action(day(1), "Introduced", "1000"), cw.INTRODUCED),
        (Action(day(2), "Passed House", "8000"), cw.PASSED_LOWER),
        (Action(day(3), "Passed House again (motion)", "8000"), cw.PASSED_LOWER),
        (Action(day(4), "Referred to Senate committee", "11000"), cw.IN_COMMITTEE),
    ]
    derived = climb(events)
    assert (derived.status, derived.action, derived.date) == ("passed_one_chamber", "Passed House", day(2))
    derived = climb(events + [(Action(day(5), "Passed Senate", "17000"), cw.PASSED_UPPER)])
    assert (derived.status, derived.raw_status) == ("passed_both", "17000")
    assert derived.latest and derived.latest.text == "Passed Senate"


def test_ladder_ends_hold_until_a_higher_rung() -> None:
    failed = [(Action(day(1), "Introduced"), cw.INTRODUCED), (Action(day(2), "Failed of passage"), cw.FAILED)]
    assert climb(failed).status == "failed"
    assert climb(failed + [(Action(day(3), "Referred"), cw.IN_COMMITTEE)]).status == "in_committee"
    assert climb(failed + [(Action(day(3), "Introduced again"), cw.INTRODUCED)]).status == "failed"
    vetoed = [(Action(day(1), "Presented"), cw.TO_EXECUTIVE), (Action(day(2), "Vetoed by President"), cw.VETOED)]
    assert climb(vetoed).status == "vetoed"
    # A law or signature beside the veto (the veto restated under another code) lifts nothing;
    # a law on a later day is one (an amendatory veto accepted without an override).
    assert climb(vetoed + [(Action(day(2), "Signed by President"), cw.ENACTED)]).status == "vetoed"
    assert climb(vetoed + [(Action(day(3), "Became Public Law"), cw.ENACTED)]).status == "enacted"
    # One chamber's override leaves the bill vetoed; both chambers enact it, a law then follows.
    house = (Action(day(4), "Passed House over veto"), cw.OVERRIDE_LOWER)
    one = climb(vetoed + [house])
    assert (one.status, one.date, one.overrides) == ("vetoed", day(2), ("lower",))
    both = climb(vetoed + [house, (Action(day(5), "Passed Senate over veto"), cw.OVERRIDE_UPPER)])
    assert (both.status, both.action, both.date) == ("enacted", "Passed Senate over veto", day(5))
    assert climb(vetoed + [house, (Action(day(6), "Became Public Law"), cw.ENACTED)]).status == "enacted"
    assert climb(vetoed + [(Action(day(3), "Override"), cw.OVERRIDDEN)]).status == "enacted"
    # A failure is lifted by a higher rung on a later day only.
    same_day = failed + [(Action(day(2), "Passed House"), cw.PASSED_LOWER)]
    assert climb(same_day).status == "failed"
    assert climb(failed + [(Action(day(5), "Passed House"), cw.PASSED_LOWER)]).status == "passed_one_chamber"
    assert climb([(Action(day(1), "Held at the desk"), None)]).status is None


@pytest.mark.parametrize(("text", "expected"), [
    ("S. 3470", ("s", 3470)), ("s3470", ("s", 3470)), ("H.R. 6091", ("hr", 6091)), ("HR 503", ("hr", 503)),
    ("H.J.Res. 45", ("hjres", 45)), ("hconres12", ("hconres", 12)), ("S.Res. 7", ("sres", 7)),
])
def test_federal_bill_numbers(text: str, expected: tuple[str, int]) -> None:
    assert parse_federal_bill(text) == expected


def test_a_bad_federal_bill_number_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a federal bill number"):
        parse_federal_bill("HB 1312")


@pytest.mark.parametrize(("open_states", "legiscan", "identity"), [
    (("il", "104th", "HB 1312"), ("il", "104th General Assembly 2025", "HB1312"), "il/104/hb/1312"),
    (("ca", "20252026", "SB 747"), ("ca", "2025-2026 Regular Session 2025", "SB747"), "ca/2025/sb/747"),
    (("ny", "2025-2026", "S 8500"), ("ny", "2025-2026 General Assembly 2025", "S08500A"), "ny/2025/s/8500"),
    (("md", "2026", "HB 351"), ("md", "2026 Regular Session 2026", "HB0351"), "md/2026/hb/351"),
    (("co", "2026A", "SB26-005"), ("co", "2026 Regular Session 2026", "SB005"), "co/2026/sb/5"),
    # Open States names these sessions by the legislature's number alone; LegiScan gives the year
    (("ak", "27", "HB 1"), ("ak", "27th Legislature 2011", "HB1"), "ak/2011/hb/1"),
    (("ma", "194th", "H 1234"), ("ma", "194th General Court 2025", "H1234"), "ma/2025/h/1234"),
    (("nj", "221", "S 3672"), ("nj", "2024-2025 Regular Session 2024", "S3672"), "nj/2024/s/3672"),
    (("oh", "136", "HB 96"), ("oh", "136th General Assembly 2025", "HB96"), "oh/2025/hb/96"),
    (("tx", "89R", "SB 8"), ("tx", "89th Legislature 2025", "SB8"), "tx/2025/sb/8"),
    (("tx", "891", "HB 1"), ("tx", "89th Legislature 1st Special Session 2025", "HB1"), "tx/2025/hb/1"),
    (("me", "132", "LD 1971"), ("me", "132nd Legislature 2025", "LD1971"), "me/2025/ld/1971"),
])
def test_open_states_and_legiscan_give_one_state_identity(open_states, legiscan, identity) -> None:
    assert state_identity(*open_states) == state_identity(*legiscan) == identity


def test_federal_identity() -> None:
    assert federal_identity("119", "S", "3470") == "us/119/s/3470"


# ---- conformance with the real payloads -------------------------------------------------------

def congress_source(congress: int, bills: list[str]):
    cls = SOURCE_KINDS["congress_bill"]
    return cls(cls.Config(id="c", kind="congress_bill", congress=congress, bills=bills))


def test_congress_gov_117_hr_21_status_and_latest_action_agree_with_latest_action() -> None:
    folder = realdata("congress_gov")
    labels = {"": "bill", "_actions": "actions", "_titles": "titles", "_committees": "committees"}
    pages = tuple(Page(f"file://{s}", (folder / f"bill_117_hr_21{s}.json").read_bytes(), label=f"hr21.{lab}")
                  for s, lab in labels.items())
    [record] = congress_source(117, ["H.R. 21"]).parse(Fetched(pages=pages))
    payload = json.loads((folder / "bill_117_hr_21.json").read_bytes())["bill"]
    actions = json.loads((folder / "bill_117_hr_21_actions.json").read_bytes())["actions"]
    assert record.identity == "us/117/hr/21" and record.title == "H.R. 21: FedRAMP Authorization Act"
    # Passed the House (8000), then received and referred in the Senate: one chamber.
    assert (record.status, record.raw_status, record.status_date) == ("passed_one_chamber", "8000", dt.date(2021, 1, 5))
    assert record.status_action and record.status_action.startswith("Passed/agreed to in House")
    assert record.summary == payload["latestAction"]["text"]
    assert record.data["latest_action"] == {"date": payload["latestAction"]["actionDate"],
                                            "text": payload["latestAction"]["text"]}
    from monitor.normalise.federal import FederalAction, derive
    latest = derive([FederalAction(a["actionDate"], a["text"], a.get("actionCode"), a.get("type"), a.get("actionTime"),
                                   bool(a.get("committees"))) for a in actions]).latest
    assert latest and (latest.date.isoformat(), latest.text) == (payload["latestAction"]["actionDate"],
                                                                 payload["latestAction"]["text"])
    assert record.data["cosponsors"] == payload["cosponsors"]["count"] == 2
    assert record.data["committees"] == ["Homeland Security and Governmental Affairs Committee",
                                         "Oversight and Reform Committee"]


@pytest.mark.parametrize("name", ["bill_117.json", "bill_117_hr.json"])
def test_congress_gov_bill_lists_parse_through_congress_recent(name: str) -> None:
    body = realdata("congress_gov", name).read_bytes()
    cls = SOURCE_KINDS["congress_recent"]
    acts = cls(cls.Config(id="r", kind="congress_recent", congress=117, filter="act"))
    records = acts.parse(Fetched(pages=(Page("file://x", body, label="page1"),)))
    bills = json.loads(body)["bills"]
    titled = [b for b in bills if re.search(r"\bact\b", b["title"].lower())]
    assert len(records) == len(titled) > 0
    assert all(r.identity == f"us/117/{r.data['type']}/{r.data['number']}" for r in records)


def test_every_congress_gov_capture_is_json_of_the_documented_shape() -> None:
    folder = realdata("congress_gov")
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_bytes())
        assert "request" in data or "bills" in data, path.name


def billstatus_files():
    folder = realdata("govinfo", "billstatus")
    return sorted(folder.glob("*.xml"))


def test_every_billstatus_file_parses_and_agrees_with_its_latest_action() -> None:
    cls = SOURCE_KINDS["govinfo_billstatus"]
    source = cls(cls.Config(id="g", kind="govinfo_billstatus", congress=117, bills=["s35"]))
    seen = {}
    for path in billstatus_files():
        [record] = source.parse(Fetched(pages=(Page(f"file://{path.name}", path.read_bytes()),)))
        parsed = parse_billstatus(path.read_bytes())
        from monitor.normalise.federal import derive
        latest = derive(parsed["actions"]).latest
        assert latest is not None and latest.text == parsed["latest_action"]["text"], path.name
        seen[path.name] = (record.identity, record.status)
    assert seen == {
        "BILLSTATUS-116hr5240.xml": ("us/116/hr/5240", "in_committee"),
        "formatChange_current_BILLSTATUS-117s35.xml": ("us/117/s/35", "passed_one_chamber"),
        "formatChange_future_BILLSTATUS-117s35.xml": ("us/117/s/35", "passed_one_chamber"),
        "legacy_BILLSTATUS-114hjres45.xml": ("us/114/hjres/45", "in_committee"),
        "textVersions_DEV-BILLSTATUS-115s3509.xml": ("us/115/s/3509", "sent_to_executive"),
    }


def test_both_billstatus_formats_of_117s35_give_the_same_bill() -> None:
    folder = realdata("govinfo", "billstatus")
    legacy = parse_billstatus((folder / "formatChange_current_BILLSTATUS-117s35.xml").read_bytes())
    current = parse_billstatus((folder / "formatChange_future_BILLSTATUS-117s35.xml").read_bytes())
    assert (legacy["format"], current["format"]) == ("legacy", "current")
    assert legacy["actions"] == current["actions"] and len(current["actions"]) == 10
    for name in ("congress", "type", "number", "title", "committees", "latest_action", "sponsors"):
        assert legacy[name] == current[name], name


def test_legiscan_bill_object_progress_agrees_with_its_status_code() -> None:
    body = realdata("legiscan", "dataset_bill_AK_HB1_2011.json").read_bytes()
    cls = SOURCE_KINDS["legiscan"]
    source = cls(cls.Config(id="l", kind="legiscan", state="AK", bills=["HB1"]))
    [record] = source.parse(Fetched(pages=(Page("file://x", body, label="bill230084"),)))
    bill = json.loads(body)["bill"]
    assert record.status == cw.LEGISCAN_STATUS[bill["status"]].status == "passed_one_chamber"
    assert record.status_date and record.status_date.isoformat() == bill["status_date"]
    assert record.identity == "ak/2011/hb/1" and record.data["change_hash"] == bill["change_hash"]
    # The action that proves the status, by its words: the vote, not the transmittal after it
    # (LegiScan marks both important); the reconsidered vote is the one that stood.
    assert record.status_action == "PASSED ON RECONSIDERATION Y23 N16 A1"


def test_a_legiscan_bill_without_progress_events_has_its_status_code() -> None:
    """A bill LegiScan lists no progress events for yet (just pre-filed or introduced) still has a
    status: LegiScan's own status code, on its status date."""
    from monitor.sources.legiscan import bill_record

    bill = json.loads(realdata("legiscan", "dataset_bill_AK_HB1_2011.json").read_bytes())["bill"]
    record = bill_record(bill | {"progress": [], "status": 1, "status_date": "2011-01-18"})
    assert (record.status, record.status_date, record.raw_status) == ("introduced", dt.date(2011, 1, 18), "status:1")
    assert record.data["status_basis"] == "actions"


def test_legiscan_vote_object_is_not_a_bill() -> None:
    body = realdata("legiscan", "dataset_vote_154366.json").read_bytes()
    cls = SOURCE_KINDS["legiscan"]
    source = cls(cls.Config(id="l", kind="legiscan", state="AK", bills=["HB1"]))
    from monitor.errors import ParseError
    with pytest.raises(ParseError, match="no 'bill' object"):
        source.parse(Fetched(pages=(Page("file://x", body, label="bill154366"),)))


def test_default_sources_yaml_watches_the_remedy_bills_everywhere() -> None:
    from monitor.config import load_config
    from monitor.normalise.identity import split_bill_number
    from tests.conftest import ROOT

    config = load_config(ROOT / "sources.yaml")
    federal = {"s3470", "s3187", "hr6091", "hr3602", "hr503", "s122"}
    for kind in ("govinfo_billstatus", "congress_bill"):
        [source] = [s for s in config.sources if s.kind == kind]
        assert {"".join(map(str, parse_federal_bill(b))) for b in source.bills} == federal
        assert source.congress == 119
    state = {("il", "hb", 1312), ("ca", "sb", 747), ("ny", "s", 8504), ("ny", "s", 8500), ("md", "hb", 351),
             ("md", "hb", 550), ("md", "hb", 332), ("md", "sb", 346), ("co", "sb", 5)}
    legiscan = {(s.state.lower(), *split_bill_number(b))
                for s in config.sources if s.kind == "legiscan" for b in s.bills}
    openstates = {(s.jurisdiction.split("state:")[1][:2], *split_bill_number(i))
                  for s in config.sources if s.kind == "openstates" for i in s.identifiers}
    assert legiscan == openstates == state
    # Open States' default tier: 250 requests a day across all its sources.
    per_day = sum(86400 // config.interval_seconds(s) for s in config.sources if s.kind == "openstates")
    assert per_day <= 50


@pytest.mark.parametrize(("entry", "message"), [
    ("  - id: cg\n    kind: congress_bill\n    congress: 119\n    bills: [HB 1312]\n",
     ("sources.yaml:5: source 'cg': field 'bills': not a federal bill number: 'HB 1312' "
      "(expected e.g. 'S. 3470' or 'hr6091')")),
    ("  - id: ls\n    kind: legiscan\n    state: IL\n",
     "sources.yaml:2: source 'ls': field 'query': give 'bills' (numbers to follow) or 'query' (a LegiScan search)"),
    ("  - id: ls\n    kind: legiscan\n    state: IL\n    bills: [Bivens Act]\n",
     "sources.yaml:5: source 'ls': field 'bills': unrecognised bill number 'Bivens Act'"),
    ("  - id: cr\n    kind: congress_recent\n    congress: 119\n",
     "sources.yaml:2: source 'cr': missing required field 'filter'"),
])
def test_bad_bill_sources_are_reported_with_file_and_line(tmp_path, entry: str, message: str) -> None:
    from monitor.config import load_config
    from monitor.errors import ConfigError

    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n" + entry)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == message


# ---- list rows: a status from the latest action alone ------------------------------------------

@pytest.mark.parametrize(("text", "status"), [
    ("Became Public Law No: 118-34.", "enacted"),
    ("Vetoed by President.", "vetoed"),
    ("Pocket Vetoed by President.", "vetoed"),
    ("Presented to President.", "sent_to_executive"),
    ("Referred to the House Committee on the Judiciary.", "in_committee"),
    ("Placed on the Union Calendar, Calendar No. 222.", "reported"),
    ("Passed/agreed to in Senate: Passed Senate without amendment by Unanimous Consent.", "passed_one_chamber"),
    ("Failed of passage in Senate by Yea-Nay Vote. 45 - 55.", "failed"),
    (("Read twice and referred concurrently to the Committees on Appropriations; the Budget pursuant to the order of "
      "January 30, 1975."), "in_committee"),
    ("Pursuant to the provisions of H. Res. 101, S. Con. Res. 5 is considered passed House.", "passed_one_chamber"),
])
def test_latest_action_status(text: str, status: str) -> None:
    from monitor.normalise.actiontext import latest_action_status

    derived = latest_action_status(text, "2026-02-03")
    assert (derived.status, derived.action, derived.date) == (status, text, dt.date(2026, 2, 3))


def test_a_list_row_whose_latest_action_proves_nothing_is_introduced_on_no_stated_day() -> None:
    """A listed bill has at least been introduced, but not on its latest action's day: congress.gov
    lists H.R. 3617 (117th, the MORE Act, introduced May 28, 2021) with "Motion to reconsider laid
    on the table …" of Apr 1, 2022, the day it passed the House; "Introduced on Apr 1, 2022" is false."""
    from monitor.normalise.actiontext import latest_action_status

    text = "Motion to reconsider laid on the table Agreed to without objection."
    derived = latest_action_status(text, "2022-04-01", "lower")
    assert (derived.status, derived.action, derived.date) == ("introduced", text, None)


# Latest actions of GPO's BILLSTATUS samples (usgpo/bill-status samples/, read by hand), as a
# congress.gov list row carries them: (bill type, latest action, what it shows happened before
# it). The sample's whole history gives that status or, where marked, a higher one; a veto
# message is never read as a bill merely introduced.
IMPLIED_BY_THE_LATEST_ACTION = [
    ("sjres", ("Motion to table the veto message to accompany S. J. Res. 8 agreed to in Senate by Yea-Nay Vote. "
               "96 - 3. Record Vote Number: 172. (consideration: CR S2644)"), "vetoed"),  # 114sjres8
    ("hr", "On motion to postpone consideration of the veto message until Jan. 26. Agreed to by voice vote.",
     "vetoed"),  # 114hr3762
    ("s", "Held at the desk.", "passed_one_chamber"),  # 117s35, 114s2848: the House holds a Senate bill
    ("hr", "Received in the Senate.", "passed_one_chamber"),  # 117hr1
    ("hr", ("Received in the Senate and Read twice and referred to the Committee on Energy and Natural "
            "Resources."), "passed_one_chamber"),  # 114hr5278
    ("hconres", "Message on Senate action sent to the House.", "passed_both"),  # 114hconres70
    ("sconres", "Message on Senate action sent to the House.", "passed_one_chamber"),  # 114sconres11: passed_both
    ("s", "Committee on Indian Affairs. Hearings held. Hearings printed: S.Hrg. 116-77.", "in_committee"),  # 116s790
    ("hjres", "Subcommittee Hearings Held.", "in_committee"),  # 114hjres45
    ("hr", "Cleared for White House.", "passed_both"),  # unitedstates/congress: after both chambers agree
]


@pytest.mark.parametrize(("bill_type", "text", "status"), IMPLIED_BY_THE_LATEST_ACTION,
                         ids=[f"{t}:{x[:40]}" for t, x, _ in IMPLIED_BY_THE_LATEST_ACTION])
def test_a_list_row_status_counts_what_its_latest_action_shows_happened(bill_type: str, text: str,
                                                                        status: str) -> None:
    """What the row's one action shows already happened (a veto message: a veto; received in the
    Senate: passed by the House) is its status, with no date: the action's date is not that
    event's. A passage in the chamber a bill did not start in means its own chamber passed it too."""
    from monitor.normalise.actiontext import latest_action_status, origin_chamber

    derived = latest_action_status(text, "2026-02-03", origin_chamber(bill_type))
    assert (derived.status, derived.action, derived.date) == (status, text, None)


# A list row whose latest action is a vote to override a veto (H.R. 6395, 116th Congress: the
# House's vote on Dec 28, 2020, then the Senate's on Jan 1, 2021): (bill type, latest action,
# status, dated). A veto goes back to the chamber the bill started in, which votes first (U.S.
# Const. art. I, § 7), so the other chamber's override makes the law on that day; the first
# chamber's shows only that the bill was vetoed, on an earlier day.
HOUSE_OVERRIDE = ("On passage, the objections of the President to the contrary notwithstanding Passed by the "
                  "Yeas and Nays: (2/3 required): 322 - 87 (Roll no. 253).")
SENATE_OVERRIDE = "Passed Senate over veto by Yea-Nay Vote. 81 - 13. Record Vote Number: 292."
OVERRIDE_ROWS = [
    ("hr", HOUSE_OVERRIDE, "vetoed", False),
    ("hr", SENATE_OVERRIDE, "enacted", True),
    ("s", SENATE_OVERRIDE, "vetoed", False),
    ("s", HOUSE_OVERRIDE, "enacted", True),
    ("hr", ("Two-thirds of the Members present having voted in the affirmative the bill is passed, Passed by the "
            "Yeas and Nays: (2/3 required): 383 - 41 (Roll no. 491)."), "vetoed", False),
]


@pytest.mark.parametrize(("bill_type", "text", "status", "dated"), OVERRIDE_ROWS,
                         ids=[f"{t}:{x[:30]}" for t, x, *_ in OVERRIDE_ROWS])
def test_a_list_row_ending_in_an_override_vote_is_vetoed_or_law(bill_type: str, text: str, status: str,
                                                                 dated: bool) -> None:
    body = json.loads(realdata("congress_gov", "bill_117_hr.json").read_bytes())
    row = {**body["bills"][0], "type": bill_type.upper(), "title": "An act on remedies",
           "latestAction": {"actionDate": "2021-01-01", "text": text}}
    cls = SOURCE_KINDS["congress_recent"]
    source = cls(cls.Config(id="r", kind="congress_recent", congress=117, filter="remedies"))
    page = Page("file://x", json.dumps({**body, "bills": [row]}).encode(), label="page1")
    [record] = source.parse(Fetched(pages=(page,)))
    assert (record.status, record.status_action, record.data["status_basis"]) == (status, text, "latest_action")
    assert record.status_date == (dt.date(2021, 1, 1) if dated else None)


def test_an_open_states_row_ending_in_an_override_is_vetoed() -> None:
    """A state row names no chamber the bill started in: the override shows the veto, no more."""
    from monitor.sources.openstates import bill_record

    record = bill_record({"id": "ocd-bill/y", "session": "2025", "identifier": "SB 5", "title": "Remedies",
                          "jurisdiction": {"id": "ocd-jurisdiction/country:us/state:ky/government"},
                          "latest_action_description": "Veto overridden", "latest_action_date": "2025-03-14"})
    assert (record.status, record.status_date, record.data["status_basis"]) == ("vetoed", None, "latest_action")


@pytest.mark.parametrize("name", ["bill_117.json", "bill_117_hr.json"])
def test_every_congress_gov_list_row_gets_a_status_marked_latest_action_only(name: str) -> None:
    body = realdata("congress_gov", name).read_bytes()
    cls = SOURCE_KINDS["congress_recent"]
    source = cls(cls.Config(id="r", kind="congress_recent", congress=117, filter="act OR to OR the OR resolution"))
    records = source.parse(Fetched(pages=(Page("file://x", body, label="page1"),)))
    rows = {f"us/117/{b['type'].lower()}/{b['number']}": b for b in json.loads(body)["bills"]}
    assert records
    for record in records:
        latest = rows[record.identity]["latestAction"]
        assert record.status in ("in_committee", "introduced") and record.data["status_basis"] == "latest_action"
        # a referral is dated; H.R. 3617's "Motion to reconsider…" shows only that it was introduced, on another day
        dated = record.status == "in_committee"
        assert (record.status_action, record.status_date) == (
            latest["text"], dt.date.fromisoformat(latest["actionDate"]) if dated else None)
        if latest["text"].startswith("Referred to"):
            assert record.status == "in_committee"


def test_an_open_states_row_without_actions_gets_its_status_from_the_latest_action() -> None:
    from monitor.sources.openstates import bill_record

    row = {"id": "ocd-bill/x", "session": "104th", "identifier": "HB 1312", "title": "Remedies",
           "jurisdiction": {"id": "ocd-jurisdiction/country:us/state:il/government"},
           "latest_action_description": "Public Act . . . . . . . . . 104-0012", "latest_action_date": "2026-06-30"}
    record = bill_record(row)
    assert (record.status, record.status_date, record.data["status_basis"]) == ("enacted", dt.date(2026, 6, 30),
                                                                                "latest_action")
    full = bill_record({**row, "actions": [{"date": "2026-01-10", "description": "Filed",
                                            "classification": ["filing"]}]})
    assert (full.status, full.data["status_basis"]) == ("introduced", "actions")


# State legislatures' own wordings (the states the default sources search), as an Open States
# action without a classification or a search row's latest action carries them: (wording, status
# that action shows as a list row's only action). They were read as proving nothing (or, for
# "Passed Both Houses", one chamber).
STATE_WORDINGS = [
    ("SIGNED CHAP.481", "enacted"),  # NY
    ("DELIVERED TO ASSEMBLY", "passed_one_chamber"),  # NY: the Senate passed it
    ("AMEND AND RECOMMIT TO CODES", "in_committee"),  # NY
    ("Governor Approved", "enacted"),  # IL
    ("Passed Both Houses", "passed_both"),  # IL
    ("Third Reading - Passed; 058-000-000", "passed_one_chamber"),  # IL
    ("Total Veto Stands - No Positive Action Taken", "vetoed"),  # IL
    ("Favorable with Amendments Report by Judiciary", "reported"),  # MD
    ("Unfavorable Report by Judiciary", "failed"),  # MD: Open States classifies it committee-failure
    ("Governor Signed", "enacted"),  # CO
    ("House Third Reading Passed", "passed_one_chamber"),  # CO
    ("Senate Committee on Judiciary Refer Amended to Appropriations", "reported"),  # CO
    ("House Committee on Judiciary Postpone Indefinitely", "failed"),  # CO
    ("Enacted and laid before the Governor", "sent_to_executive"),  # MA: "enacted" is the last vote
    ("In Senate. Consideration of Governor's veto pending.", "vetoed"),  # CA
    ("Approved P.L.2025, c.123.", "enacted"),  # NJ
    ("Reported out of Assembly Committee, 2nd Reading in Assembly", "reported"),  # NJ
    ("Absolute Veto, Received in the Assembly", "vetoed"),  # NJ
    ("Conditional Veto, Received in the Senate", "vetoed"),  # NJ
    ("Passed to Rules Committee for second reading.", "reported"),  # WA: out of committee, not passed
    ("Third reading. Carried by Smith. Passed.", "passed_one_chamber"),  # OR
    ("Governor's action Approval", "enacted"),  # MN
    ("Governor's action Veto", "vetoed"),  # MN
    ("Secretary of State Chapter 45", "enacted"),  # MN
    ("Committee report, to pass as amended", "reported"),  # MN
    ("Concurred in House amendments", "passed_both"),  # the second chamber agrees to the first's changes
]


@pytest.mark.parametrize(("wording", "status"), STATE_WORDINGS, ids=[w for w, _ in STATE_WORDINGS])
def test_state_legislatures_wordings(wording: str, status: str) -> None:
    from monitor.normalise.actiontext import latest_action_status

    assert latest_action_status(wording, "2026-03-02").status == status


def test_an_open_states_action_without_a_classification_is_read_by_its_words() -> None:
    """Several states' scrapers leave actions unclassified (the veto too): the words decide, by
    the rules a list row's latest action is read with, so a vetoed bill never stays 'passed'."""
    from monitor.sources.openstates import bill_record

    def action(day: str, text: str, *classification: str, chamber: str | None = None) -> dict[str, object]:
        return {"date": day, "description": text, "classification": list(classification),
                "organization": {"classification": chamber or "executive"}}

    row = {"id": "ocd-bill/y", "session": "2025", "identifier": "SB 9", "title": "Remedies",
           "jurisdiction": {"id": "ocd-jurisdiction/country:us/state:ks/government"},
           "actions": [action("2025-01-10", "Prefiled for Introduction", "filing", chamber="upper"),
                       action("2025-01-15", "Referred to Committee on Judiciary", chamber="upper"),
                       action("2025-02-20", "Final Action - Passed", "passage", chamber="upper"),
                       action("2025-03-20", "Final Action - Passed", "passage", chamber="lower"),
                       action("2025-03-25", "Enrolled and presented to Governor", chamber="upper"),
                       action("2025-04-04", "Vetoed by Governor; Returned to the Senate", chamber="upper")]}
    record = bill_record(row)
    assert (record.status, record.status_date, record.status_action) == (
        "vetoed", dt.date(2025, 4, 4), "Vetoed by Governor; Returned to the Senate")
    assert record.data["status_basis"] == "actions"
    # A classification, where there is one, still decides: the words are not read over it.
    classified = bill_record({**row, "actions": row["actions"][:5] + [
        action("2025-04-04", "Vetoed by Governor; Returned to the Senate", "executive-veto-line-item")]})
    assert classified.status == "sent_to_executive"
    # Words that prove nothing leave the classified steps as they are.
    quiet = bill_record({**row, "actions": row["actions"][:4] + [action("2025-03-26", "Hearing: Monday, 10:30 AM")]})
    assert quiet.status == "passed_both"


def test_a_committee_action_type_is_a_floor_the_words_can_rise_above() -> None:
    """``Committee`` and ``IntroReferral`` name groups of actions, not one rung: the words decide
    where they prove one, as GovTrack reads them and as a list row's latest action is read.
    Facts from GPO's samples (usgpo/bill-status samples/legacy/BILLSTATUS-114hr2566.xml and
    samples/textVersions/DEV-BILLSTATUS-115hr367.xml): House actions with no code."""
    from monitor.normalise.federal import FederalAction, derive

    hr2566 = [  # newest first, as BILLSTATUS lists them
        FederalAction("2016-09-21", "Ordered to be Reported by Voice Vote.", None, "Committee"),
        FederalAction("2016-09-21", "Committee Consideration and Mark-up Session Held.", None, "Committee"),
        FederalAction("2016-09-13", "Forwarded by Subcommittee to Full Committee by Voice Vote .", None, "Committee"),
        FederalAction("2015-05-22", "Referred to the Subcommittee on Communications and Technology.", None,
                      "Committee"),
        FederalAction("2015-05-21", "Referred to the House Committee on Energy and Commerce.", "H11100",
                      "IntroReferral"),
        FederalAction("2015-05-21", "Introduced in House", "1000", "IntroReferral"),
    ]
    derived = derive(hr2566)
    assert (derived.status, str(derived.date), derived.action) == (
        "reported", "2016-09-21", "Ordered to be Reported by Voice Vote.")
    assert derive(hr2566[2:]).status == "in_committee"  # a markup or a forwarding proves no more
    referred = [FederalAction("2017-01-09", "Referred to the Committee on Ways and Means, and in addition to the "
                              "Committee on the Judiciary.", "H11100-A", "IntroReferral"),
                FederalAction("2017-01-09", "Introduced in House", "Intro-H", "IntroReferral")]
    assert derive(referred).status == "in_committee"


# ---- vetoes through the federal action path (codes and words together) ------------------------

def federal(*actions: tuple[str, str, str | None]) -> str | None:
    """Actions oldest first as (date, text, code); the providers list them newest first."""
    from monitor.normalise.federal import FederalAction, derive

    return derive([FederalAction(d, t, c, None) for d, t, c in reversed(actions)]).status


PRESENTED = [("2026-03-01", "Passed/agreed to in House", "8000"), ("2026-03-05", "Passed/agreed to in Senate", "17000"),
             ("2026-03-06", "Presented to President.", "E20000")]


def test_a_bill_whose_actions_prove_nothing_yet_was_introduced() -> None:
    """A bill on record has been introduced, as a list row's status says and GovTrack's does
    (hconres74-112: "Considered as privileged matter." is INTRODUCED): on its first action's day."""
    from monitor.normalise.federal import FederalAction, derive
    from monitor.sources.openstates import bill_record

    derived = derive([FederalAction("2011-09-07", "Considered as privileged matter.", "H30000", "Floor")])
    assert (derived.status, derived.date) == ("introduced", dt.date(2011, 9, 7))
    row = {"id": "ocd-bill/z", "session": "104th", "identifier": "HB 9", "title": "Remedies",
           "jurisdiction": {"id": "ocd-jurisdiction/country:us/state:il/government"},
           "actions": [{"date": "2026-02-10", "description": "Second Reading", "classification": ["reading-2"]}]}
    record = bill_record(row)
    assert (record.status, record.status_date) == ("introduced", dt.date(2026, 2, 10))


@pytest.mark.parametrize(("text", "status"), [
    ("Veto overridden, became law", "enacted"),
    ("Enacted over Governor's veto", "enacted"),
    ("became law notwithstanding Governor's veto", "enacted"),
    ("Public Law enacted over veto", "enacted"),
    ("Became Public Law over veto", "enacted"),
    # one chamber's vote, in a governor's words: the bill stays vetoed
    ("Passed notwithstanding the objections of the Governor", "vetoed"),
])
def test_a_law_over_a_veto_is_read_from_its_words(text: str, status: str) -> None:
    """Words saying a bill became law over a veto lift the veto (in a whole history and in a list
    row alike): they were read as a plain enactment, which a veto outranks, or not at all."""
    from monitor.normalise.actiontext import latest_action_status, text_step

    vetoed = [(Action(day(1), "Vetoed by Governor"), cw.VETOED)]
    assert climb(vetoed + [(Action(day(5), text), text_step(text))]).status == status
    assert latest_action_status(text, "2026-01-05").status == status


def test_a_law_on_a_later_day_than_the_veto_lifts_it() -> None:
    """Illinois' amendatory veto: both houses accept the governor's changes (no override vote) and
    the bill becomes a Public Act, in Open States' classifications for IL's own wordings; and
    LegiScan's "Passed" after its "Vetoed". A law recorded later than the veto is a law."""
    from monitor.sources.legiscan import bill_record as legiscan_record
    from monitor.sources.openstates import bill_record

    actions = [("2025-02-10", "Third Reading - Passed", ["passage"], "lower"),
               ("2025-05-20", "Third Reading - Passed", ["passage"], "upper"),
               ("2025-06-18", "Sent to the Governor", ["executive-receipt"], "executive"),
               ("2025-08-15", "Governor Amendatory Veto", ["executive-veto"], "executive"),
               ("2025-10-29", "Accept Amendatory Veto - House Passed 110-000-000", [], "lower"),
               ("2025-11-05", "Accept Amendatory Veto - Senate Passed 057-000-000", [], "upper"),
               ("2025-12-09", "Public Act . . . . . . . . . 104-0500", ["became-law"], "executive")]
    row = {"id": "ocd-bill/av", "session": "104th", "identifier": "HB 2", "title": "Remedies",
           "jurisdiction": {"id": "ocd-jurisdiction/country:us/state:il/government"},
           "actions": [{"date": d, "description": t, "classification": c, "organization": {"classification": o},
                        "order": n} for n, (d, t, c, o) in enumerate(actions, 1)]}
    record = bill_record(row)
    assert (record.status, record.status_date) == ("enacted", dt.date(2025, 12, 9))
    bill = json.loads(realdata("legiscan", "dataset_bill_AK_HB1_2011.json").read_text())["bill"]
    later = bill | {"progress": [*bill["progress"], {"date": "2012-04-10", "event": 3},
                                 {"date": "2012-05-20", "event": 5}, {"date": "2012-06-12", "event": 4}]}
    assert legiscan_record(later).status == "enacted"


@pytest.mark.parametrize(("state", "session", "override"), [
    ("il", "104th", "Both Houses Override Total Veto"),
    ("mo", "2025", "Legislature voted to override Governor's veto"),
])
def test_both_houses_override_in_one_action_is_a_law_on_its_day(state: str, session: str, override: str) -> None:
    """IL and MO record both chambers' override as one action, which Open States classifies
    veto-override-passage (one vote): the bill stayed 'vetoed' until the law weeks later, and
    the override itself alerted nobody."""
    from monitor.sources.openstates import bill_record

    actions = [("2025-02-10", "Third Reading - Passed", ["passage"], "lower"),
               ("2025-05-20", "Third Reading - Passed", ["passage"], "upper"),
               ("2025-08-15", "Governor Vetoed", ["executive-veto"], "executive"),
               ("2025-11-06", override, ["veto-override-passage"], "upper")]
    row = {"id": "ocd-bill/ov", "session": session, "identifier": "SB 3", "title": "Remedies",
           "jurisdiction": {"id": f"ocd-jurisdiction/country:us/state:{state}/government"},
           "actions": [{"date": d, "description": t, "classification": c, "organization": {"classification": o},
                        "order": n} for n, (d, t, c, o) in enumerate(actions, 1)]}
    record = bill_record(row)
    assert (record.status, record.status_date) == ("enacted", dt.date(2025, 11, 6))


def test_federal_veto_pocket_veto_and_overrides() -> None:
    vetoed = PRESENTED + [("2026-03-16", "Vetoed by President.", "E30000"),
                          ("2026-03-16", "Vetoed by President.", "31000")]
    assert federal(*vetoed) == "vetoed"
    assert federal(*PRESENTED, ("2026-03-16", "Signed by President.", "E30000")) == "enacted"
    assert federal(*PRESENTED, ("2026-12-20", "Pocket Vetoed by President.", None)) == "vetoed"
    house = ("2026-04-01", ("Passed House over veto: Two-thirds of the Members present having voted in the affirmative "
             "the bill is passed, Passed by the Yeas and Nays: (2/3 required): 300 - 120 (Roll no. 100)."), "32000")
    assert federal(*vetoed, house) == "vetoed"  # one chamber only
    senate = ("2026-04-02", "Passed Senate over veto by Yea-Nay Vote. 70 - 28. Record Vote Number: 90.", "34000")
    assert federal(*vetoed, house, senate) == "enacted"
    assert federal(*vetoed, house, senate, ("2026-04-03", "Became Public Law No: 119-99.", "E40000")) == "enacted"
    failed = ("2026-04-01", ("On passage, the objections of the President to the contrary notwithstanding Failed by "
              "the Yeas and Nays: (2/3 required): 200 - 220 (Roll no. 101)."), "H37100")
    assert federal(*vetoed, failed) == "vetoed"
