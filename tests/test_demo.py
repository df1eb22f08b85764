"""``monitor demo`` works offline for a newcomer: two polls, the Slack alerts, a digest file."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import run_cli

# The committee's vote to report (Nov 19) moves the bill, as GovTrack reads it; the report filed
# on Nov 24 (LOC 14000) restates the same rung and alerts nothing more.
REPORTED = ("Committee on the Judiciary. Ordered to be reported with an amendment in the nature of a "
            "substitute favorably.")


def alerts(out: str) -> list[str]:
    return [block.split("\nEmail digest", 1)[0] for block in out.split("── Slack alert ")[1:]]


def test_demo_runs_offline_and_shows_the_alerts_and_the_digest(cli_env, tmp_path: Path) -> None:
    result = run_cli(["demo", "--dir", str(tmp_path / "demo")], cli_env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    by_title = {a.splitlines()[1]: a for a in alerts(out)}  # line 0 is the rule, line 1 the header
    assert set(by_title) == {"BIVENS CLAIMS AGAINST FEDERAL IMMIGRATION OFFICERS — 1 CHANGE",
                             "FEDERAL BILLS: A FEDERAL 1983, THE BIVENS ACT, QUALIFIED IMMUNITY — 1 CHANGE"}

    opinion = by_title["BIVENS CLAIMS AGAINST FEDERAL IMMIGRATION OFFICERS — 1 CHANGE"]
    assert "Reyes v. ICE Officer Hall" in opinion and "*New opinion*" in opinion
    assert "Rule: bivens: new-item (query)" in opinion and "Source: <http://127.0.0.1:" in opinion
    assert "Published on Feb 3, 2026 · Detected " in opinion  # the feed's date beside the detection time

    bill = by_title["FEDERAL BILLS: A FEDERAL 1983, THE BIVENS ACT, QUALIFIED IMMUNITY — 1 CHANGE"]
    assert "S. 3470: Accountability for Federal Law Enforcement Act" in bill
    assert "*Was*: In committee\n   *Now*: Reported by committee" in bill  # a status move, not a text change
    assert f"Action: “{REPORTED}”" in bill  # the evidence: the action that moved it
    assert "Reported by committee on Nov 19, 2026" in bill
    assert "Rule: federal-legislation: status-move (pinned us/119/s/3470)" in bill
    assert "summary" not in bill

    digest = Path(re.search(r"digest \(.*\): (/\S+)$", out, re.MULTILINE).group(1))
    assert digest.exists()
    html = digest.read_text()
    for heading in ("Bivens claims against federal immigration officers",
                    "Federal bills: a federal 1983, the Bivens Act, qualified immunity"):
        assert heading in html
    assert "Reyes v. ICE Officer Hall" in html and "S. 3470" in html and "Reported by committee" in html
