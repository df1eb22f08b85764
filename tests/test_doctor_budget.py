"""`monitor sources budget`, the budget check in config validation, and `monitor doctor`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.budget import plan
from monitor.config import load_config
from monitor.errors import ConfigError
from tests.conftest import ROOT, run_cli

NO_KEYS = ("CONGRESS_API_KEY", "OPENSTATES_API_KEY", "LEGISCAN_API_KEY", "COURTLISTENER_TOKEN", "MONITOR_SMTP_URL",
           "MONITOR_ADMIN_TARGET", "MONITOR_PUBLIC_URL")
TOO_MUCH = """\
sources:
  - id: cl-a
    kind: rss
    url: https://www.courtlistener.com/feed/search/?q=bivens
    flavor: courtlistener
    interval: 10m
"""


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in cli_env.items() if k not in NO_KEYS}


def test_the_shipped_config_fits_every_published_limit() -> None:
    plans = {p.provider: p for p in plan(load_config(ROOT / "sources.yaml"))}
    assert not any(p.over for p in plans.values())
    # four search feeds every 3h, the Supreme Court feed every 2h, two keyed searches (2 requests) every 3h
    assert plans["courtlistener"].per_day == 4 * 8 + 12 + 2 * 2 * 8 <= 125


def test_a_config_over_a_hard_limit_is_refused_with_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(TOO_MUCH)
    with pytest.raises(ConfigError, match=r"provider 'courtlistener' would get about 144 requests a day .* over its "
                                          r"limit of 125"):
        load_config(path)
    result = run_cli(["run", "--once", "--config", str(path)], env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "over its limit of 125" in result.stderr.strip().splitlines()[-1]
    budget = run_cli(["sources", "budget", "--config", str(path), "--json"], env)
    assert budget.returncode == 1
    [row] = json.loads(budget.stdout)
    assert (row["provider"], row["per_day"], row["limit_per_day"], row["over"]) == ("courtlistener", 144.0, 125, True)


def test_budget_lists_each_provider_of_the_shipped_config(env: dict[str, str]) -> None:
    result = run_cli(["sources", "budget", "--config", str(ROOT / "sources.yaml"), "--json"], env)
    assert result.returncode == 0, result.stderr
    rows = {r["provider"]: r for r in json.loads(result.stdout)}
    # the courts of appeals and district courts (bankruptcy is opt-in), the bill feed, the BILLSTATUS files
    assert rows["web:www.govinfo.gov"]["sources"] == 13 + 94 + 1 + 1
    assert "govinfo" not in rows  # no keyed GovInfo API source: nothing counts against api.data.gov's quota
    assert rows["openstates"]["limit_per_day"] == 250 and not rows["openstates"]["over"]


def test_doctor_tells_a_new_user_what_runs_and_what_to_do(env: dict[str, str]) -> None:
    result = run_cli(["doctor", "--config", str(ROOT / "sources.yaml")], env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "117 of 152 enabled sources can run now, 91 disabled" in out
    for key, page in (("CONGRESS_API_KEY", "https://api.congress.gov/sign-up/"),
                      ("OPENSTATES_API_KEY", "https://open.pluralpolicy.com/accounts/signup/"),
                      ("LEGISCAN_API_KEY", "https://legiscan.com/user/register"),
                      ("COURTLISTENER_TOKEN", "https://www.courtlistener.com/sign-in/register/")):
        [line] = [line for line in out.splitlines() if line.strip().startswith("skipped:") and key in line]
        assert page in line and f"export {key}=" in line
    for name in ("MONITOR_SMTP_URL", "MONITOR_ADMIN_TARGET", "MONITOR_PUBLIC_URL"):
        assert f"{name}: not set" in out
    assert out.strip().splitlines()[-1] == "everything configured can run"
    assert len(out.splitlines()) <= 24  # one screen


def test_doctor_fails_for_email_subscriptions_without_smtp_or_public_url(env: dict[str, str], tmp_path: Path) -> None:
    assert run_cli(["watchlist", "add", "bivens", "--query", "bivens"], env).returncode == 0
    smtp = {"MONITOR_SMTP_URL": "smtp://mail.example.org:587?starttls=1", "MONITOR_PUBLIC_URL": "https://m.example.org"}
    assert run_cli(["subscribe", "bivens", "email:someone@example.org"], env | smtp).returncode == 0
    result = run_cli(["doctor", "--config", str(ROOT / "sources.yaml")], env)  # the variables lost since
    assert result.returncode == 1
    assert "problem: 1 email subscription but no MONITOR_SMTP_URL" in result.stdout
    assert "problem: 1 email subscription but no MONITOR_PUBLIC_URL" in result.stdout
    fixed = run_cli(["doctor", "--config", str(ROOT / "sources.yaml")], env | smtp)
    assert fixed.returncode == 0, fixed.stdout


def test_doctor_fails_for_an_smtp_url_or_admin_target_that_cannot_work(env: dict[str, str]) -> None:
    """A set variable is not a working one: doctor reads MONITOR_SMTP_URL and MONITOR_ADMIN_TARGET as
    the senders will (before: "set", exit 0, and every email and admin notice failed later)."""
    bad = {"MONITOR_SMTP_URL": "ftp://mail.example.org", "MONITOR_ADMIN_TARGET": "slack:nope"}
    result = run_cli(["doctor", "--config", str(ROOT / "sources.yaml")], env | bad)
    assert result.returncode == 1
    assert ("problem: MONITOR_SMTP_URL: MONITOR_SMTP_URL must look like smtp://user:pass@host:587?starttls=1 "
            "or smtps://host:465") in result.stdout
    assert "problem: MONITOR_ADMIN_TARGET: slack: needs a URL" in result.stdout
    good = {"MONITOR_SMTP_URL": "smtp://mail.example.org:587?starttls=1",
            "MONITOR_ADMIN_TARGET": "slack:https://hooks.slack.com/services/T000/B000/XXXX"}
    assert run_cli(["doctor", "--config", str(ROOT / "sources.yaml")], env | good).returncode == 0


def test_doctor_fails_while_a_subscription_is_disabled(env: dict[str, str], tmp_path: Path) -> None:
    """A receiver answered 410, so its subscription was disabled: its alerts go nowhere until
    someone acts. Before: doctor listed "subscriptions: 1 webhook" and "everything configured can
    run", exit 0."""
    from tests.fakes.http_server import HttpServer
    from tests.reliability.helpers import rss

    feeds, receiver = HttpServer(), HttpServer(home="/hooks/remedy")
    try:
        feeds.set("/f.xml", rss(("a1", "Other")))
        config = tmp_path / "sources.yaml"
        config.write_text(f"sources:\n  - id: f\n    kind: rss\n    url: {feeds.url('/f.xml')}\n")
        assert run_cli(["run", "--once", "--config", str(config)], env).returncode == 0
        assert run_cli(["watchlist", "add", "bivens", "--query", "bivens"], env).returncode == 0
        assert run_cli(["subscribe", "bivens", "webhook:" + receiver.url()], env).returncode == 0
        receiver.queue(410, "gone")
        feeds.set("/f.xml", rss(("a2", "A Bivens claim"), ("a1", "Other")))
        assert run_cli(["run", "--once", "--config", str(config)], env).returncode == 1
        result = run_cli(["doctor", "--config", str(config)], env)
        assert result.returncode == 1, result.stdout
        problem = (f"  problem: subscription 1 (webhook:{receiver.base}/hooks/***) on bivens is disabled: 410 gone: "
                   "receiver is gone; fix: its target, or `monitor alerts retry --all-failed` once it answers again")
        assert problem in result.stdout.splitlines(), result.stdout
        assert run_cli(["alerts", "retry", "--all-failed"], env).returncode == 0  # the receiver answers 200 again
        fixed = run_cli(["doctor", "--config", str(config)], env)
        assert fixed.returncode == 0, fixed.stdout
    finally:
        feeds.close()
        receiver.close()


