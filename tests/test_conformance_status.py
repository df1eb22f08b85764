"""Our bill ladder against the peers: unitedstates/congress (GovTrack's scraper), real BILLSTATUS
documents with vetoes, LegiScan's codes and Open States' classifications.

Facts only carry over: the action lines and the peer's states below are written out by hand
from unitedstates/congress test/test_bill_actions.py; the whole-bill documents are its CC0
test fixtures and GPO's public-domain BILLSTATUS samples, kept in tests/peers (PROVENANCE.md).
Every place we differ from the peer on purpose says why.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from monitor.normalise import crosswalks as cw
from monitor.normalise.actiontext import text_step
from monitor.normalise.federal import FederalAction, derive
from monitor.normalise.ladder import Action, climb
from monitor.sources.base import Fetched, Page
from monitor.sources.govinfo_billstatus import BillStatusConfig, GovInfoBillStatusSource

PEERS = Path(__file__).parent / "peers"

# GovTrack's states (unitedstates/congress bill_info.py) on our ladder. A simple resolution's
# PASSED:SIMPLERES is passage of its one chamber.
GOVTRACK: dict[str, str | None] = {
    "INTRODUCED": "introduced",
    "REFERRED": "in_committee",
    "REPORTED": "reported",
    "PASS_OVER": "passed_one_chamber",
    "PASSED:SIMPLERES": "passed_one_chamber",
    "PASSED": "passed_both",
    "PASS_BACK": "passed_both",
    "CONFERENCE:PASSED": "passed_both",
    "ENACTED": "enacted",
    "PROV_KILL:VETO": "vetoed",
    "VETOED": "vetoed",
    "OVERRIDE_PASS_OVER": "vetoed",
    "FAIL": "failed",
    "PROV_KILL:SUSPENSIONFAILED": "failed",
    "PROV_KILL:CLOTUREFAILED": "cloture failed",
    "PROV_KILL:PINGPONGFAIL": "ping-pong failed",
}


def govtrack(state: str) -> str | None:
    return next(GOVTRACK[k] for k in sorted(GOVTRACK, key=len, reverse=True) if state.startswith(k))


# Where a bill stood before the line, as the steps that put it there.
BEFORE: dict[str, list[cw.Step]] = {
    "INTRODUCED": [cw.INTRODUCED],
    "REFERRED": [cw.IN_COMMITTEE],
    "REPORTED": [cw.REPORTED],
    "PASS_OVER:HOUSE": [cw.PASSED_LOWER],
    "PASS_OVER:SENATE": [cw.PASSED_UPPER],
    "PASS_BACK:SENATE": [cw.PASSED_LOWER, cw.PASSED_UPPER],
    "CONFERENCE:PASSED:HOUSE": [cw.PASSED_LOWER, cw.PASSED_UPPER],
    "PASSED:BILL": [cw.PASSED_LOWER, cw.PASSED_UPPER],
    "ENACTED:SIGNED": [cw.PASSED_LOWER, cw.PASSED_UPPER, cw.ENACTED],
    "PROV_KILL:VETO": [cw.PASSED_LOWER, cw.PASSED_UPPER, cw.VETOED],
    "VETOED:OVERRIDE_PASS_OVER:HOUSE": [
        cw.PASSED_LOWER,
        cw.PASSED_UPPER,
        cw.VETOED,
        cw.OVERRIDE_LOWER,
    ],
}

# unitedstates/congress test/test_bill_actions.py: (test, state before, action line, their new
# state, None when the line changes nothing).
PEER_CASES = [
    ("veto", "PASSED:BILL", "Vetoed by President.", "PROV_KILL:VETO"),
    ("pocket_veto", "PASSED:BILL", "Pocket Vetoed by President.", "VETOED:POCKET"),
    (
        "reported_from_committee",
        "REFERRED",
        (
            "Committee on the Judiciary. Ordered to be reported with an amendment in "
            "the nature of a substitute favorably."
        ),
        "REPORTED",
    ),
    (
        "added_to_calendar",
        "REPORTED",
        "Placed on Senate Legislative Calendar under General Orders. Calendar No. 70.",
        None,
    ),
    ("enacted_as_public_law", "ENACTED:SIGNED", "Became Public Law No: 111-148.", None),
    ("cleared_for_whitehouse", "PASSED:BILL", "Cleared for White House.", None),
    ("presented_to_president", "PASSED:BILL", "Presented to President.", None),
    ("signed_by_president", "PASSED:BILL", "Signed by President.", "ENACTED:SIGNED"),
    (
        "vote_normal_roll",
        "INTRODUCED",
        (
            "On motion to suspend the rules and pass the bill Agreed to by the Yeas and "
            "Nays: (2/3 required): 416 - 0 (Roll no. 768)."
        ),
        "PASS_OVER:HOUSE",
    ),
    (
        "vote_normal_roll_second",
        "PASS_OVER:HOUSE",
        (
            "Passed Senate with an amendment and an amendment to the Title by "
            "Yea-Nay Vote. 60 - 39. Record Vote Number: 396."
        ),
        "PASS_BACK:SENATE",
    ),
    (
        "cloture_vote_verbose",
        "REPORTED",
        (
            "Cloture motion on the motion to proceed to the measure invoked in Senate by "
            "Yea-Nay Vote. 99 - 0. Record Vote Number: 44."
        ),
        None,
    ),
    (
        "vote_roll_pingpong",
        "PASS_BACK:SENATE",
        (
            "On motion that the House agree to the Senate amendments Agreed to by "
            "recorded vote: 219 - 212 (Roll no. 165)."
        ),
        "PASSED:BILL",
    ),
    (
        "vote_cloture",
        "PASS_OVER:HOUSE",
        (
            "Cloture on the motion to proceed to the bill invoked in Senate by Yea-Nay "
            "Vote. 60 - 39. Record Vote Number: 353."
        ),
        None,
    ),
    (
        "vote_cloture_2",
        "PASS_OVER:HOUSE",
        "Cloture invoked in Senate by Yea-Nay Vote. 60 - 39. Record Vote Number: 395.",
        None,
    ),
    (
        "vote_conference_report_house_pass",
        "PASS_BACK:SENATE",
        (
            "On agreeing to the conference report Agreed to by the "
            "Yeas and Nays: 293 - 132 (Roll no. 72)."
        ),
        "CONFERENCE:PASSED:HOUSE",
    ),
    (
        "vote_conference_report_senate_pass",
        "CONFERENCE:PASSED:HOUSE",
        ("Senate agreed to conference report by Yea-Nay Vote. 60 - 36. Record Vote Number: 22."),
        "PASSED:BILL",
    ),
    (
        "vote_veto_override_fail",
        "PROV_KILL:VETO",
        (
            "On passage, the objections of the President to the contrary "
            "notwithstanding Failed by the Yeas and Nays: (2/3 required): 143 - 245, 1 Present (Roll no. 2)."
        ),
        "VETOED:OVERRIDE_FAIL_ORIGINATING:HOUSE",
    ),
    (
        "veto_override_success_once",
        "PROV_KILL:VETO",
        (
            "Two-thirds of the Members present having voted in the "
            "affirmative the bill is passed, Passed by the Yeas and Nays: (2/3 required): 383 - 41 (Roll no. 491)."
        ),
        "VETOED:OVERRIDE_PASS_OVER:HOUSE",
    ),
    (
        "veto_override_success_twice",
        "VETOED:OVERRIDE_PASS_OVER:HOUSE",
        ("Passed Senate over veto by Yea-Nay Vote. 70 - 26. Record Vote Number: 177."),
        "ENACTED:VETO_OVERRIDE",
    ),
    (
        "passed_constitutional_amendment",
        "PASS_OVER:SENATE",
        ("On passage Passed by the Yeas and Nays: (2/3 required): 286 - 130 (Roll no. 296)."),
        "PASSED:CONSTAMEND",
    ),
    (
        "passed_concurrent_resolution",
        "PASS_OVER:HOUSE",
        (
            "Received in the Senate, considered, and agreed to without "
            "amendment by Unanimous Consent."
        ),
        "PASSED:CONCURRENTRES",
    ),
    (
        "passed_simple_resolution_house",
        "REPORTED",
        (
            "On agreeing to the resolution, as amended Agreed to by the Yeas "
            "and Nays: 253 - 175 (Roll no. 16)."
        ),
        "PASSED:SIMPLERES",
    ),
    (
        "passed_simple_resolution_senate",
        "REPORTED",
        (
            "Submitted in the Senate, considered, and agreed to without "
            "amendment and with a preamble by Unanimous Consent."
        ),
        "PASSED:SIMPLERES",
    ),
    (
        "failed_simple_resolution_senate",
        "INTRODUCED",
        "Disagreed to in Senate by Voice Vote.",
        "FAIL:ORIGINATING:SENATE",
    ),
    (
        "failed_suspension_vote",
        "REFERRED",
        (
            "On motion to suspend the rules and pass the bill Failed by the Yeas and "
            "Nays: (2/3 required): 97 - 318, 7 Present (Roll no. 379)."
        ),
        "PROV_KILL:SUSPENSIONFAILED",
    ),
    (
        "passed_by_special_rule",
        "INTRODUCED",
        "Passed House pursuant to H. Res. 241.",
        "PASSED:SIMPLERES",
    ),
    (
        "referral_committee",
        "INTRODUCED",
        (
            "Referred to the Committee on Homeland Security, and in addition to the "
            "Committees on Armed Services, Agriculture, and Natural Resources, for a period to be subsequently determined by "
            "the Speaker."
        ),
        "REFERRED",
    ),
    (
        "referral_subcommittee",
        "INTRODUCED",
        "Referred to the Subcommittee Indian and Alaska Native Affairs.",
        "REFERRED",
    ),
    (
        "hearings_held",
        "REFERRED",
        (
            "Committee on the Judiciary Subcommittee on the Constitution, Civil Rights and Human "
            "Rights. Hearings held."
        ),
        None,
    ),
]
# Where our status differs from theirs on purpose: test -> (ours, why).
PEER_DIFFERENCES = {
    "presented_to_president": (
        "sent_to_executive",
        (
            "unitedstates/congress marks the action 'topresident' but keeps "
            "the bill's status PASSED:BILL; our ladder has a rung for it"
        ),
    ),
}


def fold(steps: list[cw.Step], line: str) -> str | None:
    events = [(Action(dt.date(2020, 1, 1), "before", order=(i,)), s) for i, s in enumerate(steps)]
    return climb(events + [(Action(dt.date(2020, 1, 2), line), text_step(line))]).status


@pytest.mark.parametrize(
    ("name", "before", "line", "theirs"), PEER_CASES, ids=[c[0] for c in PEER_CASES]
)
def test_unitedstates_congress_action_lines(
    name: str, before: str, line: str, theirs: str | None
) -> None:
    ours = fold(BEFORE[before], line)
    their_status = govtrack(theirs or before)
    expected, why = PEER_DIFFERENCES.get(name, (their_status, ""))
    assert ours == expected and (ours != their_status) == bool(why)


# Whole bills from unitedstates/congress's fixtures (GovTrack XML: action text and, on the actions
# that changed it, the state the peer derived). Differences on purpose: (bill, their state, action
# text start) -> why.
FIXTURE_DIFFERENCES = {
    (
        "hconres74-112",
        "INTRODUCED",
        "Considered as privileged matter.",
    ): "no action yet proves a rung; we give no status rather than assume 'introduced'",
    (
        "s968-112",
        "INTRODUCED",
        "Sponsor introductory remarks on measure.",
    ): "the sponsor's remarks prove nothing; the referral the same day sets the first status",
    (
        "hr3630-112",
        "REFERRED",
        "Referred to the Subcommittee on Insurance, Housing and Community",
    ): "a subcommittee referral after both chambers passed the bill: our rungs never step back",
    (
        "hr6331-110",
        "PROV_KILL:CLOTUREFAILED",
        "Cloture on the motion to proceed to the measure not invoked",
    ): ("a failed cloture vote on a motion to proceed is not a vote on the bill; "
        "the bill stays passed by the House"),
}


def fixture_rows(path: Path) -> tuple[str, str | None, list[tuple[str, str, str | None]]]:
    root = ET.parse(path).getroot()
    actions: list[FederalAction] = []
    rows = []
    for element in root.find("actions") or []:
        stamp = element.get("datetime") or ""
        actions.append(
            FederalAction(stamp[:10], element.findtext("text") or "", time=stamp[10:] or None)
        )
        if element.get("state"):
            rows.append(
                (
                    element.get("state") or "",
                    element.findtext("text") or "",
                    derive(list(reversed(actions))).status,
                )
            )
    return root.findtext("state") or "", derive(list(reversed(actions))).status, rows


FIXTURES = sorted((PEERS / "unitedstates_congress").glob("*.xml"))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_unitedstates_congress_fixture_bills(path: Path) -> None:
    final, ours, rows = fixture_rows(path)
    assert ours == govtrack(final)
    for state, text, status in rows:
        why = next(
            (
                w
                for (bill, s, start), w in FIXTURE_DIFFERENCES.items()
                if bill == path.stem and s == state and text.startswith(start)
            ),
            None,
        )
        assert (status == govtrack(state)) != bool(why), (state, text, status)


def test_fixture_set_has_vetoed_pocket_vetoed_and_overridden_bills() -> None:
    finals = {p.stem: fixture_rows(p)[0] for p in FIXTURES}
    assert finals["hjres64-111"] == "VETOED:OVERRIDE_FAIL_ORIGINATING:HOUSE"
    assert finals["hr2415-106"] == "VETOED:POCKET"
    assert finals["hr6331-110"] == "ENACTED:VETO_OVERRIDE"


def billstatus(name: str):
    body = (PEERS / "usgpo_billstatus" / name).read_bytes()
    source = GovInfoBillStatusSource(BillStatusConfig(id="g", congress=114, bills=["s1"]))
    [record] = source.parse(Fetched(pages=(Page(f"file://{name}", body),)))
    return record


@pytest.mark.parametrize(
    ("name", "status", "date", "action"),
    [
        # E30000 "Vetoed by President." beside 31000: vetoed, never enacted (the Senate then
        # tabled the veto message).
        ("BILLSTATUS-114sjres8.xml", "vetoed", "2015-03-31", "Vetoed by President."),
        ("BILLSTATUS-114hr3762.xml", "vetoed", "2016-01-08", "Vetoed by President."),
        # E30000 "Signed by President." (and 36000 on the same words): enacted.
        ("BILLSTATUS-114s1300.xml", "enacted", "2015-10-16", "Signed by President."),
    ],
)
def test_real_billstatus_vetoes_and_signatures(
    name: str, status: str, date: str, action: str
) -> None:
    record = billstatus(name)
    assert (record.status, record.status_date.isoformat()) == (status, date)
    assert record.status_action.startswith(action)


# LegiScan: status (0-6) and progress events (1-12) as its API manual names them -> our rung.
LEGISCAN_STATUS_NAMES = {
    1: "Introduced",
    2: "Engrossed",
    3: "Enrolled",
    4: "Passed",
    5: "Vetoed",
    6: "Failed",
}
LEGISCAN_PROGRESS_NAMES = {
    1: "Introduced",
    2: "Engrossed",
    3: "Enrolled",
    4: "Passed",
    5: "Vetoed",
    6: "Failed",
    7: "Override",
    8: "Chaptered",
    9: "Refer",
    10: "Report Pass",
    11: "Report DNP",
    12: "Draft",
}
LEGISCAN_OURS = {
    "Introduced": "introduced",
    "Engrossed": "passed_one_chamber",
    "Enrolled": "passed_both",
    "Passed": "enacted",
    "Vetoed": "vetoed",
    "Failed": "failed",
    "Override": "enacted",
    "Chaptered": "enacted",
    "Refer": "in_committee",
    "Report Pass": "reported",
    "Report DNP": "reported",
    "Draft": "introduced",
}


@pytest.mark.parametrize("code", sorted(LEGISCAN_STATUS_NAMES))
def test_legiscan_status_codes(code: int) -> None:
    assert cw.LEGISCAN_STATUS[code].status == LEGISCAN_OURS[LEGISCAN_STATUS_NAMES[code]]


@pytest.mark.parametrize("event", sorted(LEGISCAN_PROGRESS_NAMES))
def test_legiscan_progress_events(event: int) -> None:
    assert cw.LEGISCAN_PROGRESS[event].status == LEGISCAN_OURS[LEGISCAN_PROGRESS_NAMES[event]]


def test_legiscan_override_lifts_a_veto_and_nothing_else_does() -> None:
    day = dt.date(2026, 3, 1)
    progress = [
        (Action(day, "", f"progress:{e}", order=(i,)), cw.LEGISCAN_PROGRESS[e])
        for i, e in enumerate((1, 2, 3, 5))
    ]
    assert climb(progress).status == "vetoed"
    assert (
        climb(
            progress + [(Action(day, "", "progress:4", order=(9,)), cw.LEGISCAN_PROGRESS[4])]
        ).status
        == "vetoed"
    )
    assert (
        climb(
            progress + [(Action(day, "", "progress:7", order=(9,)), cw.LEGISCAN_PROGRESS[7])]
        ).status
        == "enacted"
    )


# Open States: a vetoed bill whose override passed in one chamber, then in both.
def test_openstates_override_classifications() -> None:
    def act(
        n: int, classification: str, chamber: cw.Chamber | None = None
    ) -> tuple[Action, cw.Step | None]:
        return Action(
            dt.date(2026, 4, n), classification, classification, chamber
        ), cw.OPENSTATES_CLASSIFICATIONS[classification]

    vetoed = [
        act(1, "passage", "lower"),
        act(2, "passage", "upper"),
        act(3, "executive-receipt"),
        act(4, "executive-veto"),
    ]
    assert climb(vetoed).status == "vetoed"
    one = vetoed + [act(5, "veto-override-passage", "lower")]
    assert climb(one).status == "vetoed"
    assert climb(one + [act(6, "became-law")]).status == "enacted"  # a law after an override vote
    assert climb(one + [act(6, "veto-override-passage", "upper")]).status == "enacted"
    assert (
        climb(vetoed + [act(5, "became-law")]).status == "vetoed"
    )  # a law with no override: not believed


# Open States' scrapers classify state action text (openstates-scrapers, e.g. the Wisconsin,
# South Carolina and Montana categorizers): (their wording, their classification). Our text
# rules (used for rows that carry no classification) against the rung that classification
# proves in our crosswalk. Where we differ on purpose: wording -> (our status, why).
OPENSTATES_WORDINGS = [
    ("Report vetoed by the Governor", "executive-veto"),
    ("Report approved by the Governor on April 5, 2024", "executive-signature"),
    ("Report approved by the Governor with partial veto", "executive-veto-line-item"),
    ("Read first time and referred to committee on Judiciary", "referral-committee"),
    ("Read a third time and passed", "passage"),
    ("Presented to the Governor on March 1, 2024", "executive-receipt"),
    ("Introduced by Representatives Smith and Jones", "introduction"),
    ("Signed by Governor", "executive-signature"),
    ("Vetoed by Governor", "executive-veto"),
    ("Defeated", "failure"),
    ("Prefiled", "filing"),
    ("Referred to Committee", "referral-committee"),
    ("Rereferred to Committee", "referral-committee"),
    ("Committee Report--Bill Passed", "committee-passage"),
    ("Died in Standing Committee", "committee-failure"),
    ("Certain items vetoed", "executive-veto-line-item"),
    ("Introduced and adopted", "passage"),
    ("Rejected", "failure"),
    ("Adopted", "passage"),
    ("Passed over veto", "veto-override-passage"),
    ("Read third time", "passage"),
    ("Assigned to Judiciary Committee in House", "referral-committee"),
    ("Passed by House", "passage"),
]
OPENSTATES_DIFFERENCES = {
    "Report approved by the Governor with partial veto": (
        "enacted", ("approved with a line-item veto: the bill is signed and becomes law without the "
        "struck items; the classification alone (line-item veto) proves no rung")),
    "Read third time": (
        None, ("in most states a third reading is not a passage vote; South Carolina's scraper "
        "reads it so for its own wording only")),
}


@pytest.mark.parametrize(("wording", "classification"), OPENSTATES_WORDINGS,
                         ids=[w for w, _ in OPENSTATES_WORDINGS])
def test_openstates_wordings(wording: str, classification: str) -> None:
    ours = text_step(wording)
    step = cw.OPENSTATES_CLASSIFICATIONS[classification]
    theirs = step.status if step else None
    expected, why = OPENSTATES_DIFFERENCES.get(wording, (theirs, ""))
    assert (ours.status if ours else None) == expected and (expected != theirs) == bool(why)
