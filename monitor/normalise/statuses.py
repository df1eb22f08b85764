"""The status ladders every source's raw status is mapped onto.

Bills climb an ordered ladder; ``vetoed``, ``failed`` and ``withdrawn`` are ends reached from
anywhere. Cases and dockets have their own short ladder; documents are just ``published``.
"""

from __future__ import annotations

BILL_LADDER: tuple[str, ...] = (
    "introduced", "in_committee", "reported", "passed_one_chamber", "passed_both",
    "sent_to_executive", "enacted",
)
BILL_ENDS: frozenset[str] = frozenset({"vetoed", "failed", "withdrawn"})
CASE_LADDER: tuple[str, ...] = ("filed", "pending", "decided", "cert_granted", "terminated")
CASE_ENDS: frozenset[str] = frozenset({"cert_denied"})
DOCUMENT_STATUSES: frozenset[str] = frozenset({"published"})

ALL_STATUSES: frozenset[str] = (frozenset(BILL_LADDER) | BILL_ENDS | frozenset(CASE_LADDER) | CASE_ENDS
                                | DOCUMENT_STATUSES)


def rank(status: str | None) -> int | None:
    """Position on its ladder (ends rank above every rung); None for unknown statuses."""
    if status is None:
        return None
    for ladder, ends in ((BILL_LADDER, BILL_ENDS), (CASE_LADDER, CASE_ENDS)):
        if status in ladder:
            return ladder.index(status)
        if status in ends:
            return len(ladder)
    return 0 if status in DOCUMENT_STATUSES else None


def moves_on_ladder(old: str | None, new: str | None) -> bool:
    """True when ``new`` is further along than ``old`` (or an end): the default alert rule.

    A bill leaves an end only as the status machine lets it (``monitor/normalise/ladder.py``),
    and that is news: a veto overridden into law is ``enacted``, a failed or withdrawn bill that
    later passes a chamber has climbed past where it stood (an earlier rung would be a provider
    taking the end back). A step back (a feed flip-flopping between two readings) or a move into
    an unknown status is recorded as a change but does not alert under the default rule.
    """
    if new is None or new == old:
        return False
    if old in BILL_ENDS and new in BILL_LADDER:
        passed = BILL_LADDER.index(new) >= BILL_LADDER.index("passed_one_chamber")
        return new == "enacted" or (old != "vetoed" and passed)
    new_rank = rank(new)
    if new_rank is None:
        return False
    old_rank = rank(old)
    return old_rank is None or new_rank > old_rank
