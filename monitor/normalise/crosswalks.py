"""Crosswalks from each provider's raw bill status vocabulary onto the one bill ladder.

These are data, not code: each table maps a provider's code to a ``Step`` (the rung it
proves, and for a chamber passage which chamber), and ``monitor.normalise.ladder`` folds the
steps of a bill's actions into its status. A code absent from a table, or mapped to ``None``,
moves nothing: the raw status and action text are still kept on the item.

Sources of the vocabularies:
- congress.gov / BILLSTATUS ``actionCode``: the BILLSTATUS user guide, section 3
  (usgpo/bill-status, "Action Code Element Possible Values"), which says itself that no
  authoritative list exists; 9000/18000 (failed) and 31000 (vetoed) are the Library of
  Congress codes of the same series.
- BILLSTATUS / congress.gov action ``type``: the user guide, section 4. A type only settles a
  rung where it cannot mean anything else; floor types need the code.
- Open States: the bill action classifications of openstates-core ``data/common.py``.
- LegiScan: the API manual's status codes (``status``) and progress events (``progress[].event``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Chamber = Literal["lower", "upper"]


@dataclass(frozen=True)
class Step:
    """What one action proves: a rung or end of the ladder; ``passage`` counts a chamber's vote.

    ``override`` is one chamber's vote to override a veto: two of them (one per chamber) lift
    the veto to ``enacted``. ``overridden`` says the veto itself was overridden (LegiScan's
    event 7, the Library of Congress's "Public Law enacted over veto").
    """

    status: str
    chamber: Chamber | None = None  # fixed by the code itself (8000 = House); else the action's chamber
    passage: bool = False
    override: bool = False
    overridden: bool = False


INTRODUCED = Step("introduced")
IN_COMMITTEE = Step("in_committee")
REPORTED = Step("reported")
PASSED = Step("passed_one_chamber", passage=True)
PASSED_LOWER = Step("passed_one_chamber", chamber="lower", passage=True)
PASSED_UPPER = Step("passed_one_chamber", chamber="upper", passage=True)
PASSED_BOTH = Step("passed_both")
TO_EXECUTIVE = Step("sent_to_executive")
ENACTED = Step("enacted")
VETOED = Step("vetoed")
FAILED = Step("failed")
WITHDRAWN = Step("withdrawn")
OVERRIDE = Step("vetoed", override=True)  # one chamber voted to override; the chamber is the action's
OVERRIDE_LOWER = Step("vetoed", chamber="lower", override=True)
OVERRIDE_UPPER = Step("vetoed", chamber="upper", override=True)
OVERRIDDEN = Step("enacted", overridden=True)

# congress.gov API and BILLSTATUS <actionCode>: Library of Congress codes (numeric, E…) and
# House floor codes (H…). Audited row by row against the Library of Congress action-code list
# (the numeric series; the BILLSTATUS user guide section 3 lists the ones it has seen) and a
# real document carrying the code; "RD:" is ../shared/realdata, "GPO:" usgpo/bill-status
# samples/ (read in a fetched snapshot; the tests read them in place with MONITOR_PEERS, and
# hand-built veto documents of the same shape in tests/examples/govinfo_billstatus).
# House floor vote results (H37100, H37300) say "Passed" or "Failed" only in their text;
# the LOC 8000/9000 action recorded beside them decides.
CONGRESS_ACTION_CODES: dict[str, Step | None] = {
    "Intro-H": INTRODUCED,       # RD: BILLSTATUS-116hr5240 "Introduced in House"
    "1000": INTRODUCED,          # Introduced in House; RD: BILLSTATUS-116hr5240
    "1025": INTRODUCED,          # Submitted in House; no real example found
    "2000": IN_COMMITTEE,        # Referred to House committee; no real example found (H11100 is used)
    "3000": IN_COMMITTEE,        # Referred to House subcommittee; no real example found
    "5000": REPORTED,            # Reported to House; GPO: actions-committees/116hr3055
    "5500": REPORTED,            # House committee discharged; GPO: amendment-votes/114hr5278
    "8000": PASSED_LOWER,        # Passed/agreed to in House; RD: bill_117_hr_21_actions
    "9000": FAILED,              # Failed of passage/not agreed to in House; no real example found
    "10000": INTRODUCED,         # Introduced in Senate; RD: formatChange_current_BILLSTATUS-117s35
    "11000": IN_COMMITTEE,       # Referred to Senate committee; no real example found (Senate referrals carry no code)
    "13100": IN_COMMITTEE,       # Senate committee/subcommittee hearings; no real example found
    "13200": IN_COMMITTEE,       # Senate committee/subcommittee markups; no real example found
    "14000": REPORTED,           # Reported to Senate; GPO: actions-committees/116s832
    "14500": REPORTED,           # Senate committee discharged: out without a report;
                                 # RD: formatChange_current_BILLSTATUS-117s35
    "14900": REPORTED,           # Senate committee report filed after reporting; GPO: legacy/114hr1531
    "17000": PASSED_UPPER,       # Passed/agreed to in Senate; RD: formatChange_current_BILLSTATUS-117s35
    "18000": FAILED,             # Failed of passage/not agreed to in Senate; no real example found
    "19500": None,               # Resolving differences -- House actions (text decides); GPO: 116hr3055
    "20500": None,               # Resolving differences -- Senate actions (text decides); GPO: 116hr3055
    "21000": None,               # Conference report agreed to in House: both chambers already passed;
                                 # GPO: legacy/114hr22
    "23000": None,               # Conference report agreed to in Senate; GPO: legacy/114hr22
    "28000": TO_EXECUTIVE,       # Presented to President; RD: textVersions_DEV-BILLSTATUS-115s3509
    "29000": ENACTED,            # Signed by President; no real example found (E30000/36000 are used)
    "29100": ENACTED,            # Sent to Archivist unsigned (ten-day rule); no real example found
    "30000": VETOED,             # Pocket vetoed by President; no real example found
    "31000": VETOED,             # Vetoed by President; GPO: legacy/114hr3762, legacy/114sjres8
    "32000": OVERRIDE_LOWER,     # Passed House over veto; no real example found
    "33000": VETOED,             # Failed of passage in House over veto; no real example found
    "34000": OVERRIDE_UPPER,     # Passed Senate over veto; no real example found
    "35000": VETOED,             # Failed of passage in Senate over veto; no real example found
    "36000": ENACTED,            # Became Public Law (also on "Signed by President."); GPO: legacy/114s1300
    "39000": OVERRIDDEN,         # Public Law enacted over veto; no real example found
    "44000": OVERRIDDEN,         # Private Law enacted over veto; no real example found
    "E20000": TO_EXECUTIVE,      # Presented to President; RD: textVersions_DEV-BILLSTATUS-115s3509
    "E30000": None,              # Signed OR vetoed by President: read by text; GPO: legacy/114s1300, legacy/114sjres8
    "E40000": ENACTED,           # Became Public Law No: …; GPO: formatChange/future/117hr2471
    "B00100": None,              # Sponsor introductory remarks on measure; GPO: actions-committees/116hr5183
    "H11100": IN_COMMITTEE,      # Referred to the Committee; RD: BILLSTATUS-116hr5240
    "H11200": IN_COMMITTEE,      # Sequential committee referral; no real example found
    "H12100": REPORTED,          # Committee report of an original measure; GPO: 116hr3055
    "H12200": REPORTED,          # Committee reported; GPO: amendment-votes/114hr5278
    "H12300": REPORTED,          # Committee discharged; GPO: amendment-votes/114hr5278
    "H12410": REPORTED,          # Union Calendar assignment (follows a report); GPO: 116hr3055
    "H14000": None,              # Received in the House (a Senate bill: its passage is coded 17000); RD: 117s35
    "H15000": None,              # Held at the desk; RD: formatChange_current_BILLSTATUS-117s35
    "H17000": None,              # Motion to Discharge Committee (a motion, not a discharge); no real example found
    "H1L210": None,              # Rule provides for consideration of; GPO: 116hr3055
    "H1L220": None,              # Rule passed/agreed in House; GPO: 116hr3055
    "H25200": None,              # Conference report filed; GPO: legacy/114hr22
    "H30000": None,              # Consideration by House; RD: bill_117_hr_21_actions
    "H35000": None,              # Previous question ordered; GPO: 116hr3055
    "H37100": None,              # On passage: result in the text; 8000/9000 decides;
                                 # RD: textVersions_DEV-BILLSTATUS-115s3509
    "H37300": None,              # Final passage under suspension: result in the text; RD: bill_117_hr_21_actions
    "H38310": None,              # Motion to reconsider results; RD: bill_117_hr_21_actions
    "H41610": None,              # House agrees/concurs in Senate amendment (text decides); GPO: 116hr3055
    "H8D000": None,              # Debate; RD: bill_117_hr_21_actions
    "H81000": None,              # Point of order against a motion; no real example found
}

# Codes that carry more than one meaning: what the action proves is read from its words.
# E30000 is "Signed by President." or "Vetoed by President." (legacy BILLSTATUS); the
# resolving-differences codes are a chamber agreeing (a passage) or disagreeing (nothing).
CONGRESS_CODES_READ_BY_TEXT: frozenset[str] = frozenset({"E30000", "19500", "20500", "H41610"})

# BILLSTATUS / congress.gov action <type>, used only for actions without an actionCode (the
# Senate's own actions carry none). ``<type>+committee`` is the entry for an action that names
# a committee (its ``committees`` list is not empty).
BILLSTATUS_ACTION_TYPES: dict[str, Step | None] = {
    # "Introduced in Senate" (no committee named) / "Read twice and referred to the Committee on …"
    "IntroReferral": INTRODUCED,  # e.g. RD: BILLSTATUS-116hr5240
    "IntroReferral+committee": IN_COMMITTEE,  # e.g. RD: BILLSTATUS-116hr5240
    "Introduced in House": INTRODUCED,  # e.g. RD: legacy_BILLSTATUS-114hjres45
    "Introduced in Senate": INTRODUCED,  # e.g. GPO: legacy/114s1300
    "Committee": IN_COMMITTEE,  # e.g. RD: formatChange_current_BILLSTATUS-117s35
    "Committee Actions": IN_COMMITTEE,  # no real example found
    "Discharge": REPORTED,  # e.g. RD: formatChange_current_BILLSTATUS-117s35
    "Calendars": REPORTED,  # e.g. GPO: 116hr3055
    "BecameLaw": ENACTED,  # e.g. GPO: 116hr3055
    "Floor": None,  # passage or failure: the code or text says which; e.g. RD: bill_117_hr_21_actions
    "Chamber Actions": None,  # no real example found
    "Chamber Consideration Actions": None,  # no real example found
    "House Actions": None,  # no real example found
    "Senate Actions": None,  # no real example found
    "President": None,                 # presented, signed or vetoed: the code says which;
                                       # e.g. RD: textVersions_DEV-BILLSTATUS-115s3509
    "Actions by the President": None,  # no real example found
    "Actions Related to President": None,  # no real example found
    "Actions Related to Veto": None,  # no real example found
    "Veto": None,  # e.g. GPO: legacy/114hr3762
    "ResolvingDifferences": None,  # e.g. GPO: 116hr3055
    "Conference Actions": None,  # no real example found
    "Amending Actions": None,  # no real example found
    "ForwardY-N": None,  # no real example found
    "Procedural": None,  # no real example found
    "Significant Actions": None,  # no real example found
    "NotUsed": None,  # e.g. GPO: 116hr3055
    "Unknown": None,  # no real example found
    "VARIES": None,  # no real example found
}

# Open States bill action classifications (openstates-core data/common.py). No real Open States
# v3 answer is public (../shared/realdata lists the gap): every row below is from the
# vocabulary alone, with no real example found; tests/examples/openstates is hand-built.
OPENSTATES_CLASSIFICATIONS: dict[str, Step | None] = {
    "filing": INTRODUCED,
    "introduction": INTRODUCED,
    "enrolled": PASSED_BOTH,
    "reading-1": INTRODUCED,
    "reading-2": None,
    "reading-3": None,
    "passage": PASSED,                 # the chamber is the action's organization
    "failure": FAILED,
    "withdrawal": WITHDRAWN,
    "substitution": None,
    "amendment-introduction": None,
    "amendment-passage": None,
    "amendment-withdrawal": None,
    "amendment-failure": None,
    "amendment-amendment": None,
    "amendment-deferral": None,
    "committee-passage": REPORTED,
    "committee-passage-favorable": REPORTED,
    "committee-passage-unfavorable": REPORTED,  # out of committee, with a recommendation against
    "committee-failure": FAILED,
    "executive-receipt": TO_EXECUTIVE,
    "executive-signature": ENACTED,
    "executive-veto": VETOED,
    "executive-veto-line-item": None,  # part of the bill still becomes law
    "became-law": ENACTED,
    "veto-override-passage": OVERRIDE,  # one chamber's override vote: both lift the veto
    "veto-override-failure": VETOED,
    "deferral": None,
    "receipt": None,                   # received by the second chamber: passage is its own action
    "referral": IN_COMMITTEE,
    "referral-committee": IN_COMMITTEE,
}

# LegiScan ``status`` (the bill's current status code). Real example: RD legiscan/
# dataset_bill_AK_HB1_2011 (status 2, progress events 1, 9, 2); the other codes have no real
# example found.
LEGISCAN_STATUS: dict[int, Step] = {
    0: INTRODUCED,      # N/A: pre-filed or pre-introduction
    1: INTRODUCED,      # Introduced
    2: PASSED,          # Engrossed: passed the chamber of origin
    3: PASSED_BOTH,     # Enrolled: passed both chambers
    4: ENACTED,         # Passed: signed, or became law
    5: VETOED,          # Vetoed
    6: FAILED,          # Failed / dead
}

# LegiScan ``progress[].event`` (the history of status steps).
LEGISCAN_PROGRESS: dict[int, Step] = {
    1: INTRODUCED,      # Introduced
    2: PASSED,          # Engrossed
    3: PASSED_BOTH,     # Enrolled
    4: ENACTED,         # Passed
    5: VETOED,          # Vetoed
    6: FAILED,          # Failed
    7: OVERRIDDEN,      # Override: the veto was overridden
    8: ENACTED,         # Chaptered
    9: IN_COMMITTEE,    # Refer: referred to committee
    10: REPORTED,       # Report Pass
    11: REPORTED,       # Report DNP: reported "do not pass"
    12: INTRODUCED,     # Draft
}

# LegiScan ``bill_type`` of a resolution → what its "Passed" (status 4, progress event 4) proves:
# a bill's "Passed" is its enactment, a resolution's is its adoption, which no governor signs (a
# simple resolution by its own chamber, a concurrent one by both). The LegiScan API manual's
# bill types; the real bill object RD legiscan/dataset_bill_AK_HB1_2011 carries ``bill_type`` "B".
LEGISCAN_PASSED = 4
LEGISCAN_ADOPTED: dict[str, Step] = {
    "R": PASSED,        # Resolution
    "CR": PASSED_BOTH,  # Concurrent Resolution
}
