"""Day-one coverage, end to end through the CLI, as a new user with no key would run it.

The shipped sources.yaml, its base URLs pointed at a real local HTTP server that serves every
feed it names (every federal court's GovInfo feed, CourtListener's feeds, GovInfo's bill feed and BILLSTATUS
files, the Federal Register, DHS OIG, the Supreme Court's page): the first pass polls well over
100 sources and alerts no one; a new Ninth Circuit Bivens opinion and a new federal
qualified-immunity bill then alert once each, the bill is followed, and its later status move
alerts too.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import yaml

from monitor.sources.govinfo_courts import APPELLATE, BANKRUPTCY, DISTRICT
from tests.conftest import ROOT, run_cli
from tests.fakes.http_server import HttpServer

EXAMPLES = Path(__file__).parent / "examples"
KEYS = ("CONGRESS_API_KEY", "OPENSTATES_API_KEY", "LEGISCAN_API_KEY", "COURTLISTENER_TOKEN")
PINNED = {"s": (3470, 3187, 122), "hr": (6091, 3602, 503)}
NEW_BILL_ITEM = """
    <item>
      <title>H.R. 10660 (IH) - Ending Qualified Immunity for Federal Immigration Officers Act</title>
      <link>https://www.govinfo.gov/app/details/BILLS-119hr10660ih</link>
      <guid isPermaLink="false">BILLS-119hr10660ih</guid>
      <pubDate>Fri, 02 Oct 2026 09:05:01 GMT</pubDate>
    </item>"""
PASSED_HOUSE = """<actions>
      <item>
        <actionDate>2026-10-20</actionDate>
        <text>On passage Passed by the Yeas and Nays: 218 - 210.</text>
        <type>Floor</type>
        <actionCode>8000</actionCode>
      </item>"""


def court_feed(court: str) -> str:
    case = "20-00001" if court in APPELLATE else "1_20-cv-00001"
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{court}</title>'
            f"<item><title>Doe v. Roe</title><guid>USCOURTS-{court}-{case}</guid>"
            f"<link>https://www.govinfo.gov/app/details/USCOURTS-{court}-{case}</link>"
            "<pubDate>Mon, 28 Sep 2026 18:00:00 GMT</pubDate></item></channel></rss>")


def billstatus(kind: str, number: int, title: str, *, passed: bool = False) -> str:
    """A BILLSTATUS file for any bill, from the real H.R. 6091 file's shape."""
    text = (EXAMPLES / "govinfo_billstatus" / "hr6091.xml").read_text()
    text = text.replace("<number>6091</number>", f"<number>{number}</number>").replace(
        "<type>HR</type>", f"<type>{kind.upper()}</type>")
    text = re.sub(r"<title>[^<]*</title>", f"<title>{title}</title>", text, count=1)
    return text.replace("<actions>", PASSED_HOUSE, 1) if passed else text


def serve(feeds: HttpServer, *, new_opinion: bool, new_bill: bool, passed: bool) -> None:
    for court in (*APPELLATE, *DISTRICT, *BANKRUPTCY):
        feeds.set(f"/rss/uscourts-{court}.xml", court_feed(court), etag=True)
    ca9 = (EXAMPLES / "govinfo_courts" / "ca9.xml").read_text()
    if not new_opinion:  # the Bivens opinion is the feed's first item
        ca9 = re.sub(r"<item>.*?</item>", "", ca9, count=1, flags=re.DOTALL)
    feeds.set("/rss/uscourts-ca9.xml", ca9, etag=True)
    bills = (EXAMPLES / "govinfo_bill_feed" / "bills.xml").read_text()
    bills = re.sub(r"<item>\s*<title>H\.R\. 10660.*?</item>", NEW_BILL_ITEM if new_bill else "", bills,
                   count=1, flags=re.DOTALL)
    feeds.set("/rss/bills.xml", bills, etag=True)
    for kind, numbers in PINNED.items():
        for number in numbers:
            feeds.set(f"/bulkdata/BILLSTATUS/119/{kind}/BILLSTATUS-119{kind}{number}.xml",
                      billstatus(kind, number, f"Remedy bill {number}"), etag=True)
    feeds.set("/bulkdata/BILLSTATUS/119/hr/BILLSTATUS-119hr10660.xml",
              billstatus("hr", 10660, "Ending Qualified Immunity for Federal Immigration Officers Act",
                         passed=passed), etag=True)
    cl = (EXAMPLES / "rss" / "courtlistener_ca9.xml").read_bytes()
    feeds.set("/feed/court/scotus/", cl, etag=True)
    feeds.set("/feed/search/", cl, etag=True)
    feeds.set("/rss.xml", (EXAMPLES / "rss" / "dhs_oig_reports.xml").read_bytes(), etag=True)
    today = dt.date.today()  # the shipped source reads the term in progress
    term = today.year if today.month >= 10 else today.year - 1
    feeds.set(f"/opinions/slipopinion/{term % 100:02d}", (EXAMPLES / "html" / "scotus_slip_opinions.html").read_bytes(),
              content_type="text/html")
    register = json.loads((EXAMPLES / "federal_register" / "dhs_documents.json").read_text())
    feeds.set("/api/v1/documents.json", json.dumps(register | {"next_page_url": None}),  # one page here
              content_type="application/json")


