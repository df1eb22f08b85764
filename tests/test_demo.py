"""``monitor demo`` works offline for a newcomer: two polls, a Slack alert, a digest file."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import run_cli


def test_demo_runs_offline_and_shows_the_alerts_and_the_digest(cli_env, tmp_path: Path) -> None:
    result = run_cli(["demo", "--dir", str(tmp_path / "demo")], cli_env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Reyes v. ICE Officer Hall" in out  # the new Bivens opinion
    assert "S. 3470" in out and "referred to the Committee" in out and "Ordered to be reported" in out
    assert "Rule: bivens:" in out and "Source: <http://127.0.0.1:" in out
    digest = Path(re.search(r"(/\S+digest\.html)", out).group(1))
    html = digest.read_text()
    assert "Reyes v. ICE Officer Hall" in html and "S. 3470" in html
