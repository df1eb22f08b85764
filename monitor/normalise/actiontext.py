"""What an action's text says it proves, for actions whose code cannot say (or that have none).

Why text: one provider code can carry different meanings. In legacy BILLSTATUS the House's
``E30000`` is "Signed by President." on one bill and "Vetoed by President." on another, and the
legacy ``type`` of such actions is only "Placeholder Text for E30000". A list row (congress.gov's
``latestAction``, a LegiScan search row, an Open States search row) has nothing but the text.
The rules follow the wording Congress and the state legislatures use, as unitedstates/congress
(bill_info.parse_bill_action) reads it; the first rule that matches decides, so the specific
(a pocket veto, an override) comes before the general (a veto, a passage).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any

from monitor.normalise.crosswalks import (
    ENACTED,
    FAILED,
    IN_COMMITTEE,
    INTRODUCED,
    OVERRIDDEN,
    OVERRIDE,
    OVERRIDE_LOWER,
    OVERRIDE_UPPER,
    PASSED,
    PASSED_BOTH,
    PASSED_LOWER,
    PASSED_UPPER,
    REPORTED,
    TO_EXECUTIVE,
    VETOED,
    WITHDRAWN,
    Chamber,
    Step,
)
from monitor.normalise.ladder import Action, Derived, climb

# ``data["status_basis"]`` of a bill item: its whole action history, or only the latest action
# a list row carries (a bill followed in full replaces the latter under the same identity).
FULL_HISTORY = "actions"
LATEST_ONLY = "latest_action"


def latest_action_only(data: dict[str, Any] | None) -> bool:
    """Whether a bill item's status was read from a list row's latest action alone (its ``data``):
    every view marks such a status, since a bill followed in full may stand further on."""
    return (data or {}).get("status_basis") == LATEST_ONLY

_EXECUTIVE = r"(?:the )?(?:president|governor)"
_HOUSE = r"(?:house|assembly)"
_OBJECTIONS = r"objections of the (?:president|governor)(?: to the contrary)?,? notwithstanding.{0,3}\s*"
_NOTWITHSTANDING = r"\bnotwithstanding the objections of the (?:president|governor)"

# (alternative wordings, the step they prove); the first rule with a matching wording decides.
_RULES: tuple[tuple[tuple[str, ...], Step | None], ...] = (
    # Veto messages and motions about them change nothing: the bill stays vetoed.
    ((
        r"^(?!.*\bvetoed by\b).*\bveto message\b",
        r"\bmotion to (?:table|postpone|refer)\b.*\bveto\b",
        r"\bconsideration of (?:the )?governor's veto\b",
    ), None),
    # A failed override vote: still vetoed.
    ((
        r"over (?:the )?(?:president's |governor's )?veto.*\b(?:failed|not agreed|rejected)",
        r"failed of passage in (?:house|senate) over veto",
        r"\bveto sustained\b",
        _OBJECTIONS + "failed",
    ), VETOED),
    ((r"\bpocket vetoed?\b",), VETOED),
    # A law made over the veto: the veto is lifted, whichever chambers' votes the history names.
    ((
        r"\b(?:became|becomes|enacted)\b.*\bover (?:the )?(?:president's |governor's )?veto",
        rf"\bbecame law notwithstanding (?:the )?{_EXECUTIVE}",
        r"\bveto overridden\b.*\bbecame law\b",
        r"\bboth houses override\b",  # Illinois: both chambers' override votes as one action
        r"\blegislature voted to override\b",  # Missouri, likewise
    ), OVERRIDDEN),
    # A line-item (partial) veto strikes items; the bill itself is signed and becomes law.
    ((rf"\bapproved by {_EXECUTIVE}.* with (?:a )?partial veto",), ENACTED),
    ((r"\bline[- ]item veto", r"\bpartial veto\b", r"\bitems? vetoed\b"), None),
    ((
        r"passed senate over (?:the )?veto",
        r"senate (?:voted to )?overr(?:ode|idden)",
        r"veto overridden in (?:the )?senate",
    ), OVERRIDE_UPPER),
    ((
        r"passed house over (?:the )?veto",
        r"house (?:voted to )?overr(?:ode|idden)",
        r"veto overridden in (?:the )?house",
        r"two-thirds of the members present having voted in the affirmative",
        r"objections of the president to the contrary notwithstanding.{0,3}\s*passed",
    ), OVERRIDE_LOWER),
    ((r"\bveto (?:was )?overridden\b", r"\boverride (?:passed|agreed)", _NOTWITHSTANDING,
      _OBJECTIONS + "passed",
      r"\bpassed over (?:the )?(?:president's |governor's )?veto"), OVERRIDE),
    ((r"\bvetoed\b", r"^veto\b", r"\bveto stands\b", r"\b(?:absolute|conditional) veto\b",
      r"^governor's action veto\b"), VETOED),
    ((
        r"\bbecame (?:public |private )?law\b",
        r"^(?:public|private) law\b",
        rf"\bsigned by {_EXECUTIVE}",
        rf"\bapproved by {_EXECUTIVE}",
        rf"^{_EXECUTIVE} (?:approved|signed)\b",
        r"^signed chap(?:ter)?\b",
        r"^approved p\.\s?l\.",
        r"^governor's action approval\b",
        r"^secretary of state,? chapter \d+",
        r"\bbecame law without (?:the )?(?:president's |governor's )?signature",
        r"\bsent to archivist\b.*\bunsigned",
        r"\bchaptered\b",
        r"^chapter \d+",
        r"^public act\b",
    ), ENACTED),
    ((rf"\b(?:presented|sent|delivered|transmitted) to {_EXECUTIVE}", rf"\blaid before {_EXECUTIVE}"),
     TO_EXECUTIVE),
    ((
        r"\bwithdrawn by (?:the )?sponsor",
        r"^withdrawn\b",
        r"\bwithdrawn from further consideration",
    ), WITHDRAWN),
    # Failed votes on the measure itself (a failed motion to recommit or to table is not one).
    ((
        r"\bfailed of passage\b",
        (r"^(?:on passage|on motion to suspend the rules and (?:pass|agree to)[^.]*?),?"
         r"(?: as amended)?,? failed\b"),
        r"^(?:resolution )?disagreed to in (?:the )?(?:house|senate)",
        r"^(?:third reading )?failed\b",
        r"^(?:defeated|rejected)\b",
        r"\bdied in (?:standing )?committee\b",
        r"^unfavorable report by\b",
        r"\bcommittee on\b.*\bpostpone indefinitely\b",
        r"^indefinitely postponed\b",
    ), FAILED),
    ((r"\bpassed both (?:houses|chambers)\b",), PASSED_BOTH),
    # Washington: out of the policy committee to Rules, not a floor vote
    ((r"^passed to rules committee\b",), REPORTED),
    # Passage, with its chamber where the words say it.
    ((
        r"^passed/agreed to in house",
        r"^passed house\b",
        r"^on passage,? passed\b",
        (r"^on (?:motion to suspend the rules and )?(?:pass|agree to|agreeing to) the "
         r"(?:bill|resolution|joint resolution)[^.]*?,? (?:agreed to|passed)\b"),
        r"house agreed to senate amendment",
        r"^on motion that the house (?:suspend the rules and )?(?:agree|concur)[^.]*? agreed to\b",
        r"^measure passed house\b",
        r"^house third reading passed\b",
        r"\bis considered (?:as )?passed (?:the )?house\b",
    ), PASSED_LOWER),
    ((
        r"^passed/agreed to in senate",
        r"^passed senate\b",
        r"^resolution agreed to in senate",
        r"^(?:received|introduced|submitted) in the senate,? (?:[^.]*?, )?and (?:passed|agreed to)",
        r"^senate (?:agreed to|concurred in) (?:the )?house amendment",
        r"^measure passed senate\b",
        r"^senate third reading passed\b",
        r"\bis considered (?:as )?passed (?:the )?senate\b",
    ), PASSED_UPPER),
    # The second chamber agreeing to the first's amendments: both have passed it.
    ((r"^(?:\w+ )?concur(?:s|red)? in (?:the )?(?:house|senate|assembly) amendments?",), PASSED_BOTH),
    ((
        rf"^passed (?:the )?{_HOUSE}\b",
        r"^third reading\W+passed\b",
        r"^third reading\.[^;]*\bpassed\.?$",
        r"^read third time\.? passed\b",
        r"\bthird time and passed\b",
        r"^(?:introduced,? (?:and )?)?adopted\b",
        r"^passed\b",
    ), PASSED),
    # Committee stages.
    ((
        r"\breported (?:to|by|with|without|favorably|original measure)",
        r"\breported an original measure",
        r"\bordered to be reported\b",
        r"\bcommittee (?:on [^.]*\. )?discharged\b",
        r"\bdischarged (?:from|by)\b",
        r"placed on the union calendar",
        r"\bdo pass\b",
        r"\bcommittee (?:report|executive action)--(?:bill passed|resolution adopted)",
        r"\breported (?:out of|from) (?:the )?(?:\w+ )?committee\b",
        r"^committee report,? to pass\b",
        r"^favorable (?:with amendments? )?report by\b",
        r"\brefer (?:un)?amended to\b",
    ), REPORTED),
    ((
        r"\breferred (?:concurrently |jointly |sequentially )?to\b",
        r"\bre-?referred\b",
        r"\b(?:re)?committed to\b",
        r"\brecommit(?:ted)? to\b",
        r"\bassigned to\b.*\bcommittee\b",
    ), IN_COMMITTEE),
    ((
        r"^introduced\b",
        r"^(?:pre-?)?filed\b",
        r"^submitted in the (?:house|senate)\b",
        r"^first reading\b",
    ), INTRODUCED),
)
RULES: tuple[tuple[re.Pattern[str], Step | None], ...] = tuple(
    (re.compile("|".join(f"(?:{w})" for w in wordings), re.IGNORECASE), step)
    for wordings, step in _RULES
)


def text_step(text: str | None) -> Step | None:
    """The step an action's words prove; None when they prove none (a debate, a rule, a motion)."""
    words = " ".join((text or "").split())
    for pattern, step in RULES:
        if pattern.search(words):
            return step
    return None