def test_doctor_reports_a_broken_config_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - {id: x, kind: rsss}\n")
    result = run_cli(["doctor", "--config", str(path)], env)
    assert result.returncode == 1 and "unknown kind 'rsss'" in result.stderr and "Traceback" not in result.stderr


def test_a_cron_source_counts_its_firings(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - {id: weekdays, kind: rss, url: 'https://www.courtlistener.com/feed/court/ca9/',"
                    " flavor: courtlistener, cron: '0 9,17 * * 1-5'}\n")
    [entry] = plan(load_config(path))
    assert entry.provider == "courtlistener" and entry.per_day == 2 * 5 / 7


def test_a_docket_costs_one_feed_request_without_a_token_and_its_pages_with_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n" + "".join(f"  - id: d{i}\n    kind: courtlistener_docket\n    docket_id: {i + 1}\n"
                                           for i in range(12)))
    monkeypatch.delenv("COURTLISTENER_TOKEN", raising=False)
    [row] = plan(load_config(path))  # twelve docket feeds every 6h: one request each
    assert (row.provider, row.per_day, row.over) == ("courtlistener", 48, False)
    monkeypatch.setenv("COURTLISTENER_TOKEN", "t")
    with pytest.raises(ConfigError, match=r"about 144 requests a day"):  # the docket and up to two pages each
        load_config(path)


def test_doctor_shows_a_config_path_with_brackets_as_written(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "[bold]configs"
    folder.mkdir()
    path = folder / "sources.yaml"
    path.write_text("sources:\n  - {id: x, kind: rss, url: 'https://example.org/feed.xml'}\n")
    result = run_cli(["doctor", "--config", str(path)], env)
    assert f"Sources ({path}): 1 of 1 enabled sources can run now" in result.stdout
