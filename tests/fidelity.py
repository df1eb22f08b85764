"""The README's fidelity table, computed: per provider, what was compared (real documents read in
place from ../shared/realdata, or facts about a peer's documents written out in our tests) and how
many we agree with the provider's own status, or with a peer's derivation where it has none.

Run ``python -m tests.fidelity`` to print it, ``python -m tests.fidelity --write`` to put it in
README.md between its markers; tests/test_fidelity.py fails when the README's copy is stale.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.normalise.actiontext import latest_action_status, text_step
from monitor.normalise.crosswalks import LEGISCAN_STATUS, OPENSTATES_CLASSIFICATIONS
from monitor.sources import SOURCE_KINDS, Fetched, Page
from monitor.sources.base import ItemRecord
from tests.conftest import REALDATA, ROOT

BEGIN, END = "<!-- fidelity:begin -->", "<!-- fidelity:end -->"

# Statuses read by hand from each BILLSTATUS document's actions (no provider status exists).
BILLSTATUS_READ = {
    "BILLSTATUS-116hr5240.xml": "in_committee",
    "formatChange_current_BILLSTATUS-117s35.xml": "passed_one_chamber",
    "formatChange_future_BILLSTATUS-117s35.xml": "passed_one_chamber",
    "legacy_BILLSTATUS-114hjres45.xml": "in_committee",
    "textVersions_DEV-BILLSTATUS-115s3509.xml": "sent_to_executive",
}


@dataclass(frozen=True)
class Row:
    provider: str
    documents: str
    reference: str
    agree: int
    total: int
    peer: bool = False  # read in place from a fetched snapshot (MONITOR_PEERS): absent without one


def _parse(kind: str, body: bytes, label: str = "", **config: object) -> list[ItemRecord]:
    cls = SOURCE_KINDS[kind]
    source = cls(cls.Config.model_validate({"id": "fidelity", "kind": kind, **config}))
    return source.parse(Fetched(pages=(Page("file://doc", body, label=label),)))


def billstatus() -> Row:
    paths = sorted(REALDATA.glob("govinfo/billstatus/*.xml"))
    agree = sum(
        _parse("govinfo_billstatus", p.read_bytes(), congress=114, bills=["s1"])[0].status
        == BILLSTATUS_READ[p.name]
        for p in paths
    )
    return Row(
        "GovInfo BILLSTATUS",
        f"{len(paths)} real bills (none vetoed; GPO's real vetoes are below)",
        "the document read by hand",
        agree,
        len(paths),
    )


def gpo_samples() -> list[Row]:
    """GPO's own BILLSTATUS samples, read in place: the vetoed and signed legacy bills read by
    hand, and every sample's latest action read alone as a list row against its whole history."""
    from tests.peer_snapshots import peer_file
    from tests.test_conformance_status import (
        GPO_COMMIT,
        GPO_LEGACY_SAMPLES,
        GPO_REPO,
        billstatus,
        gpo_sample_claims,
    )

    read = sum(
        billstatus(peer_file(GPO_REPO, GPO_COMMIT, f"samples/legacy/{name}")).status == status
        for name, status, _, _ in GPO_LEGACY_SAMPLES
    )
    claims = gpo_sample_claims()
    return [
        Row("GovInfo BILLSTATUS, GPO's samples (read in place)",
            f"{len(GPO_LEGACY_SAMPLES)} real legacy bills: 2 vetoed, 1 signed", "the document read by hand",
            read, len(GPO_LEGACY_SAMPLES), peer=True),
        Row("GovInfo BILLSTATUS, GPO's samples (read in place)",
            f"{len(claims)} real bills' latest actions, each read alone as a list row",
            "the bill's whole history (the row claims no more; a veto stays a veto)", sum(claims.values()),
            len(claims), peer=True),
    ]


def govtrack_bills() -> list[Row]:
    from tests.test_conformance_status import GOVTRACK_BILLS, govtrack

    states = [(theirs, ours) for rows in GOVTRACK_BILLS.values() for _, _, theirs, ours in rows
              if theirs is not None]
    finals = [[(theirs, ours) for _, _, theirs, ours in rows if theirs is not None][-1]
              for rows in GOVTRACK_BILLS.values()]
    return [
        Row(
            "THOMAS action text (unitedstates/congress fixtures)",
            f"facts: {len(finals)} bills' actions, written out in our tests",
            "GovTrack's final state",
            sum(ours == govtrack(theirs) for theirs, ours in finals),
            len(finals),
        ),
        Row(
            "THOMAS action text (unitedstates/congress fixtures)",
            f"facts: {len(states)} actions GovTrack gave a state",
            "GovTrack's state after each",
            sum(ours == govtrack(theirs) for theirs, ours in states),
            len(states),
        ),
    ]


def peer_lines() -> Row:
    from tests.test_conformance_status import BEFORE, PEER_CASES, fold, govtrack

    agree = sum(
        fold(BEFORE[before], line) == govtrack(theirs or before)
        for _, before, line, theirs in PEER_CASES
    )
    return Row(
        "unitedstates/congress action-line tests",
        f"facts: {len(PEER_CASES)} action lines",
        "their parse_bill_action state",
        agree,
        len(PEER_CASES),
    )


def openstates_wordings() -> Row:
    from tests.test_conformance_status import OPENSTATES_WORDINGS

    agree = 0
    for wording, classification in OPENSTATES_WORDINGS:
        ours, step = text_step(wording), OPENSTATES_CLASSIFICATIONS[classification]
        agree += (ours.status if ours else None) == (step.status if step else None)
    return Row("Open States scrapers' action wordings", f"facts: {len(OPENSTATES_WORDINGS)} wordings",
               "the rung of their classification", agree, len(OPENSTATES_WORDINGS))