# What a list row's one action shows had already happened, though in a whole history it proves
# nothing itself (the veto, the passage, the referral came in an action of their own): a veto
# message means a veto; a bill received in the Senate (or held at the House's desk, the House's
# words for a Senate bill received) has passed the other chamber; hearings are held in committee.
_IMPLIED: tuple[tuple[tuple[str, ...], Step], ...] = (
    ((r"^(?!.*\b(?:line[- ]item|partial)\b).*(?:\bveto message\b|\bmotion to (?:table|postpone|refer)\b.*\bveto\b)",
      r"\bconsideration of (?:the )?governor's veto\b"), VETOED),
    ((r"^delivered to (?:the )?(?:assembly|senate|house)\b",), PASSED),
    ((r"^received in the senate\b", r"\bmessage on house action sent to the senate\b"), PASSED_LOWER),
    ((r"^received in the house\b", r"^held at the desk\.?$", r"\bmessage on senate action sent to the house\b"),
     PASSED_UPPER),
    ((r"\bcleared for (?:the )?white house\b",), PASSED_BOTH),
    ((r"\bhearings? held\b", r"\bmark-?up session held\b", r"\bforwarded by subcommittee\b"), IN_COMMITTEE),
)
IMPLIED: tuple[tuple[re.Pattern[str], Step], ...] = tuple(
    (re.compile("|".join(f"(?:{w})" for w in wordings), re.IGNORECASE), step) for wordings, step in _IMPLIED
)


