"""The parts of congress.gov API v3 answers that ``congress_bill`` and ``congress_recent`` read.

From the API's own reference (realdata/congress_gov/docs/BillEndpoint.md) and real answers
(realdata/congress_gov): a bill's ``number`` comes as a string of digits, ``title`` may be
empty in a list until the CRS titles the bill, ``latestAction`` and ``pagination`` may be
absent. A part page (``/actions``, ``/titles``, ``/committees``) without its list is a shape
change, never "no actions": that would move a bill's status backwards.
"""

from __future__ import annotations

from monitor.sources.payload import Payload, Text, Whole


class LatestAction(Payload):
    actionDate: str | None = None
    text: str | None = None


class Pagination(Payload):
    next: str | None = None


class Count(Payload):
    count: int | None = None


class Named(Payload):
    name: str | None = None


class Sponsor(Payload):
    fullName: str | None = None


class Law(Payload):
    number: str | None = None


class BillDetail(Payload):
    """``/bill/{congress}/{type}/{number}``'s ``bill`` object."""

    congress: Whole
    type: Text
    number: Whole
    title: Text
    introducedDate: str | None = None
    updateDate: str | None = None
    latestAction: LatestAction | None = None
    sponsors: list[Sponsor] | None = None
    cosponsors: Count | None = None
    policyArea: Named | None = None
    laws: list[Law] | None = None


class BillAction(Payload):
    actionDate: Text
    text: str | None = None
    actionCode: str | None = None
    type: str | None = None
    actionTime: str | None = None
    committees: list[Named] | None = None


class ActionsPage(Payload):
    actions: list[BillAction]
    pagination: Pagination | None = None


class Title(Payload):
    title: str | None = None


class TitlesPage(Payload):
    titles: list[Title]


class CommitteesPage(Payload):
    committees: list[Named]


class PagedAnswer(Payload):
    """Any answer, for its ``pagination.next`` link alone."""

    pagination: Pagination | None = None


class ListedBill(Payload):
    """One row of ``/bill/{congress}``."""

    congress: Whole
    type: Text
    number: Whole
    title: str | None = None
    updateDate: str | None = None
    originChamber: str | None = None
    latestAction: LatestAction | None = None


class BillList(Payload):
    bills: list[ListedBill]
    pagination: Pagination | None = None
