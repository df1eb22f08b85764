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
    """What one action proves: a rung or end of the ladder; ``passage`` counts a chamber's vote."""

    status: str
    chamber: Chamber | None = None  # fixed by the code itself (8000 = House); else the action's chamber
    passage: bool = False


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

# congress.gov API and BILLSTATUS <actionCode>: Library of Congress codes (numeric, E…) and
# House floor codes (H…). House floor vote results (H37100, H37300) say "Passed" or "Failed"
# only in their text; the LOC 8000/9000 action recorded beside them decides.
CONGRESS_ACTION_CODES: dict[str, Step | None] = {
    "Intro-H": INTRODUCED,
    "1000": INTRODUCED,          # Introduced in House
    "1025": INTRODUCED,          # Submitted in House
    "2000": IN_COMMITTEE,        # Referred to House committee
    "3000": IN_COMMITTEE,        # Referred to House subcommittee
    "5000": REPORTED,            # Reported to House
    "8000": PASSED_LOWER,        # Passed/agreed to in House
    "9000": FAILED,              # Failed of passage/not agreed to in House
    "10000": INTRODUCED,         # Introduced in Senate
    "11000": IN_COMMITTEE,       # Referred to Senate committee
    "13100": IN_COMMITTEE,       # Senate committee/subcommittee hearings
    "13200": IN_COMMITTEE,       # Senate committee/subcommittee markups
    "14000": REPORTED,           # Reported to Senate
    "14500": REPORTED,           # Senate committee discharged: out of committee without a report
    "14900": REPORTED,           # Senate committee report filed after reporting
    "17000": PASSED_UPPER,       # Passed/agreed to in Senate
    "18000": FAILED,             # Failed of passage/not agreed to in Senate
    "28000": TO_EXECUTIVE,       # Presented to President
    "31000": VETOED,             # Vetoed by President
    "36000": ENACTED,            # Became Public Law
    "E20000": TO_EXECUTIVE,      # Presented to President
    "E30000": ENACTED,           # Signed by President
    "E40000": ENACTED,           # Became Public Law No: …
    "B00100": None,              # Sponsor introductory remarks on measure
    "H11100": IN_COMMITTEE,      # Referred to the Committee
    "H11200": IN_COMMITTEE,      # Sequential committee referral
    "H12100": REPORTED,          # Committee report of an original measure
    "H12200": REPORTED,          # Committee reported
    "H12300": REPORTED,          # Committee discharged
    "H12410": REPORTED,          # Union Calendar assignment (follows a report)
    "H14000": None,              # Received in the House (a Senate bill: its passage is coded 17000)
    "H15000": None,              # Held at the desk
    "H17000": None,              # Motion to Discharge Committee (a motion, not a discharge)
    "H1L210": None,              # Rule provides for consideration of
    "H1L220": None,              # Rule passed/agreed in House
    "H25200": None,              # Conference report filed
    "H30000": None,              # Consideration by House
    "H35000": None,              # Previous question ordered
    "H37100": None,              # On passage: result is in the text; 8000/9000 decides
    "H37300": None,              # Final passage under suspension: result is in the text
    "H38310": None,              # Motion to reconsider results
    "H8D000": None,              # Debate
    "H81000": None,              # Point of order against a motion
}

# BILLSTATUS / congress.gov action <type>, used only for actions without an actionCode (the
# Senate's own actions carry none). ``<type>+committee`` is the entry for an action that names
# a committee (its ``committees`` list is not empty).
BILLSTATUS_ACTION_TYPES: dict[str, Step | None] = {
    "IntroReferral": INTRODUCED,       # "Introduced in Senate", with no committee named
    "IntroReferral+committee": IN_COMMITTEE,  # "Read twice and referred to the Committee on …": names its committee
    "Introduced in House": INTRODUCED,
    "Introduced in Senate": INTRODUCED,
    "Committee": IN_COMMITTEE,
    "Committee Actions": IN_COMMITTEE,
    "Discharge": REPORTED,
    "Calendars": REPORTED,
    "BecameLaw": ENACTED,
    "Floor": None,                     # passage or failure: only the code or text says which
    "Chamber Actions": None,
    "Chamber Consideration Actions": None,
    "House Actions": None,
    "Senate Actions": None,
    "President": None,                 # presented, signed or vetoed: the code says which
    "Actions by the President": None,
    "Actions Related to President": None,
    "Actions Related to Veto": None,
    "Veto": None,
    "ResolvingDifferences": None,
    "Conference Actions": None,
    "Amending Actions": None,
    "ForwardY-N": None,
    "Procedural": None,
    "Significant Actions": None,
    "NotUsed": None,
    "Unknown": None,
    "VARIES": None,
}

# Open States bill action classifications (openstates-core data/common.py).
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
    "veto-override-passage": None,     # one chamber's override; "became-law" follows
    "veto-override-failure": VETOED,
    "deferral": None,
    "receipt": None,                   # received by the second chamber: passage is its own action
    "referral": IN_COMMITTEE,
    "referral-committee": IN_COMMITTEE,
}

# LegiScan ``status`` (the bill's current status code).
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
    7: ENACTED,         # Override: the veto was overridden
    8: ENACTED,         # Chaptered
    9: IN_COMMITTEE,    # Refer: referred to committee
    10: REPORTED,       # Report Pass
    11: REPORTED,       # Report DNP: reported "do not pass"
    12: INTRODUCED,     # Draft
}