def origin_chamber(bill_type: str) -> Chamber | None:
    """The chamber a bill starts in, from its type (``hr``, ``hjres``: the House; ``s``: the Senate)."""
    first = bill_type[:1].lower()
    return "lower" if first == "h" else "upper" if first == "s" else None


def latest_action_status(text: str | None, date: str | None, origin: Chamber | None = None) -> Derived:
    """A list row's status from its latest action alone (congress.gov's ``latestAction``, an
    Open States row without actions): the same text rules, one action, no history to climb.

    A listed bill has at least been introduced, so words that prove nothing ("Motion to
    reconsider laid on the table") give ``introduced`` with that action, undated: the bill was
    introduced before it, not on its day. What the action shows
    had happened before it (``IMPLIED``; and, given the bill's ``origin`` chamber, a passage in
    the other chamber shows its own passed it first) counts too, but undated: the action's
    date is not that event's. An override vote shows the veto before it; in the chamber the
    bill did not start in, also the first chamber's override, so the row is law on that day.
    """
    try:
        day = dt.date.fromisoformat((date or "")[:10])
    except ValueError:
        return Derived(None, None, None, None, None)
    words = " ".join((text or "").split())
    proven = text_step(words)
    own = proven or INTRODUCED
    before = [step for pattern, step in IMPLIED if pattern.search(words)]
    if own.override:  # a veto came first; the chamber it went back to votes first (art. I, § 7)
        before.append(VETOED)
        if origin and own.chamber not in (None, origin):
            before.append(OVERRIDE_LOWER if origin == "lower" else OVERRIDE_UPPER)
    if origin and any(s.passage and s.chamber not in (None, origin) for s in (*before, own)):
        before.insert(0, PASSED_LOWER if origin == "lower" else PASSED_UPPER)
    alone = climb([(Action(day, text or ""), own)])
    if not before:
        return alone if proven else replace(alone, date=None)
    derived = climb([(Action(day, text or "", order=(i,)), step) for i, step in enumerate((*before, own))])
    implied = climb([(Action(day, text or "", order=(i,)), step) for i, step in enumerate(before)])
    if derived.status != alone.status and derived.status == implied.status:
        return replace(derived, date=None)
    return derived
