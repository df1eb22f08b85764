"""What a provider's raw status code means, in words: "14000" is "Reported to Senate".

An alert never shows a bare code: a reader who is not a legislative clerk cannot tell what
``14000`` or ``progress:2`` says. Every code that ``monitor.normalise.crosswalks`` maps has its
meaning here (a test keeps the two tables in step); a code found in neither is shown with a
note saying we do not know it, rather than alone.

Meanings come from the same references as the crosswalks: the BILLSTATUS user guide's
action-code table (section 3) and the Library of Congress codes of the same series; the
guide's list of action types (section 4, which gives names only, so the words here describe
the group); LegiScan's API manual (status and progress events); Open States' action
classifications (openstates-core ``data/common.py``).
"""

from __future__ import annotations

import re

CONGRESS_ACTION_CODES: dict[str, str] = {
    "Intro-H": "Introduced in House",
    "1000": "Introduced in House",
    "1025": "Submitted in House",
    "2000": "Referred to House committee",
    "3000": "Referred to House subcommittee",
    "5000": "Reported to House",
    "8000": "Passed/agreed to in House",
    "9000": "Failed of passage/not agreed to in House",
    "10000": "Introduced in Senate",
    "11000": "Referred to Senate committee",
    "13100": "Senate committee/subcommittee hearings",
    "13200": "Senate committee/subcommittee markups",
    "14000": "Reported to Senate",
    "14500": "Senate committee discharged",
    "14900": "Senate committee report filed after reporting",
    "17000": "Passed/agreed to in Senate",
    "18000": "Failed of passage/not agreed to in Senate",
    "28000": "Presented to President",
    "31000": "Vetoed by President",
    "36000": "Became Public Law",
    "E20000": "Presented to President",
    "E30000": "Action by the President: signed or vetoed (the action's words say which)",
    "E40000": "Became Public Law",
    "B00100": "Sponsor introductory remarks on measure",
    "H11100": "Referred to the Committee",
    "H11200": "Sequential committee referral",
    "H12100": "Committee report of an original measure",
    "H12200": "Committee reported",
    "H12300": "Committee discharged",
    "H12410": "Union Calendar assignment",
    "H14000": "Received in the House",
    "H15000": "Held at the desk",
    "H17000": "Motion to discharge committee",
    "H1L210": "Rule provides for consideration",
    "H1L220": "Rule passed/agreed in House",
    "H25200": "Conference report filed",
    "H30000": "Consideration by House",
    "H35000": "Previous question ordered",
    "H37100": "On passage (House vote result)",
    "H37300": "Final passage under suspension of the rules (House vote result)",
    "H38310": "Motion to reconsider results",
    "H8D000": "Debate",
    "H81000": "Point of order against a motion",
    "5500": "House committee discharged",
    "19500": "Resolving differences: House action",
    "20500": "Resolving differences: Senate action",
    "21000": "Conference report agreed to in House",
    "23000": "Conference report agreed to in Senate",
    "29000": "Signed by President",
    "29100": "Sent to Archivist unsigned by President",
    "30000": "Pocket vetoed by President",
    "32000": "Passed House over veto",
    "33000": "Failed of passage in House over veto",
    "34000": "Passed Senate over veto",
    "35000": "Failed of passage in Senate over veto",
    "39000": "Public Law enacted over veto",
    "44000": "Private Law enacted over veto",
    "H41610": "House agreed to or concurred in the Senate amendment (the words say which)",
}

# Action types name a group of actions; the words say which group.
BILLSTATUS_ACTION_TYPES: dict[str, str] = {
    "IntroReferral": "Introduction or referral to committee",
    "IntroReferral+committee": "Referral to committee",
    "Introduced in House": "Introduced in House",
    "Introduced in Senate": "Introduced in Senate",
    "Committee": "Committee action",
    "Committee Actions": "Committee action",
    "Discharge": "Committee discharged",
    "Calendars": "Placed on a calendar",
    "BecameLaw": "Became law",
    "Floor": "Floor action",
    "Chamber Actions": "Chamber action",
    "Chamber Consideration Actions": "Chamber consideration",
    "House Actions": "House action",
    "Senate Actions": "Senate action",
    "President": "Action by the President",
    "Actions by the President": "Action by the President",
    "Actions Related to President": "Action related to the President",
    "Actions Related to Veto": "Action related to a veto",
    "Veto": "Veto action",
    "ResolvingDifferences": "Resolving differences between the chambers",
    "Conference Actions": "Conference action",
    "Amending Actions": "Amendment action",
    "ForwardY-N": "Forwarded (committee vote)",
    "Procedural": "Procedural action",
    "Significant Actions": "Significant action",
    "NotUsed": "Action of no legislative stage",
    "Unknown": "Action of unknown type",
    "VARIES": "Action of varying type",
}

