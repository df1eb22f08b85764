"""The bill status state machine: a bill's actions, oldest first, folded into one status.

In the spirit of unitedstates/congress: each action may prove a rung (introduced → referred →
reported → passed one chamber → passed both → to the executive → enacted) or an end (vetoed,
failed, withdrawn). Rungs only climb: a referral in the second chamber does not undo the
first chamber's passage. Passing both chambers is counted per chamber, so two House
passages are still one chamber.

An end is lifted only by something that happened *after* it and proves more:
- a veto (a pocket veto too) only by an override: a vote to override in each chamber, or an
  action saying the veto was overridden, or a law after at least one override vote; or by a law
  on a later day (Illinois' amendatory veto, accepted by both houses without an override, ends
  in a Public Act). A law or a signature recorded beside the veto (the same event restated
  under another code) lifts nothing, and an override in one chamber only leaves the bill vetoed;
- a failure or a withdrawal only by a higher rung than the bill stood on, on a later day
  (passage under a rule after a failed suspension vote), never by an action of the same day.
A second action stating the same end (LOC 31000 beside the House's E30000 "Vetoed by
President.") does not move the date of the end either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.normalise.crosswalks import INTRODUCED, Chamber, Step
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
    overrides: tuple[Chamber, ...] = ()  # chambers that voted to override the standing veto


@dataclass
class _Fold:
    """The running state of ``climb``."""

    rung: int = -1
    setter: tuple[Action, str] | None = None
    end: Action | None = None  # the action that set a standing end
    passed: frozenset[Chamber | None] = frozenset()
    overrides: frozenset[Chamber | None] = frozenset()

    @property
    def status(self) -> str | None:
        return self.setter[1] if self.setter else None

    def set(self, action: Action, status: str) -> None:
        self.setter = (action, status)
        self.end = action if status in BILL_ENDS else None

    def lifts(self, action: Action, step: Step, position: int) -> bool:
        """Whether a rung proved by ``action`` may replace the standing end (see the docstring)."""
        if self.end is None:
            return position > self.rung
        if self.status == "vetoed":
            return step.status == "enacted" and (step.overridden or bool(self.overrides)
                                                 or action.date > self.end.date)
        return position > self.rung and action.date > self.end.date


def climb(events: Iterable[tuple[Action, Step | None]]) -> Derived:
    """Fold ``(action, step)`` pairs (any order; sorted here oldest first) into a status."""
    ordered = sorted(events, key=lambda e: (e[0].date, e[0].order))
    fold = _Fold()
    for action, step in ordered:
        if step is None:
            continue
        if step.override:
            if fold.status == "vetoed":
                fold.overrides |= {step.chamber or action.chamber}
                if len(fold.overrides - {None}) >= 2:
                    fold.rung = BILL_LADDER.index("enacted")
                    fold.set(action, "enacted")
            continue
        status = step.status
        if step.passage:
            fold.passed |= {step.chamber or action.chamber}
            status = "passed_both" if len(fold.passed - {None}) >= 2 else "passed_one_chamber"
        if status in BILL_ENDS:
            if status != fold.status:
                fold.set(action, status)
                fold.overrides = frozenset()
            continue
        position = BILL_LADDER.index(status)
        if fold.lifts(action, step, position):
            fold.set(action, status)
        fold.rung = max(fold.rung, position)
    latest = ordered[-1][0] if ordered else None
    if fold.setter is None:
        return Derived(None, None, None, None, latest)
    action, status = fold.setter
    overrides = tuple(sorted(c for c in fold.overrides if c is not None)) if status == "vetoed" else ()
    return Derived(status, action.raw, action.text, action.date, latest, overrides)


def on_record(events: list[tuple[Action, Step | None]]) -> Derived:
    """``climb`` for a bill's whole history: a bill on record has been introduced, so where no
    action proves a rung yet ("Considered as privileged matter."), it is ``introduced`` on its
    first action's day, as GovTrack and a list row read it, never without a status."""
    derived = climb(events)
    if derived.status is not None or not events:
        return derived
    first = min(events, key=lambda e: (e[0].date, e[0].order))[0]
    return climb([*events, (first, INTRODUCED)])
