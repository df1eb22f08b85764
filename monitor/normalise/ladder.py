"""The bill status state machine: a bill's actions, oldest first, folded into one status.

In the spirit of unitedstates/congress: each action may prove a rung (introduced → referred →
reported → passed one chamber → passed both → to the executive → enacted) or an end (vetoed,
failed, withdrawn). Rungs only climb: a referral in the second chamber does not undo the
first chamber's passage. An end holds until an action proves a higher rung than the one the
bill stood on (a failed suspension vote followed by passage under a rule; an overridden veto).
Passing both chambers is counted per chamber, so two House passages are still one chamber.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.normalise.crosswalks import Chamber, Step
from monitor.normalise.statuses import BILL_ENDS, BILL_LADDER


@dataclass(frozen=True)
class Action:
    """One action on a bill, in any provider's terms."""

    date: dt.date
    text: str
    raw: str | None = None  # the provider's code or classification that was looked up
    chamber: Chamber | None = None
    order: tuple[object, ...] = ()  # tie-break within a day (time of day, provider order)


@dataclass(frozen=True)
class Derived:
    """The status a bill's actions add up to, and the action that set it."""

    status: str | None
    raw_status: str | None
    action: str | None
    date: dt.date | None
    latest: Action | None  # the newest action, whatever it proved


def climb(events: Iterable[tuple[Action, Step | None]]) -> Derived:
    """Fold ``(action, step)`` pairs (any order; sorted here oldest first) into a status."""
    ordered = sorted(events, key=lambda e: (e[0].date, e[0].order))
    rung = -1
    passed: set[Chamber | None] = set()
    setter: tuple[Action, str] | None = None
    for action, step in ordered:
        if step is None:
            continue
        status = step.status
        if step.passage:
            passed.add(step.chamber or action.chamber)
            status = "passed_both" if len(passed - {None}) >= 2 else "passed_one_chamber"
        if status in BILL_ENDS:
            setter = (action, status)
            continue
        position = BILL_LADDER.index(status)
        if position > rung:  # a higher rung also lifts an end
            rung = position
            setter = (action, status)
    latest = ordered[-1][0] if ordered else None
    if setter is None:
        return Derived(None, None, None, None, latest)
    action, status = setter
    return Derived(status, action.raw, action.text, action.date, latest)
