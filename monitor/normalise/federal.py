"""Federal bill actions, as congress.gov and BILLSTATUS both describe them, onto the ladder.

Both providers list the same actions newest first, each with a date, an optional time, a
``type`` and, for House floor and Library of Congress actions, an ``actionCode``. What an
action proves, in this order:
1. a veto, a pocket veto or an override vote is read from the words whatever the code (the
   House's ``E30000`` carries "Vetoed by President." as well as "Signed by President.");
2. a code whose meaning the text decides (``CONGRESS_CODES_READ_BY_TEXT``) or a legacy
   ``Placeholder Text for …`` type: the words (``monitor.normalise.actiontext``);
3. any other known code: ``CONGRESS_ACTION_CODES``;
4. the words (the Senate's own actions carry no code, nor do many House committee actions);
5. only where the words prove nothing, the ``type`` (``BILLSTATUS_ACTION_TYPES``): a type names
   a group of actions, so it is a floor ("Committee" is a referral, a hearing, a markup or the
   committee ordering the bill reported, "Ordered to be Reported by Voice Vote.").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.normalise.actiontext import text_step
from monitor.normalise.crosswalks import (
    BILLSTATUS_ACTION_TYPES,
    CONGRESS_ACTION_CODES,
    CONGRESS_CODES_READ_BY_TEXT,
    Step,
)
from monitor.normalise.ladder import Action, Derived, on_record

BILL_TYPE_PAGES = {  # congress.gov's public page segment per bill type
    "hr": "house-bill", "s": "senate-bill", "hjres": "house-joint-resolution",
    "sjres": "senate-joint-resolution", "hconres": "house-concurrent-resolution",
    "sconres": "senate-concurrent-resolution", "hres": "house-resolution", "sres": "senate-resolution",
}
BILL_TYPE_LABELS = {
    "hr": "H.R.", "s": "S.", "hjres": "H.J.Res.", "sjres": "S.J.Res.", "hconres": "H.Con.Res.",
    "sconres": "S.Con.Res.", "hres": "H.Res.", "sres": "S.Res.",
}


@dataclass(frozen=True)
class FederalAction:
    date: str
    text: str
    code: str | None = None
    type: str | None = None
    time: str | None = None
    committee: bool = False  # the action names a committee


def federal_step(code: str | None, action_type: str | None, text: str, committee: bool = False) -> Step | None:
    """What one action proves (see the module docstring for the order of the rules)."""
    meaning = text_step(text)
    if meaning is not None and meaning.status == "vetoed":
        return meaning
    if code in CONGRESS_CODES_READ_BY_TEXT or (action_type or "").startswith("Placeholder Text for"):
        return meaning
    if code and code in CONGRESS_ACTION_CODES:
        return CONGRESS_ACTION_CODES[code]
    if meaning is not None:
        return meaning
    typed = f"{action_type}+committee" if committee and f"{action_type}+committee" in BILLSTATUS_ACTION_TYPES \
        else action_type or ""
    return BILLSTATUS_ACTION_TYPES.get(typed)


def derive(actions: Sequence[FederalAction]) -> Derived:
    """``actions`` in the providers' order (newest first)."""
    events = []
    for index, a in enumerate(actions):
        action = Action(dt.date.fromisoformat(a.date[:10]), a.text, a.code or a.type,
                        order=(a.time or "", -index))
        events.append((action, federal_step(a.code, a.type, a.text, a.committee)))
    return on_record(events)


def congress_gov_url(congress: int, bill_type: str, number: int) -> str:
    """The public congress.gov page (the API URL needs a key, so it is no use to a reader)."""
    page = BILL_TYPE_PAGES.get(bill_type, bill_type)
    suffix = "th" if 10 <= congress % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(congress % 10, "th")
    return f"https://www.congress.gov/bill/{congress}{suffix}-congress/{page}/{number}"


def display_title(bill_type: str, number: int, title: str) -> str:
    return f"{BILL_TYPE_LABELS.get(bill_type, bill_type.upper())} {number}: {title}".strip().rstrip(":")
