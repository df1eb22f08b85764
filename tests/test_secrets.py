"""Webhook URLs are bearer secrets: they never appear whole in CLI output, logs or stored errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.base import mask_target
from monitor.redact import mask_url, redact, redact_for_target
from tests.conftest import run_cli
from tests.test_pipeline import rss, write_config

SECRET = "XXXXSECRET"


def test_webhook_url_never_printed(feeds, slack, cli_env):
    target = "slack:" + slack.url()
    feeds.set("/opinions.xml", rss(("a1", "Other")))
    write_config(Path(cli_env["MONITOR_CONFIG"]), feeds, "opinions")
    outputs = [run_cli(["run", "--once"], cli_env),
               run_cli(["watchlist", "add", "bivens", "--query", "bivens"], cli_env),
               run_cli(["subscribe", "bivens", target], cli_env)]
    feeds.set("/opinions.xml", rss(("a2", "Bivens news"), ("a1", "Other")))
    slack.queue(404, "no_service")
    outputs.append(run_cli(["run", "--once", "--verbose"], cli_env))
    outputs.append(run_cli(["subscriptions", "list", "--json"], cli_env))
    outputs.append(run_cli(["subscriptions", "list"], cli_env))
    for result in outputs:
        assert result.returncode == (1 if result is outputs[3] else 0), result.stderr  # 1: Slack refused for good
        assert SECRET not in result.stdout and SECRET not in result.stderr
    subs = json.loads(outputs[-2].stdout)
    assert subs[0]["enabled"] is False and subs[0]["target"].endswith("/***")


def test_masking_helpers():
    url = "https://hooks.slack.com/services/T000/B000/" + SECRET
    assert mask_url(url) == "https://hooks.slack.com/services/***"
    assert mask_target("slack:" + url) == "slack:https://hooks.slack.com/services/***"
    assert SECRET not in redact(f"POST {url} failed")
    assert "abc123secret" not in redact("GET https://api.legiscan.com/?key=abc123secret&op=getBill")
    assert "tok-999999" not in redact("Authorization: Token tok-999999")


@pytest.mark.parametrize(("target", "secret", "echo"), [
    ("apprise:tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654", "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
     "POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage failed"),
    ("apprise:discord://112233445566778899/wEbHoOkToKeN-abcdef0123", "wEbHoOkToKeN-abcdef0123",
     "404 for discord://112233445566778899/wEbHoOkToKeN-abcdef0123"),
    ("apprise:ntfy://tk_Zt0kenSecret1@ntfy.example.org/alerts", "tk_Zt0kenSecret1",
     "401: token tk_Zt0kenSecret1 unknown"),
])
def test_an_apprise_target_secret_in_its_host_or_user_part_is_scrubbed(target, secret, echo):
    """A provider's answer echoing an Apprise URL's token (where a host or user name would be)
    keeps its words but not the token; nor does the target as printed."""
    scrubbed = redact_for_target(echo, target)
    assert secret not in scrubbed and "***" in scrubbed
    assert secret not in mask_target(target)
