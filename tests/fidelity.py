"""The README's fidelity table, computed: per provider, the real documents read and how many we
agree with the provider's own status, or with a peer's derivation where the provider has none.

Run ``python -m tests.fidelity`` to print it, ``python -m tests.fidelity --write`` to put it in
README.md between its markers; tests/test_fidelity.py fails when the README's copy is stale.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from monitor.normalise.actiontext import latest_action_status, text_step
from monitor.normalise.crosswalks import LEGISCAN_STATUS, OPENSTATES_CLASSIFICATIONS
from monitor.sources import SOURCE_KINDS, Fetched, Page
from monitor.sources.base import ItemRecord
from tests.conftest import REALDATA, ROOT

PEERS = ROOT / "tests" / "peers"
BEGIN, END = "<!-- fidelity:begin -->", "<!-- fidelity:end -->"

# Statuses read by hand from each BILLSTATUS document's actions (no provider status exists).
BILLSTATUS_READ = {
    "BILLSTATUS-116hr5240.xml": "in_committee",
    "formatChange_current_BILLSTATUS-117s35.xml": "passed_one_chamber",
    "formatChange_future_BILLSTATUS-117s35.xml": "passed_one_chamber",
    "legacy_BILLSTATUS-114hjres45.xml": "in_committee",
    "textVersions_DEV-BILLSTATUS-115s3509.xml": "sent_to_executive",
    "BILLSTATUS-114sjres8.xml": "vetoed",
    "BILLSTATUS-114hr3762.xml": "vetoed",
    "BILLSTATUS-114s1300.xml": "enacted",
}


@dataclass(frozen=True)
class Row:
    provider: str
    documents: str
    reference: str
    agree: int
    total: int


def _parse(kind: str, body: bytes, label: str = "", **config: object) -> list[ItemRecord]:
    cls = SOURCE_KINDS[kind]
    source = cls(cls.Config.model_validate({"id": "fidelity", "kind": kind, **config}))
    return source.parse(Fetched(pages=(Page("file://doc", body, label=label),)))


def billstatus() -> Row:
    paths = sorted(REALDATA.glob("govinfo/billstatus/*.xml")) + sorted(
        (PEERS / "usgpo_billstatus").glob("*.xml")
    )
    agree = sum(
        _parse("govinfo_billstatus", p.read_bytes(), congress=114, bills=["s1"])[0].status
        == BILLSTATUS_READ[p.name]
        for p in paths
    )
    return Row(
        "GovInfo BILLSTATUS",
        f"{len(paths)} bills (3 legacy vetoed/signed)",
        "the document read by hand",
        agree,
        len(paths),
    )


def govtrack_bills() -> list[Row]:
    from tests.test_conformance_status import FIXTURES, fixture_rows, govtrack

    finals = [fixture_rows(p) for p in FIXTURES]
    actions = [(s, ours) for _, _, rows in finals for s, _, ours in rows]
    return [
        Row(
            "THOMAS action text (unitedstates/congress fixtures)",
            f"{len(finals)} bills",
            "GovTrack's final state",
            sum(ours == govtrack(final) for final, ours, _ in finals),
            len(finals),
        ),
        Row(
            "THOMAS action text (unitedstates/congress fixtures)",
            f"{len(actions)} status-changing actions",
            "GovTrack's state after each",
            sum(ours == govtrack(s) for s, ours in actions),
            len(actions),
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
        f"{len(PEER_CASES)} lines",
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
    return Row("Open States scrapers' action wordings", f"{len(OPENSTATES_WORDINGS)} wordings",
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
        "LegiScan", f"{len(paths)} bill objects", "LegiScan's own status code", agree, len(paths)
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
        f"{rows} rows",
        "the latest action read by hand",
        agree,
        rows,
    )


def court_names() -> list[Row]:
    from tests.test_conformance_courts import JURISCRAPER_BUGS, OPINION_FEEDS, opinions

    feeds = [
        (REALDATA / "court_opinion_feeds" / f"{stem}.xml", court)
        for stem, court in OPINION_FEEDS.items()
    ]
    feeds += [
        (ROOT / "tests" / "examples" / "rss" / f"{stem}.xml", stem.split("_")[0])
        for stem in ("ca9_opinions", "ca9_memoranda", "cadc_opinions", "cadc_judgments")
    ]
    total = exact = folded = 0
    for path, court in feeds:
        compare = (
            path.with_suffix(".compare.json")
            if path.parent.name == "court_opinion_feeds"
            else PEERS / "juriscraper" / f"{path.stem}.compare.json"
        )
        by_url = {r.url: r for r in opinions(court, path.read_bytes())}
        for case in json.loads(compare.read_text()):
            name = JURISCRAPER_BUGS.get(case["case_names"], case["case_names"])
            ours = by_url[case["download_urls"]].data["case_name"]
            total += 1
            exact += ours == name
            folded += ours.casefold() == name.casefold()
    return [
        Row(
            "Court opinion RSS (ca7, ca9, ca10, cadc, cafc)",
            f"{len(feeds)} feeds, {total} opinions",
            "juriscraper's case name, exactly",
            exact,
            total,
        ),
        Row(
            "Court opinion RSS (ca7, ca9, ca10, cadc, cafc)",
            f"{len(feeds)} feeds, {total} opinions",
            "juriscraper's case name, ignoring case",
            folded,
            total,
        ),
    ]


def table() -> str:
    builders: list[Callable[[], Row | list[Row]]] = [
        billstatus,
        govtrack_bills,
        peer_lines,
        openstates_wordings,
        legiscan,
        congress_gov_lists,
        court_names,
    ]
    rows: list[Row] = []
    for build in builders:
        built = build()
        rows += built if isinstance(built, list) else [built]
    lines = [
        "| provider / documents | real documents | compared with | agree |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r.provider} | {r.documents} | {r.reference} | {r.agree} of {r.total} |" for r in rows
    ]
    lines.append(
        "| Open States | none (no real v3 response is public; see ../shared/realdata gaps) | — | — |"
    )
    return "\n".join(lines)


def write(readme: Path = ROOT / "README.md") -> None:
    text = readme.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    readme.write_text(text[:start] + "\n" + table() + "\n" + text[end:])


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
    print(table())