OPENSTATES_CLASSIFICATIONS: dict[str, str] = {
    "filing": "Filed",
    "introduction": "Introduced",
    "enrolled": "Enrolled (passed both chambers)",
    "reading-1": "First reading",
    "reading-2": "Second reading",
    "reading-3": "Third reading",
    "passage": "Passed a chamber",
    "failure": "Failed",
    "withdrawal": "Withdrawn",
    "substitution": "Substituted",
    "amendment-introduction": "Amendment introduced",
    "amendment-passage": "Amendment passed",
    "amendment-withdrawal": "Amendment withdrawn",
    "amendment-failure": "Amendment failed",
    "amendment-amendment": "Amendment amended",
    "amendment-deferral": "Amendment deferred",
    "committee-passage": "Passed committee",
    "committee-passage-favorable": "Passed committee, favourably reported",
    "committee-passage-unfavorable": "Reported from committee unfavourably",
    "committee-failure": "Failed in committee",
    "executive-receipt": "Received by the executive",
    "executive-signature": "Signed by the executive",
    "executive-veto": "Vetoed by the executive",
    "executive-veto-line-item": "Line-item veto by the executive",
    "became-law": "Became law",
    "veto-override-passage": "Veto override passed",
    "veto-override-failure": "Veto override failed",
    "deferral": "Deferred",
    "receipt": "Received by the second chamber",
    "referral": "Referred",
    "referral-committee": "Referred to committee",
}

LEGISCAN_STATUS: dict[int, str] = {
    0: "Pre-filed", 1: "Introduced", 2: "Engrossed (passed the chamber of origin)",
    3: "Enrolled (passed both chambers)", 4: "Passed (a bill: signed or became law; a resolution: adopted)",
    5: "Vetoed", 6: "Failed",
}

LEGISCAN_PROGRESS: dict[int, str] = LEGISCAN_STATUS | {
    7: "Veto overridden", 8: "Chaptered", 9: "Referred to committee", 10: "Reported from committee (do pass)",
    11: "Reported from committee (do not pass)", 12: "Draft",
}

# GovInfo bill text versions (the suffix of a BILLS package, ``BILLS-119hr1234ih``): the raw
# status of a govinfo_bill_feed item. From GovInfo's list of bill versions.
BILL_VERSIONS: dict[str, str] = {
    "IH": "Introduced in House", "IS": "Introduced in Senate", "RH": "Reported in House",
    "RS": "Reported in Senate", "RFH": "Referred in House", "RFS": "Referred in Senate",
    "RDH": "Received in House", "RDS": "Received in Senate", "EH": "Engrossed in House",
    "ES": "Engrossed in Senate", "EAH": "Engrossed amendment House", "EAS": "Engrossed amendment Senate",
    "PCH": "Placed on Calendar House", "PCS": "Placed on Calendar Senate", "ENR": "Enrolled bill",
    "ATH": "Agreed to House", "ATS": "Agreed to Senate", "CPH": "Considered and passed House",
    "CPS": "Considered and passed Senate", "PP": "Public print",
}

# Legacy BILLSTATUS gives some actions the type "Placeholder Text for H19000": only the code.
_PLACEHOLDER = re.compile(r"^Placeholder Text for (\S+)$")

# What looks like a code rather than words: no spaces, and a digit or an inner capital/dash.
_CODE = re.compile(r"^(?=\S*(?:\d|[a-z][A-Z]|[a-z]-[a-z]))[\w:+.-]+$")


def meaning(raw: str | None) -> str | None:
    """The words for a provider's raw status code, or None when it is not a code we know."""
    if not raw:
        return None
    raw = _code(raw)
    for table in (CONGRESS_ACTION_CODES, BILLSTATUS_ACTION_TYPES, OPENSTATES_CLASSIFICATIONS, BILL_VERSIONS):
        if raw in table:
            return table[raw]
    kind, _, number = raw.partition(":")
    if number.isdigit():
        table_by_number = {"progress": LEGISCAN_PROGRESS, "status": LEGISCAN_STATUS}.get(kind)
        if table_by_number is not None:
            return table_by_number.get(int(number))
    return None


def _code(raw: str) -> str:
    """The code a raw status names: ``Placeholder Text for H19000`` is ``H19000``."""
    placeholder = _PLACEHOLDER.match(raw.strip())
    return placeholder.group(1) if placeholder else raw


def is_code(raw: str) -> bool:
    """True for a machine code (``14000``, ``H11100``, ``progress:2``, ``IntroReferral``), not a phrase."""
    return meaning(raw) is not None or bool(_CODE.match(_code(raw).strip()))


def describe_raw(raw: str | None) -> str | None:
    """A raw status as a reader sees it: ``14000 — Reported to Senate``; a phrase stays as it is;
    an unknown code says so rather than standing alone."""
    if not raw:
        return None
    raw = _code(raw)
    words = meaning(raw)
    if words is not None:
        return f"{raw} — {words}"
    if is_code(raw):
        return f"{raw} — a provider code this monitor has no meaning for"
    return raw