def local_config(base: str, path: Path) -> Path:
    """The shipped sources.yaml with every no-key source's base URL pointed at ``base``."""
    data = yaml.safe_load((ROOT / "sources.yaml").read_text())
    for source in data["sources"]:
        for name, value in list(source.items()):
            if isinstance(value, str) and value.startswith("https://"):
                source[name] = re.sub(r"^https://[^/]+", base, value)
        base_url = {"govinfo_courts": f"{base}/rss", "govinfo_billstatus": f"{base}/bulkdata/BILLSTATUS",
                    "federal_register": base}.get(source["kind"])
        if base_url:
            source["base_url"] = base_url
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_once(env: dict[str, str], config: Path) -> tuple[list[dict[str, Any]], str]:
    result = run_cli(["run", "--once", "--json", "--config", str(config)], env)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)["sources"], result.stderr


def outcome(poll: dict[str, Any]) -> str:
    return str(poll["outcome"]).lower()


def alerts(slack: HttpServer) -> list[str]:
    return [json.dumps(r.json()) for r in slack.requests]


def test_a_fresh_install_with_no_keys(cli_env: dict[str, str], feeds: HttpServer, slack: HttpServer,
                                      tmp_path: Path) -> None:
    env = {k: v for k, v in cli_env.items() if k not in KEYS}
    config = local_config(feeds.base, tmp_path / "sources.yaml")
    for args in (["watchlist", "import", "--starter"],
                 ["subscribe", "bivens", "slack:" + slack.url()],
                 ["subscribe", "qualified-immunity", "slack:" + slack.url()]):
        assert run_cli(args, env).returncode == 0

    serve(feeds, new_opinion=False, new_bill=False, passed=False)
    polls, _ = run_once(env, config)
    ok = [p for p in polls if outcome(p) not in ("failed", "skipped", "deferred")]
    assert len(ok) == 13 + 94 + 10, [p for p in polls if p not in ok]  # courts of appeals, districts, the rest
    skipped = [p for p in polls if outcome(p) == "skipped"]
    keyed = [s for s in yaml.safe_load(config.read_text())["sources"]
             if s["kind"] in ("congress_bill", "congress_recent", "openstates", "legiscan", "courtlistener_search")]
    assert sorted(p["source_id"] for p in skipped) == sorted(s["id"] for s in keyed) and len(skipped) == 35
    assert all(re.search(r"\b[A-Z]+_(API_KEY|TOKEN)\b", p["error"]) for p in skipped)  # names the key
    assert alerts(slack) == []  # a first poll is a baseline

    serve(feeds, new_opinion=True, new_bill=True, passed=False)
    _, log = run_once(env, config)
    sent = alerts(slack)
    assert len(sent) == 2, sent
    assert sum("Rosa Hernandez-Lopez v. Kristi Noem" in a for a in sent) == 1
    [bill] = [a for a in sent if "H.R. 10660" in a]
    assert "Introduced in House" in bill  # the version in words, not GovInfo's bare "IH"
    assert "now following H.R. 10660 (matched watchlist 'qualified-immunity')" in log

    text = run_cli(["run", "--once", "--config", str(config)], env)  # the followed bill's first poll: its baseline
    assert "follow.us-119-hr-10660: baseline: 1 item stored" in text.stdout
    assert text.stdout.splitlines()[-1] == ("118 of 153 sources polled, 35 skipped: "
                                            "`monitor doctor` says why and what to do")
    assert len(alerts(slack)) == 2
    board = run_cli(["watchlist", "show", "qualified-immunity", "--json"], env)
    [followed] = json.loads(board.stdout)["following"]
    assert (followed["label"], followed["found_by"]) == ("H.R. 10660", "govinfo-new-bills")
    shown = run_cli(["watchlist", "show", "qualified-immunity"], env | {"COLUMNS": "200"}).stdout
    assert "now following H.R. 10660 (matched watchlist 'qualified-immunity')" in shown

    serve(feeds, new_opinion=True, new_bill=True, passed=True)
    run_once(env, config)
    sent = alerts(slack)
    assert len(sent) == 3, sent
    assert "H.R. 10660" in sent[-1] and "passed" in sent[-1].lower()
    shown = run_cli(["watchlist", "show", "qualified-immunity"], env | {"COLUMNS": "200"}).stdout
    assert "H.R. 10660\tPassed one chamber on Oct 20, 2026\t" in shown  # in words, as a pinned bill's status


