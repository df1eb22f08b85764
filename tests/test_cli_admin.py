"""The admin CLI end to end, through the real ``monitor`` entry point in new processes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import run_cli
from tests.test_pipeline import rss, write_config


def ok(args: list[str], env: dict[str, str]) -> str:
    result = run_cli(args, env)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


def test_watchlists_subscriptions_and_the_remedy_board(feeds, slack, tmp_path, cli_env):
    created = json.loads(ok(["watchlist", "import", "--starter", "--json"], cli_env))
    assert len(created) == 7 and {r["result"] for r in created} == {"created"}
    ok(["watchlist", "add", "bivens-ice", "--query", "bivens ice", "--title", "Bivens v. ICE",
        "--pin", "us/119/s/3470", "--mute", "pro hac vice", "--on-status", "any"], cli_env)
    target = "slack:" + slack.url()
    assert "daily digest at 07:30 America/Chicago" in ok(
        ["subscribe", "bivens-ice", target, "--digest", "daily", "--at", "07:30", "--tz", "America/Chicago"], cli_env)
    subs = json.loads(ok(["subscriptions", "list", "--json"], cli_env))
    assert [(s["watchlist"], s["mode"], s["digest_at"], s["timezone"]) for s in subs] == [
        ("bivens-ice", "digest", "07:30", "America/Chicago")]
    assert "XXXXSECRET" not in json.dumps(subs)  # targets are masked
    ok(["watchlist", "pause", "bivens-ice"], cli_env)
    ok(["watchlist", "snooze", "bivens-ice", "2030-01-01"], cli_env)
    listed = {w["name"]: w for w in json.loads(ok(["watchlist", "list", "--json"], cli_env))}
    assert listed["bivens-ice"]["paused"] and listed["bivens-ice"]["snooze_until"].startswith("2030-01-01")
    assert listed["bivens-ice"]["pinned"] == ["us/119/s/3470"] and listed["bivens-ice"]["subscriptions"] == 1

    # Items to match: a feed polled once (the baseline stores without alerting).
    feeds.set("/opinions.xml", rss(("a1", "Bivens claim against ICE officers dismissed",
                                    "Egbert v. Boule, 596 U. S. 482 (2022)"), ("a2", "FTCA ruling")))
    write_config(Path(cli_env["MONITOR_CONFIG"]), feeds, "opinions")
    ok(["run", "--once"], cli_env)
    found = json.loads(ok(["items", "search", 'bivens cites:"596 U.S. 482"', "--json"], cli_env))
    assert [i["key"] for i in found] == ["rss:opinions:a1"]
    board = json.loads(ok(["watchlist", "show", "federal-legislation", "--json"], cli_env))
    assert [p["identity"] for p in board["pinned_status"]][:2] == ["us/119/s/3470", "us/119/s/3187"]
    board = json.loads(ok(["watchlist", "show", "bivens-ice", "--json"], cli_env))
    assert [i["key"] for i in board["latest"]] == ["rss:opinions:a1"] and board["on_status"] == "any"
    preview = json.loads(ok(["watchlist", "preview", "--query", "bivens OR ftca", "--json"], cli_env))
    assert preview["hits"] == 2 and preview["alerts"] == 0  # a baseline raises no alerts

    # Round trip through a file, after removing the watchlist.
    exported = tmp_path / "watchlists.yaml"
    ok(["watchlist", "export", "-o", str(exported)], cli_env)
    assert "bivens-ice" in ok(["unsubscribe", "bivens-ice", target], cli_env)
    ok(["watchlist", "remove", "bivens-ice", "--yes"], cli_env)
    results = {r["name"]: r["result"] for r in json.loads(ok(["watchlist", "import", str(exported), "--json"],
                                                              cli_env))}
    assert results["bivens-ice"] == "created" and results["bivens"] == "unchanged"
    assert ok(["watchlist", "export"], cli_env) == exported.read_text()
    assert yaml.safe_load(exported.read_text())["watchlists"][-1]["muted"] == ["pro hac vice"]


def test_errors_are_one_clear_line_with_the_right_exit_code(feeds, tmp_path, cli_env):
    feeds.set("/opinions.xml", rss(("a1", "Bivens claim")))
    write_config(Path(cli_env["MONITOR_CONFIG"]), feeds, "opinions")
    cases = [
        (["watchlist", "add", "bad", "--query", "bivens (ice"], 1, "error: missing ')' for the '(' at column 8"),
        (["watchlist", "show", "nope"], 1, "error: no watchlist named 'nope'"),
        (["subscribe", "nope", "pager:+15550100"], 1, "error: channel 'pager' is not available"),
        (["subscribe", "nope", "slack:https://x.test/h", "--digest", "daily", "--tz", "Mars/Olympus"], 2,
         "'Mars/Olympus' is not an IANA time zone"),
        (["subscribe", "nope", "slack:https://x.test/h", "--digest", "daily", "--at", "7:30"], 2, "HH:MM"),
        (["watchlist", "pin", "nope", "S. 3470"], 1, "must be slash-separated"),
        (["watchlist", "list", "--bogus"], 2, "No such option: --bogus"),
        (["sources", "check", "missing"], 1, "no source with id 'missing'"),
    ]
    for args, code, message in cases:
        result = run_cli(args, cli_env)
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    caret = run_cli(cases[0][0], cli_env).stderr.splitlines()
    assert caret[1:] == ["  bivens (ice", "             ^"]

    checked = json.loads(ok(["sources", "check", "opinions", "--json"], cli_env))
    assert checked["items"] == 1 and checked["records"][0]["key"] == "rss:opinions:a1"
    assert json.loads(ok(["items", "list", "--json"], cli_env)) == []  # a check stores nothing