def legiscan() -> Row:
    paths = sorted(REALDATA.glob("legiscan/dataset_bill_*.json"))
    agree = 0
    for path in paths:
        bill = json.loads(path.read_bytes())["bill"]
        [record] = _parse(
            "legiscan",
            path.read_bytes(),
            label="bill",
            state=bill["state"],
            bills=[bill["bill_number"]],
        )
        agree += record.status == LEGISCAN_STATUS[bill["status"]].status
    return Row(
        "LegiScan", f"{len(paths)} real bill object{'' if len(paths) == 1 else 's'}",
        "LegiScan's own status code", agree, len(paths)
    )


def congress_gov_lists() -> Row:
    """Every row of the real list answers, through the rule congress_recent applies to each."""
    rows = agree = 0
    for path in sorted(REALDATA.glob("congress_gov/bill_117*.json")):
        for bill in json.loads(path.read_bytes()).get("bills", []):
            latest = bill["latestAction"]
            rows += 1
            expected = "in_committee" if latest["text"].startswith("Referred to") else "introduced"
            agree += latest_action_status(latest["text"], latest["actionDate"]).status == expected
    return Row(
        "congress.gov bill lists (latestAction only)",
        f"{rows} rows of real list answers",
        "the latest action read by hand (a referral: in committee; the rest prove no more than introduced)",
        agree,
        rows,
    )


def court_names() -> list[Row]:
    from tests.test_casenames import JURISCRAPER_NAMES, feed_of, parse_body
    from tests.test_conformance_courts import JURISCRAPER_BUGS, OPINION_FEEDS, opinions

    total = exact = folded = 0
    for stem, court in OPINION_FEEDS.items():
        path = REALDATA / "court_opinion_feeds" / f"{stem}.xml"
        by_url = {r.url: r for r in opinions(court, path.read_bytes())}
        for case in json.loads(path.with_suffix(".compare.json").read_text()):
            name = JURISCRAPER_BUGS.get(case["case_names"], case["case_names"])
            ours = by_url[case["download_urls"]].data["case_name"]
            total += 1
            exact += ours == name
            folded += ours.casefold() == name.casefold()
    real = f"{len(OPINION_FEEDS)} real feeds, {total} opinions"
    facts = sum(
        parse_body(feed_of([title]), court)[0].data["case_name"] == theirs
        for court, title, theirs in JURISCRAPER_NAMES
    )
    return [
        Row("Court opinion RSS (ca7, ca10, cafc)", real, "juriscraper's case name, exactly",
            exact, total),
        Row("Court opinion RSS (ca7, ca10, cafc)", real, "juriscraper's case name, ignoring case",
            folded, total),
        Row(
            "Court opinion RSS (ca9, cadc)",
            f"facts: {len(JURISCRAPER_NAMES)} captions (every difference, and the shapes that "
            "matter)",
            "juriscraper's case name, exactly",
            facts,
            len(JURISCRAPER_NAMES),
        ),
    ]


def rows() -> list[Row]:
    """Every row; the peers' rows only where their snapshot is here (MONITOR_PEERS)."""
    builders: list[Callable[[], Row | list[Row]]] = [
        billstatus,
        gpo_samples,
        govtrack_bills,
        peer_lines,
        openstates_wordings,
        legiscan,
        congress_gov_lists,
        court_names,
        juriscraper_feeds,
    ]
    built: list[Row] = []
    for build in builders:
        try:
            made = build()
        except pytest.skip.Exception:
            continue
        built += made if isinstance(made, list) else [made]
    return built


def line(row: Row) -> str:
    return f"| {row.provider} | {row.documents} | {row.reference} | {row.agree} of {row.total} |"


def juriscraper_feeds() -> list[Row]:
    """juriscraper's own ca9 and cadc sample feeds and expected names, read in place."""
    from tests.peer_snapshots import peer_file
    from tests.test_casenames import JURISCRAPER, JURISCRAPER_FEEDS, parse_body

    total = exact = folded = 0
    for court, commit, name, suffix in JURISCRAPER_FEEDS.values():
        folder = "tests/examples/opinions/united_states"
        by_url = {r.url: r for r in parse_body(peer_file(JURISCRAPER, commit, f"{folder}/{name}{suffix}"), court)}
        for case in json.loads(peer_file(JURISCRAPER, commit, f"{folder}/{name}.compare.json")):
            ours, theirs = by_url[case["download_urls"]].data["case_name"], case["case_names"]
            total += 1
            exact += ours == theirs
            folded += ours.casefold() == theirs.casefold()
    real = f"juriscraper's {len(JURISCRAPER_FEEDS)} real feeds, {total} opinions"
    provider = "Court opinion RSS (ca9, cadc), juriscraper's samples (read in place)"
    return [Row(provider, real, "juriscraper's case name, exactly", exact, total, peer=True),
            Row(provider, real, "juriscraper's case name, ignoring case", folded, total, peer=True)]


def table(shown: list[Row] | None = None) -> str:
    lines = [
        "| provider / documents | what was compared | compared with | agree |",
        "|---|---|---|---|",
    ]
    lines += [line(r) for r in (rows() if shown is None else shown)]
    lines.append(
        "| Open States | none (no real v3 response is public; see ../shared/realdata gaps) | — | — |"
    )
    return "\n".join(lines)


def write(readme: Path = ROOT / "README.md") -> None:
    built = rows()
    if not any(r.peer for r in built):
        sys.exit("the peers' rows need their snapshots: set MONITOR_PEERS (e.g. /work/.mirror)")
    text = readme.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    readme.write_text(text[:start] + "\n" + table(built) + "\n" + text[end:])


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
    print(table())