def state_page(actions: int | None) -> str:
    """An Open States search answer: none, or a new Illinois bill on suing federal officers with its
    first ``actions`` actions (built from the real-shaped HB 1312 page; the bill is invented)."""
    page = json.loads((EXAMPLES / "openstates" / "il_hb1312" / "page1.json").read_text())
    if actions is None:
        return json.dumps({"results": [], "pagination": page["pagination"] | {"total_items": 0}})
    [bill] = page["results"]
    bill |= {"id": "ocd-bill/00000000-0000-4000-8000-000000004242", "identifier": "HB 4242",
             "title": "FEDERAL OFFICER CIVIL LIABILITY ACT", "actions": bill["actions"][:actions],
             "openstates_url": "https://openstates.org/il/bills/104th/HB4242/",
             "updated_at": f"2026-10-0{actions}T04:41:09+00:00"}
    return json.dumps(page | {"results": [bill]})


def test_a_state_bill_found_by_topic_is_followed_and_its_later_move_alerted(
        cli_env: dict[str, str], feeds: HttpServer, slack: HttpServer, tmp_path: Path) -> None:
    """No source of its own: the search that found the bill brings back its moves (newest first,
    updated since the last poll), and the watchlist that followed it alerts on them."""
    env = {k: v for k, v in cli_env.items() if k not in KEYS} | {"OPENSTATES_API_KEY": "free-key"}
    config = tmp_path / "sources.yaml"
    config.write_text(yaml.safe_dump({"sources": [
        {"id": "openstates-search-il", "kind": "openstates", "jurisdiction": "il", "max_pages": 1,
         "q": '"federal officer" OR Bivens', "base_url": feeds.base}]}))
    for args in (["watchlist", "import", "--starter"],
                 ["subscribe", "state-private-rights", "slack:" + slack.url()]):
        assert run_cli(args, env).returncode == 0

    feeds.set("/bills", state_page(None), content_type="application/json")
    run_once(env, config)  # the baseline
    feeds.set("/bills", state_page(3), content_type="application/json")  # filed and referred
    _, log = run_once(env, config)
    assert "now following HB 4242 (matched watchlist 'state-private-rights')" in log
    [new] = alerts(slack)
    assert "HB 4242" in new
    feeds.set("/bills", state_page(4), content_type="application/json")  # passed the House
    run_once(env, config)
    sent = alerts(slack)
    assert len(sent) == 2 and "HB 4242" in sent[1] and "passed" in sent[1].lower(), sent
    [followed] = json.loads(run_cli(["watchlist", "show", "state-private-rights", "--json"], env).stdout)["following"]
    assert (followed["identity"], followed["found_by"]) == ("il/104/hb/4242", "openstates-search-il")
    assert "passed" in str(followed["status"]).lower()


def legiscan_bill(passed: bool) -> dict[str, Any]:
    """A new Maryland bill on suing federal officers, from the real-shaped HB 351 getBill answer:
    first read and referred, then (``passed``) through the House. The bill is invented."""
    bill = json.loads((EXAMPLES / "legiscan" / "md_hb351" / "bill1893251.json").read_text())
    template = bill["bill"]
    template.update(bill_id=4242, bill_number="HB777", change_hash="passed" if passed else "filed",
                    title="Civil Actions - Deprivation of Rights by Federal Officers",
                    url="https://legiscan.com/MD/bill/HB777/2026", status=2 if passed else 1,
                    progress=template["progress"][:4 if passed else 2],
                    history=template["history"][:3 if passed else 1])
    return dict(bill)


def test_a_legiscan_search_follows_a_state_bill_and_alerts_its_later_move(
        cli_env: dict[str, str], feeds: HttpServer, slack: HttpServer, tmp_path: Path) -> None:
    key = "free-key"
    env = {k: v for k, v in cli_env.items() if k not in KEYS} | {"LEGISCAN_API_KEY": key}
    config = tmp_path / "sources.yaml"
    config.write_text(yaml.safe_dump({"sources": [
        {"id": "legiscan-search-md", "kind": "legiscan", "state": "MD", "query": "bivens", "max_bills": 10,
         "base_url": feeds.url("/ls/")}]}))
    for args in (["watchlist", "import", "--starter"],
                 ["subscribe", "state-private-rights", "slack:" + slack.url()]):
        assert run_cli(args, env).returncode == 0

    def serve_search(bill: dict[str, Any] | None) -> None:
        results = [{"relevance": 100, "bill_id": 4242, "change_hash": bill["bill"]["change_hash"]}] if bill else []
        feeds.set(f"/ls/?key={key}&op=getSearchRaw&state=MD&query=bivens", json.dumps(
            {"status": "OK", "searchresult": {"summary": {"page_total": 1, "count": len(results)},
                                              "results": results}}),
            content_type="application/json")
        if bill:
            feeds.set(f"/ls/?key={key}&op=getBill&id=4242", json.dumps({"status": "OK"} | bill),
                      content_type="application/json")

    serve_search(None)
    run_once(env, config)  # the baseline
    serve_search(legiscan_bill(passed=False))
    _, log = run_once(env, config)
    assert "now following HB 777 (matched watchlist 'state-private-rights')" in log
    [new] = alerts(slack)
    assert "HB777" in new
    serve_search(legiscan_bill(passed=True))
    run_once(env, config)
    sent = alerts(slack)
    assert len(sent) == 2 and "passed" in sent[1].lower(), sent
