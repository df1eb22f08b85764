"""A raw status code never reaches a reader bare: every code the crosswalks map has its words."""

from __future__ import annotations

import pytest

from monitor.normalise import crosswalks, meanings


@pytest.mark.parametrize("table", ["CONGRESS_ACTION_CODES", "BILLSTATUS_ACTION_TYPES", "OPENSTATES_CLASSIFICATIONS",
                                   "LEGISCAN_STATUS", "LEGISCAN_PROGRESS"])
def test_every_crosswalk_code_has_a_meaning(table: str) -> None:
    mapped = set(getattr(crosswalks, table))
    described = set(getattr(meanings, table))
    assert mapped - described == set(), f"{table}: codes without words in monitor/normalise/meanings.py"


@pytest.mark.parametrize(("raw", "shown"), [
    ("14000", "14000 — Reported to Senate"),
    ("E30000", "E30000 — Action by the President: signed or vetoed (the action's words say which)"),
    ("H11100", "H11100 — Referred to the Committee"),
    ("progress:2", "progress:2 — Engrossed (passed the chamber of origin)"),
    ("executive-signature", "executive-signature — Signed by the executive"),
    ("IntroReferral", "IntroReferral — Introduction or referral to committee"),
    # a code we have no words for says so rather than standing alone
    ("H38800", "H38800 — a provider code this monitor has no meaning for"),
    # a legacy BILLSTATUS type that only names its code is that code
    ("Placeholder Text for E30000",
     "E30000 — Action by the President: signed or vetoed (the action's words say which)"),
    ("Placeholder Text for H19000", "H19000 — a provider code this monitor has no meaning for"),
    # a GovInfo bill text version (govinfo_bill_feed's raw status)
    ("IH", "IH — Introduced in House"),
    ("ENR", "ENR — Enrolled bill"),
    # words are shown as they are
    ("Order on Motion to Dismiss", "Order on Motion to Dismiss"),
    ("Published", "Published"),
])
def test_raw_statuses_as_a_reader_sees_them(raw: str, shown: str) -> None:
    assert meanings.describe_raw(raw) == shown


def test_a_webhook_reader_gets_the_words_of_a_placeholder_type_and_a_version() -> None:
    assert meanings.meaning("Placeholder Text for 31000") == "Vetoed by President"
    assert meanings.meaning("RS") == "Reported in Senate"
