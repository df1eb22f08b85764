"""The admin CLI end to end through the real entry point (``run_cli``: ``monitor.cli.main`` in
this process, with the same parsing, exit codes and error lines as the console script)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli
from tests.test_pipeline import rss, write_config

Cli = Callable[..., tuple[int, str, str]]


def ok(args: list[str], env: dict[str, str]) -> str:
    result = run_cli(args, env)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Cli:
    def call(*args: str, code: int = 0) -> tuple[int, str, str]:
        result = run_cli(list(args), cli_env)
        assert result.returncode == code, (args, result.stderr)
        assert "Traceback" not in result.stderr
        return result.returncode, result.stdout, result.stderr

    return call


def test_main_flow_in_new_processes(feeds, slack, tmp_path, cli_env):
    created = json.loads(ok(["watchlist", "import", "--starter", "--json"], cli_env))
    assert len(created) == 7 and {r["result"] for r in created} == {"created"}
    ok(["watchlist", "add", "bivens-ice", "--query", "bivens ice", "--title", "Bivens v. ICE",
        "--pin", "us/119/s/3470", "--mute", "pro hac vice", "--on-status", "any"], cli_env)
    assert "daily digest at 07:30 America/Chicago" in ok(
        ["subscribe", "bivens-ice", "slack:" + slack.url(), "--digest", "daily", "--at", "07:30",
         "--tz", "America/Chicago"], cli_env)
    feeds.set("/opinions.xml", rss(("a1", "Bivens claim against ICE officers dismissed",
                                    "Egbert v. Boule, 596 U. S. 482 (2022)"), ("a2", "FTCA ruling")))
    write_config(Path(cli_env["MONITOR_CONFIG"]), feeds, "opinions")
    ok(["run", "--once"], cli_env)
    found = json.loads(ok(["items", "search", 'bivens cites:"596 U.S. 482"', "--json"], cli_env))
    assert [i["key"] for i in found] == ["rss:opinions:a1"]
    board = json.loads(ok(["watchlist", "show", "bivens-ice", "--json"], cli_env))
    assert [i["key"] for i in board["latest"]] == ["rss:opinions:a1"]
    assert board["pinned_status"] == [{"identity": "us/119/s/3470", "agree": True, "status": None,
                                       "status_source": None, "sources": [], "moves": []}]
    assert (board["on_status"], board["muted"], board["subscriptions"]) == ("any", ["pro hac vice"], 1)
    exported = tmp_path / "watchlists.yaml"
    ok(["watchlist", "export", "-o", str(exported)], cli_env)
    assert [w["name"] for w in yaml.safe_load(exported.read_text())["watchlists"]][-1] == "bivens-ice"
    results = json.loads(ok(["watchlist", "import", str(exported), "--json"], cli_env))
    assert {r["result"] for r in results} == {"unchanged"}
    failed = run_cli(["watchlist", "add", "bad", "--query", "bivens (ice"], cli_env)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.splitlines() == ["error: missing ')' for the '(' at column 8 (column 12)",
                                          "  bivens (ice", "             ^"]


def test_every_watchlist_and_subscription_command(cli, feeds, slack, tmp_path, cli_env):
    cli("watchlist", "add", "remedy", "--query", "bivens", "--pin", "us/119/s/3470")
    cli("watchlist", "pin", "remedy", "IL/104/HB/1312", "ca9/24-1234")
    cli("watchlist", "unpin", "remedy", "ca9/24-1234")
    cli("watchlist", "edit", "remedy", "--query", "bivens OR ftca", "--mute", "notice of appearance",
        "--no-on-new", "--on-field")
    cli("watchlist", "pause", "remedy")
    (row,) = json.loads(cli("watchlist", "list", "--json")[1])
    assert row["pinned"] == ["us/119/s/3470", "il/104/hb/1312"] and row["query"] == "bivens OR ftca"
    assert row["muted"] == ["notice of appearance"] and not row["on_new"] and row["on_field"] and row["paused"]
    cli("watchlist", "snooze", "remedy", "7d")
    assert json.loads(cli("watchlist", "list", "--json")[1])[0]["snooze_until"]
    cli("watchlist", "resume", "remedy")
    (row,) = json.loads(cli("watchlist", "list", "--json")[1])
    assert not row["paused"] and row["snooze_until"] is None
    cli("watchlist", "edit", "remedy", "--clear-muted")
    assert json.loads(cli("watchlist", "list", "--json")[1])[0]["muted"] == []

    target = "slack:" + slack.url()
    assert "(immediate)" in cli("subscribe", "remedy", target, "--immediate")[1]
    assert "already subscribed" in cli("subscribe", "remedy", target, code=1)[2]
    cli("subscribe", "remedy", "slack:" + slack.url("/other"), "--digest", "daily")
    subs = json.loads(cli("subscriptions", "list", "--watchlist", "remedy", "--json")[1])
    assert [(s["mode"], s["digest_at"], s["timezone"]) for s in subs] == [("immediate", None, None),
                                                                          ("digest", "07:30", "UTC")]
    assert "XXXXSECRET" not in json.dumps(subs)  # targets are masked
    cli("unsubscribe", str(subs[0]["id"]))
    cli("unsubscribe", "remedy", "slack:" + slack.url("/other"))
    assert json.loads(cli("subscriptions", "list", "--json")[1]) == []

    feeds.set("/opinions.xml", rss(*((f"a{n}", f"Bivens ruling {n}") for n in range(3))))
    write_config(Path(cli_env["MONITOR_CONFIG"]), feeds, "opinions")
    checked = json.loads(cli("sources", "check", "opinions", "--json")[1])
    assert checked["items"] == 3 and checked["records"][0]["key"] == "rss:opinions:a0"
    assert json.loads(cli("items", "list", "--json")[1]) == []  # a check stores nothing
    cli("run", "--once")  # the baseline: three items, no alerts
    feeds.set("/opinions.xml", rss(*((f"a{n}", f"Bivens ruling {n}") for n in range(40))))
    cli("run", "--once")  # 37 new items in one day
    preview = json.loads(cli("watchlist", "preview", "remedy", "--json")[1])
    assert (preview["hits"], preview["alerts"]) == (40, 0)  # remedy alerts on field changes only now
    preview = json.loads(cli("watchlist", "preview", "--query", "bivens", "--days", "7", "--json")[1])
    assert (preview["hits"], preview["alerts"], preview["too_many"]) == (40, 37, True)
    _, out, err = cli("watchlist", "add", "noisy", "--query", "bivens")
    # the feed's own pace: its 40 matching items are all dated the same day (37 of them alerted)
    assert "watchlist noisy created" in out and "would send about 40 alerts a day" in err
    _, out, err = cli("watchlist", "add", "quiet", "--query", '"ruling 7"')
    assert "warning" not in err

    cli("watchlist", "remove", "remedy", "--yes")
    assert [w["name"] for w in json.loads(cli("watchlist", "list", "--json")[1])] == ["noisy", "quiet"]


def test_watchlist_list_cuts_a_long_query_as_every_table_cuts_text(cli):
    """The query column is cut to 60 characters ending in "…", with no space left before it."""
    query = "immunity " * 6 + "ftca bivens"  # the cut falls just after a space
    cli("watchlist", "add", "long", "--query", query)
    _, out, _ = cli("watchlist", "list")
    assert out.splitlines()[1].split("\t")[-1] == query[:58] + "…"


@pytest.mark.parametrize(("args", "code", "message"), [
    (["watchlist", "add", "bad", "--query", "kind:bil"], 1, "error: unknown kind 'bil'"),
    (["watchlist", "add", "Bad Name"], 1, "is not a slug"),
    (["watchlist", "show", "nope"], 1, "error: no watchlist named 'nope'"),
    (["watchlist", "edit", "nope", "--on-status", "loud"], 1, "error: no watchlist named 'nope'"),
    (["watchlist", "snooze", "nope", "soon"], 2, "neither a duration"),
    (["watchlist", "pin", "nope", "S. 3470"], 1, "must be slash-separated"),
    (["watchlist", "preview"], 2, "give a watchlist NAME or --query"),
    (["watchlist", "import"], 2, "give a FILE or --starter"),
    (["watchlist", "import", "/nonexistent.yaml"], 1, "cannot read"),
    (["subscribe", "nope", "pager:+15550100"], 1, "error: channel 'pager' is not available"),
    (["subscribe", "nope", "hooks.slack.com/x"], 1, "must look like CHANNEL:ADDRESS"),
    (["subscribe", "nope", "slack:https://x.test/h", "--digest", "daily", "--tz", "Mars/Olympus"], 2,
     "'Mars/Olympus' is not an IANA time zone"),
    (["subscribe", "nope", "slack:https://x.test/h", "--digest", "daily", "--at", "7:30"], 2, "HH:MM"),
    (["subscribe", "nope", "slack:https://x.test/h", "--digest", "weekly"], 2, "the only digest is 'daily'"),
    (["subscribe", "nope", "slack:https://x.test/h", "--at", "07:30"], 2, "apply to --digest daily"),
    (["unsubscribe", "99"], 1, "no subscription 99"),
    (["items", "search", '"unclosed'], 1, "unterminated phrase"),
    (["watchlist", "list", "--bogus"], 2, "No such option: --bogus"),
    (["sources", "check", "missing"], 1, "no source with id 'missing'"),
])
def test_errors_are_one_clear_line_with_the_right_exit_code(cli, feeds, cli_env, args, code, message):
    write_config(Path(cli_env["MONITOR_CONFIG"]), feeds, "opinions")
    _, _, err = cli(*args, code=code)
    assert message in err


def test_feed_of_a_watchlist_without_subscriptions_says_it_stays_empty(cli, slack):
    """The Atom feed lists the alerts of the watchlist's subscriptions: a watchlist nobody subscribes
    to alerts no one, so its feed stays empty. `watchlist feed` says so instead of handing out a URL
    a feed reader will show empty forever."""
    cli("watchlist", "add", "bivens", "--query", "bivens")
    _, out, err = cli("watchlist", "feed", "bivens")
    assert "/feeds/bivens.atom?token=" in out
    assert "no subscription" in err and "monitor subscribe bivens" in err
    cli("subscribe", "bivens", "slack:" + slack.url())
    assert "no subscription" not in cli("watchlist", "feed", "bivens")[2]
