"""Issue 18, "the first hour": what a new user and an operator did, through the command line.

Each test repeats what the user did (the command, the environment, the mistake) and checks what
they would see: the exit code, the one line that explains, and what ended up in the database.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
from pathlib import Path

import pytest

from monitor.redact import mask_url, public_url, redact
from tests.conftest import run_cli, visit_service
from tests.forked import cli_process
from tests.reliability.helpers import rss

# ---- read-only commands never create a database -----------------------------------------------

READ_ONLY = [["items", "list"], ["items", "show", "x"], ["items", "show", "us/119/s/3470"], ["changes", "list"],
             ["alerts", "list"], ["alerts", "show", "1"], ["status"], ["watchlist", "list"],
             ["watchlist", "show", "bivens"], ["watchlist", "preview", "--query", "bivens"], ["watchlist", "export"],
             ["watchlist", "feed", "bivens"], ["subscriptions", "list"], ["items", "search", "bivens"],
             ["digest", "preview", "--email", "ana@example.org", "--out", "d.html"],
             # commands that change something that must already exist: nothing to change without a database
             ["watchlist", "edit", "bivens", "--query", "x"], ["watchlist", "remove", "bivens", "--yes"],
             ["watchlist", "pause", "bivens"], ["watchlist", "resume", "bivens"],
             ["watchlist", "snooze", "bivens", "7d"], ["watchlist", "pin", "bivens", "us/119/s/3470"],
             ["watchlist", "unpin", "bivens", "us/119/s/3470"], ["subscribe", "bivens", "webhook:https://h.example.org/x"],
             ["unsubscribe", "1"], ["alerts", "retry", "--all-failed"], ["alerts", "retry", "1"]]


@pytest.mark.parametrize("args", READ_ONLY, ids=lambda a: "-".join(a[:3]))
def test_read_only_command_in_a_wrong_place_creates_nothing(args: list[str], cli_env: dict[str, str],
                                                            tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.db"
    result = run_cli([*args, "--db", f"sqlite:///{elsewhere}"], cli_env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: no Remedy Monitor database here; run `monitor init` (sqlite:///{elsewhere})"]
    assert not elsewhere.exists()


def test_read_only_command_on_another_applications_database_leaves_it_alone(cli_env: dict[str, str],
                                                                            tmp_path: Path) -> None:
    import sqlite3

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    result = run_cli(["items", "list", "--db", f"sqlite:///{other}"], cli_env, cwd=tmp_path)
    assert result.returncode == 1 and "run `monitor init`" in result.stderr
    with sqlite3.connect(other) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert tables == ["notes"]


@pytest.mark.parametrize("args", [["items", "list"], ["init"], ["watchlist", "add", "x", "--query", "x"]])
def test_database_in_a_missing_directory_is_one_line(args: list[str], cli_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    result = run_cli([*args, "--db", f"sqlite:///{tmp_path}/no/such/dir/monitor.db"], cli_env, cwd=tmp_path)
    assert result.returncode == 1
    expected = (f"error: the database directory {tmp_path}/no/such/dir does not exist "
                f"(database URL sqlite:///{tmp_path}/no/such/dir/monitor.db)")
    assert result.stderr.strip().splitlines() == [expected]


@pytest.mark.parametrize(("args", "expected"), [
    (["items", "list", "--db", "postgresql+psycopg://monitor@127.0.0.1:9/monitor"],
     "error: cannot open the database postgresql+psycopg://***@127.0.0.1:9/monitor: connection failed: "),
    (["init", "--db", "postgresql+psycopg://monitor@127.0.0.1:9/monitor"],
     "error: cannot open the database postgresql+psycopg://***@127.0.0.1:9/monitor: connection failed: "),
    (["items", "list", "--db", "sqlite:///sources.yaml"],
     "error: cannot open the database sqlite:///sources.yaml: file is not a database"),
], ids=["postgres-down", "init-postgres-down", "not-a-database"])
def test_a_database_that_cannot_be_opened_is_one_line(args: list[str], expected: str, cli_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    """A database server that is not there, or a file that is no database: one line naming the
    URL and the cause, not an internal error."""
    (tmp_path / "sources.yaml").write_text("sources: []\n")
    result = run_cli(args, cli_env, cwd=tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(expected), line


def test_init_then_read_only_commands_work(cli_env: dict[str, str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    assert run_cli(["init", "--db", url], cli_env, cwd=tmp_path).returncode == 0
    result = run_cli(["items", "list", "--db", url, "--json"], cli_env, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [
    ["subscribe", "bivens", "webhook:https://hooks.example.org/remedy"],  # an INSERT carrying the whsec_ secret
    ["watchlist", "add", "ftca", "--query", "ftca"],
    ["unsubscribe", "1"],
], ids=["subscribe", "watchlist-add", "unsubscribe"])
def test_a_database_that_refuses_writes_is_one_line_without_the_statement(args: list[str], cli_env: dict[str, str],
                                                                          tmp_path: Path) -> None:
    """A database file the operator's account cannot write (a backup restored read-only): one line
    with the driver's reason, not the SQL statement and its parameters, which carried the new
    subscription's signing secret and unsubscribe token to stderr."""
    import os
    import subprocess

    db_file = tmp_path / "monitor.db"
    env = cli_env | {"MONITOR_DATABASE_URL": f"sqlite:///{db_file}"}
    assert run_cli(["watchlist", "add", "bivens", "--query", "bivens"], env, cwd=tmp_path).returncode == 0
    assert run_cli(["subscribe", "bivens", "webhook:https://h.example.org/x"], env, cwd=tmp_path).returncode == 0
    db_file.chmod(0o444)
    if os.geteuid() == 0 and (shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", str(db_file)], check=False, capture_output=True).returncode):
        pytest.skip("root ignores file modes and chattr +i is not available here")
    try:
        result = run_cli(args, env, cwd=tmp_path)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(db_file)], check=True)
        db_file.chmod(0o644)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: the database sqlite:///{db_file} refused the change: attempt to write a readonly database"]
    assert "whsec_" not in result.stderr
    assert [s["target"] for s in _subscriptions(env, tmp_path)] == ["webhook:https://h.example.org/***"]


# ---- masking hides secrets, not paths ---------------------------------------------------------

def test_masking_keeps_paths_and_example_urls() -> None:
    assert redact("HTTP 404 from http://127.0.0.1:18080/feeds/ca9.xml") == "HTTP 404 from http://127.0.0.1:18080/feeds/ca9.xml"
    assert redact("see https://sqlalche.me/e/20/e3q8") == "see https://sqlalche.me/e/20/e3q8"
    assert redact("e.g. smtp://mail.example.org:587") == "e.g. smtp://mail.example.org:587"


@pytest.mark.parametrize(("args", "example"), [
    (["items", "list", "--db", "foo://x"], "postgresql+psycopg://user@host/db"),
    (["items", "list", "--db", "postgresql+psycopg://u@h:x/db"], "postgresql+psycopg://user@host/db"),
])
def test_errors_show_their_examples_unmasked(args: list[str], example: str, cli_env: dict[str, str],
                                             tmp_path: Path) -> None:
    """An example in an error (the user-info placeholder of a URL) is not a secret to mask."""
    result = run_cli(args, cli_env, cwd=tmp_path)
    assert result.returncode == 1 and "***" not in result.stderr, result.stderr
    assert example in result.stderr


def test_masking_keeps_placeholders_and_hides_real_user_info() -> None:
    for example in ("smtp://user:pass@mail.example.org:587?starttls=1", "smtps://user:password@host:465",
                    "postgresql+psycopg://user@host/db"):
        assert redact(f"e.g. {example}") == f"e.g. {example}"
    assert redact("smtp://ana:hunter22@mail.example.org:587") == "smtp://***@mail.example.org:587"
    assert redact("postgresql+psycopg://monitor:pw@db/monitor") == "postgresql+psycopg://***@db/monitor"


@pytest.mark.parametrize(("text", "secret"), [
    ("slack https://hooks.slack.com/services/T0/B0/SECRETPART1 failed", "SECRETPART1"),
    ("https://discord.com/api/webhooks/123/SECRETPART2", "SECRETPART2"),
    ("GET https://api.legiscan.com/?key=SECRETPART3&op=getBill", "SECRETPART3"),
    ("https://h.example.org/feed?auth_token=SECRETPART4&q=bivens", "SECRETPART4"),
    ("https://h.example.org/feed?api-key=SECRETPART5", "SECRETPART5"),
    ("https://h.example.org/feed?sig=SECRETPART6", "SECRETPART6"),
    ("https://h.example.org/feed?password=SECRETPART7", "SECRETPART7"),
    ("postgresql+psycopg://monitor:SECRETPART8@db/monitor", "SECRETPART8"),
    ("https://h.example.org/hooks/a1B2c3D4e5F6g7H8i9J0kL", "a1B2c3D4e5F6g7H8i9J0kL"),
    ("Authorization: Token SECRETPART9", "SECRETPART9"),
])
def test_masking_hides_secrets(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_public_url_drops_credentials_and_keeps_the_rest() -> None:
    assert public_url("http://ana:pw@h.example.org/feed.xml?q=bivens&auth_token=t&sig=s") == \
        "http://h.example.org/feed.xml?q=bivens"
    assert public_url("https://www.oig.dhs.gov/rss.xml") == "https://www.oig.dhs.gov/rss.xml"
    assert mask_url("http://ana:pw@h.example.org/f?q=x&token=t") == "http://***@h.example.org/f?q=x&token=***"


def test_connect_error_shows_the_url_and_the_cause(cli_env: dict[str, str], tmp_path: Path) -> None:
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        "sources:\n  - id: gone\n    kind: rss\n    url: http://127.0.0.1:9/feeds/gone.xml\n")
    result = run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    [line] = [line for line in result.stdout.splitlines() if line.startswith("gone:")]
    assert line == "gone: FAILED: fetch: network error fetching http://127.0.0.1:9/feeds/gone.xml: ConnectError: " \
        "Connection refused"  # the cause, without -v
    assert "***" not in result.stdout


def test_an_http_error_shows_the_path_that_failed(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    """A 404 names the URL as configured (which path?), without its token."""
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - id: gone\n    kind: rss\n    url: {feeds.url('/feeds/ca9.xml')}?q=bivens&token=SECRETVALUE2\n")
    result = run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    [line] = [line for line in result.stdout.splitlines() if line.startswith("gone:")]
    assert line == f"gone: FAILED: fetch: HTTP 404 from {feeds.url('/feeds/ca9.xml')}?q=bivens"
    assert "SECRETVALUE2" not in result.stdout + result.stderr


# ---- run --once during a total outage ----------------------------------------------------------

OUTAGE = """\
providers:
  local: {hosts: [127.0.0.1], per_minute: 3}
sources:
  - id: down-a
    kind: rss
    url: http://127.0.0.1:9/a.xml
  - id: down-b
    kind: rss
    url: http://127.0.0.1:9/b.xml
"""


def test_run_once_during_a_total_outage_fails_every_time(cli_env: dict[str, str], tmp_path: Path) -> None:
    """Failed connections spend the provider's budget; the next pass is all "deferred". A cron
    job must see a failure both times, and the output must say what was not polled."""
    Path(cli_env["MONITOR_CONFIG"]).write_text(OUTAGE)
    first = run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr
    second = run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    assert second.returncode == 1, second.stdout + second.stderr
    assert "NOT POLLED, deferred" in second.stdout
    assert "not polled: down-a, down-b" in second.stdout
    assert "0 seen" not in second.stdout
    assert "no source was polled successfully" in second.stderr
    as_json = run_cli(["run", "--once", "--json"], cli_env, cwd=tmp_path)
    assert as_json.returncode == 1 and '"not_polled": [' in as_json.stdout


def test_run_once_fails_once_a_partial_outage_has_lasted(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    """One source of two is down. A blip (its first failed poll) is listed and exits 0; once it has
    failed ``alert_after_failures`` passes in a row (its incident is open: the admin notice went out)
    the pass exits 1 naming it, so a cron job hears of an outage, not only of a total one; it
    exits 0 again once the source is back."""
    feeds.set("/ok.xml", rss(("a1", "One")))
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        "defaults:\n  alert_after_failures: 2\nsources:\n"
        f"  - id: ok\n    kind: rss\n    url: {feeds.url('/ok.xml')}\n"
        f"  - id: down\n    kind: rss\n    url: {feeds.url('/down.xml')}\n")
    feeds.set("/down.xml", "upstream failure", status=404, content_type="text/plain")
    blip = run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    assert blip.returncode == 0 and "down: FAILED" in blip.stdout, blip.stdout + blip.stderr
    lasting = run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    assert lasting.returncode == 1, lasting.stdout + lasting.stderr
    assert "error: 1 source is failing or silent: down (failed 2 polls in a row); see `monitor status`" \
        in lasting.stderr
    feeds.set("/down.xml", rss(("d1", "Back")))
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0


def test_run_once_with_every_source_missing_its_key_fails(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A cron job whose environment lacks the key: every source is skipped, nothing is watched,
    and the job must not see success. A config with no source at all (a delivery pass) still can."""
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        "sources:\n  - id: bills\n    kind: congress_bill\n    congress: 119\n    bills: [S. 3470]\n")
    env = {k: v for k, v in cli_env.items() if k != "CONGRESS_API_KEY"}
    result = run_cli(["run", "--once"], env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == \
        "0 of 1 sources polled, 1 skipped: `monitor doctor` says why and what to do"
    assert "no source was polled successfully" in result.stderr
    Path(cli_env["MONITOR_CONFIG"]).write_text("sources: []\n")
    assert run_cli(["run", "--once"], env, cwd=tmp_path).returncode == 0


def test_a_failed_connection_whose_retry_is_out_of_budget_is_a_failure(cli_env: dict[str, str],
                                                                       tmp_path: Path) -> None:
    """The attempt failed to connect and its retry no longer fits the budget: the poll failed
    (with its cause), it was not merely "deferred" as if the budget were the only trouble, and
    the failure counts toward the source's incident. The summary does not call it polled."""
    import json

    Path(cli_env["MONITOR_CONFIG"]).write_text(
        "providers:\n  local: {hosts: [127.0.0.1], per_minute: 1}\n"
        "sources:\n  - id: down\n    kind: rss\n    url: http://127.0.0.1:9/down.xml\n")
    result = run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    assert result.returncode == 1
    [line] = [line for line in result.stdout.splitlines() if line.startswith("down:")]
    assert line.startswith("down: FAILED: fetch: network error fetching http://127.0.0.1:9/down.xml: ConnectError: "
                           "Connection refused; not retried"), line
    assert "not retried: local: 1 requests per minute spent" in line
    assert result.stdout.splitlines()[-1] == "0 of 1 sources polled, 1 failed"
    [row] = json.loads(run_cli(["status", "--json"], cli_env, cwd=tmp_path).stdout)
    assert row["last_outcome"] == "failed" and row["consecutive_failures"] == 1


@pytest.mark.parametrize(("only", "expected"), [
    ("c9-opinions", "error: sources.yaml: no source with id 'c9-opinions'"),  # a typo in a cron line
    ("paused-feed", "error: sources.yaml: source 'paused-feed' is disabled (enabled: false); nothing to poll"),
])
def test_run_once_of_a_source_it_cannot_poll_is_an_error_not_a_quiet_pass(
        only: str, expected: str, cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    """``run --once -s ID`` with an id that is not there, or is disabled, polled nothing and
    exited 0: a cron job with a typo watched nothing for ever and heard nothing of it."""

    feeds.set("/f.xml", rss(("a1", "Only entry")))
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - id: ca9-opinions\n    kind: rss\n    url: {feeds.url('/f.xml')}\n"
        f"  - id: paused-feed\n    kind: rss\n    url: {feeds.url('/f.xml')}\n    enabled: false\n")
    result = run_cli(["run", "--once", "-s", "ca9-opinions", "-s", only], cli_env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [expected]
    assert not feeds.requests  # refused before anything was polled
    good = run_cli(["run", "--once", "-s", "ca9-opinions"], cli_env, cwd=tmp_path)
    assert good.returncode == 0 and "ca9-opinions: baseline: 1 item stored" in good.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_run_once_killed_mid_poll_does_not_hold_the_source_from_the_next_run(
        sig: signal.Signals, cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    """``timeout 60 monitor run --once`` from cron, stopped while a source hangs: the next run
    polls it. Before: for the lease's 2 minutes it said ``skipped: a poll of it is running``
    (leased by the dead process), polled nothing and exited 0."""
    from tests.fakes.http_server import Reply

    release = threading.Event()

    def hangs(_request: object) -> Reply:
        release.wait(30)
        return Reply(200, rss(("a1", "Entry")), {"Content-Type": "application/rss+xml"})

    feeds.route("/f.xml", hangs)
    Path(cli_env["MONITOR_CONFIG"]).write_text(f"sources:\n  - id: f\n    kind: rss\n    url: {feeds.url('/f.xml')}\n")
    assert run_cli(["init"], cli_env, cwd=tmp_path).returncode == 0
    try:
        with cli_process(["run", "--once"], cli_env, cwd=tmp_path) as child:
            assert feeds.wait_requests(1, timeout=60)
            os.kill(child.pid, sig)
            child.join(30)
    finally:
        release.set()
    feeds.set("/f.xml", rss(("a1", "Entry")))
    result = run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "f: baseline: 1 item stored" in result.stdout


def test_run_once_wording_for_one_item(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:

    feeds.set("/one.xml", rss(("a1", "Only entry")))
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - id: one\n    kind: rss\n    url: {feeds.url('/one.xml')}\n")
    result = run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "one: baseline: 1 item stored" in result.stdout


def test_run_once_counts_an_alert_sent_on_its_retry_as_sent_only(cli_env: dict[str, str], feeds, slack,
                                                                 tmp_path: Path) -> None:
    """Slack answered 429 (Retry-After: 0), then took the alert within the same pass: one alert,
    sent, nothing left to retry (the line used to count the attempt: '1 sent, 1 to retry')."""

    feeds.set("/f.xml", rss(("a1", "Other")))
    Path(cli_env["MONITOR_CONFIG"]).write_text(f"sources:\n  - id: f\n    kind: rss\n    url: {feeds.url('/f.xml')}\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    _watchlist(cli_env, tmp_path)
    assert run_cli(["subscribe", "bivens", "slack:" + slack.url()], cli_env, cwd=tmp_path).returncode == 0
    slack.queue(429, "rate_limited", {"Retry-After": "0"})
    feeds.set("/f.xml", rss(("a2", "A Bivens claim"), ("a1", "Other")))
    result = run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(slack.requests) == 2
    assert "deliveries: 1 sent, 0 to retry, 0 failed" in result.stdout


@pytest.mark.parametrize(("status", "body"), [(404, "no_service"), (410, "channel_is_archived"),
                                            (403, "action_prohibited")])
def test_run_once_fails_when_an_alert_could_not_be_delivered_for_good(
        status: int, body: str, cli_env: dict[str, str], feeds, slack, tmp_path: Path) -> None:
    """Slack refused the alert for good (the subscription is now disabled): the sources were
    polled, but a cron job must not read the pass as success, and stderr says what to do."""

    feeds.set("/f.xml", rss(("a1", "Other")))
    Path(cli_env["MONITOR_CONFIG"]).write_text(f"sources:\n  - id: f\n    kind: rss\n    url: {feeds.url('/f.xml')}\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    _watchlist(cli_env, tmp_path)
    assert run_cli(["subscribe", "bivens", "slack:" + slack.url()], cli_env, cwd=tmp_path).returncode == 0
    slack.queue(status, body)
    feeds.set("/f.xml", rss(("a2", "A Bivens claim"), ("a1", "Other")))
    result = run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "deliveries: 0 sent, 0 to retry, 1 failed" in result.stdout
    assert (f"error: 1 alert could not be delivered ({status} {body}); "
            "see `monitor alerts list --failed`") in result.stderr.splitlines()
    quiet = run_cli(["run", "--once"], cli_env, cwd=tmp_path)  # nothing new failed: a quiet pass again
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr


# ---- email and admin settings: refused at subscribe time, never a disabled subscriber ----------

def _watchlist(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run_cli(["watchlist", "add", "bivens", "--query", "bivens"], cli_env, cwd=tmp_path).returncode == 0


def _subscriptions(cli_env: dict[str, str], tmp_path: Path) -> list[dict[str, object]]:
    import json

    listed = run_cli(["subscriptions", "list", "--json"], cli_env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


@pytest.mark.parametrize(("env", "target", "expected"), [
    ({"MONITOR_PUBLIC_URL": "https://monitor.example.org"}, "email:ana@example.org",
     "email needs MONITOR_SMTP_URL, e.g. smtp://user:pass@mail.example.org:587?starttls=1"),
    ({"MONITOR_SMTP_URL": "smtp://127.0.0.1:25"}, "email:ana@example.org", "email needs MONITOR_PUBLIC_URL"),
    ({"MONITOR_SMTP_URL": "smtp://127.0.0.1:25", "MONITOR_PUBLIC_URL": "https://m.example.org"}, "email:ana@example",
     "'example' is not a full domain name"),
], ids=["no-smtp", "no-public-url", "no-tld"])
def test_email_subscription_is_refused_when_it_could_not_work(env: dict[str, str], target: str, expected: str,
                                                              cli_env: dict[str, str], tmp_path: Path) -> None:
    _watchlist(cli_env, tmp_path)
    result = run_cli(["subscribe", "bivens", target], cli_env | env, cwd=tmp_path)
    assert result.returncode == 1
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _subscriptions(cli_env, tmp_path) == []


@pytest.mark.usefixtures("quick_first_retry")
def test_a_lost_smtp_setting_holds_alerts_and_keeps_the_subscriber(cli_env: dict[str, str], feeds,
                                                                    tmp_path: Path) -> None:
    """The operator subscribed an address, then restarted without MONITOR_SMTP_URL: the alert is
    held (to retry), the subscription stays enabled, and nothing counts as failed."""

    feeds.set("/f.xml", rss(("a1", "Other")))
    Path(cli_env["MONITOR_CONFIG"]).write_text(f"sources:\n  - id: f\n    kind: rss\n    url: {feeds.url('/f.xml')}\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    _watchlist(cli_env, tmp_path)
    mail = {"MONITOR_SMTP_URL": "smtp://127.0.0.1:9", "MONITOR_PUBLIC_URL": "https://monitor.example.org"}
    assert run_cli(["subscribe", "bivens", "email:ana@example.org"], cli_env | mail, cwd=tmp_path).returncode == 0
    feeds.set("/f.xml", rss(("a2", "A Bivens claim"), ("a1", "Other")))
    result = run_cli(["run", "--once"], cli_env | {"MONITOR_PUBLIC_URL": "https://monitor.example.org"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "deliveries: 0 sent, 1 to retry, 0 failed" in result.stdout
    [sub] = _subscriptions(cli_env, tmp_path)
    assert sub["enabled"] is True and sub["disabled_reason"] is None
    import json

    [alert] = json.loads(run_cli(["alerts", "list", "--json"], cli_env, cwd=tmp_path).stdout)
    assert alert["state"] == "pending"
    assert alert["last_error"].startswith("held until the operator fixes it: email needs MONITOR_SMTP_URL")


@pytest.mark.usefixtures("quick_first_retry")
def test_a_lost_public_url_holds_email_rather_than_send_it_without_unsubscribe(
        cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    """Subscribed with MONITOR_PUBLIC_URL set, then restarted without it: the alert is held (no
    mail without its List-Unsubscribe, from monitor@localhost), and the subscriber keeps it."""
    import json

    from tests.fakes.smtp_server import Mailbox, smtp_server

    feeds.set("/f.xml", rss(("a1", "Other")))
    Path(cli_env["MONITOR_CONFIG"]).write_text(f"sources:\n  - id: f\n    kind: rss\n    url: {feeds.url('/f.xml')}\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    _watchlist(cli_env, tmp_path)
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        smtp = cli_env | {"MONITOR_SMTP_URL": f"smtp://127.0.0.1:{port}"}
        subscribed = run_cli(["subscribe", "bivens", "email:ana@example.org"],
                             smtp | {"MONITOR_PUBLIC_URL": "https://monitor.example.org"}, cwd=tmp_path)
        assert subscribed.returncode == 0, subscribed.stderr
        feeds.set("/f.xml", rss(("a2", "A Bivens claim"), ("a1", "Other")))
        result = run_cli(["run", "--once"], smtp, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert mailbox.messages == []
    assert "deliveries: 0 sent, 1 to retry, 0 failed" in result.stdout  # one alert, however often it was tried
    [sub] = _subscriptions(cli_env, tmp_path)
    assert sub["enabled"] is True
    [alert] = json.loads(run_cli(["alerts", "list", "--json"], cli_env, cwd=tmp_path).stdout)
    assert alert["state"] == "pending"
    assert alert["last_error"].startswith("held until the operator fixes it: email needs MONITOR_PUBLIC_URL")


@pytest.mark.parametrize(("mail_from", "domain"), [
    ({"MONITOR_MAIL_FROM": "Remedy Monitor <alerts@mail.example.org>"}, "mail.example.org"),
    ({}, "monitor.example.org"),  # no sender set: the service's own public host, never "localhost"
], ids=["mail-from", "public-url"])
def test_an_email_alert_carries_its_unsubscribe_and_a_real_message_id(
        mail_from: dict[str, str], domain: str, db, cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    """Subscribed through the CLI, the mail that arrives has a Message-ID at a real domain and a
    List-Unsubscribe link; a browser opening that link sees the form and unsubscribes nothing,
    and the mail client's one-click POST unsubscribes."""
    import subprocess

    from tests.fakes.smtp_server import Mailbox, smtp_server

    feeds.set("/f.xml", rss(("a1", "Other")))
    config = Path(cli_env["MONITOR_CONFIG"])
    config.write_text(f"sources:\n  - id: f\n    kind: rss\n    url: {feeds.url('/f.xml')}\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    _watchlist(cli_env, tmp_path)
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        env = cli_env | mail_from | {"MONITOR_SMTP_URL": f"smtp://127.0.0.1:{port}",
                                     "MONITOR_PUBLIC_URL": "https://monitor.example.org"}
        assert run_cli(["subscribe", "bivens", "email:ana@example.org"], env, cwd=tmp_path).returncode == 0
        feeds.set("/f.xml", rss(("a2", "A Bivens claim"), ("a1", "Other")))
        result = run_cli(["run", "--once"], env, cwd=tmp_path)
    assert result.returncode == 0 and "deliveries: 1 sent" in result.stdout, result.stdout + result.stderr
    [mail] = mailbox.messages
    assert str(mail["Message-ID"]).endswith(f"@{domain}>")
    assert str(mail["From"]).endswith(f"@{domain}>")
    link = str(mail["List-Unsubscribe"]).strip().strip("<>")
    assert link.startswith("https://monitor.example.org/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    http = socket.create_server(("127.0.0.1", 0))
    local = link.replace("https://monitor.example.org", f"http://127.0.0.1:{http.getsockname()[1]}")
    chromium = shutil.which("chromium")

    def visit(client):  # type: ignore[no-untyped-def]
        page = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", local],
                              capture_output=True, text=True, timeout=60, check=False).stdout if chromium else None
        still = _subscriptions(cli_env, tmp_path)
        return page, still, client.post(local, data={"List-Unsubscribe": "One-Click"})

    page, still, one_click = visit_service(db, config, http, visit)
    if page is not None:
        assert '<form method="post"' in page and "Stop alerts for" in page
    assert [sub["enabled"] for sub in still] == [True]  # opening the link changed nothing
    assert one_click.status_code == 200
    assert [sub["enabled"] for sub in _subscriptions(cli_env, tmp_path)] in ([], [False])


def test_no_admin_target_is_not_a_failed_delivery(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A fresh install without MONITOR_ADMIN_TARGET and a source that keeps failing: the incident's
    admin notice is logged, not recorded as a failed delivery."""
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        "defaults:\n  alert_after_failures: 1\nsources:\n  - id: down\n    kind: rss\n    url: http://127.0.0.1:9/x.xml\n")
    result = run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    assert result.returncode == 1
    assert "deliveries: 0 sent, 0 to retry, 0 failed" in result.stdout
    assert "admin notice (set MONITOR_ADMIN_TARGET to receive these)" in result.stderr
    failed = run_cli(["alerts", "list", "--failed", "--json"], cli_env, cwd=tmp_path)
    assert failed.returncode == 0 and failed.stdout.strip() == "[]"


# ---- help, version and the small mistakes -------------------------------------------------------

def test_version(cli_env: dict[str, str]) -> None:
    from monitor import __version__

    result = run_cli(["--version"], cli_env)
    assert result.returncode == 0 and result.stdout.strip() == f"remedy-monitor {__version__}"


def _every_command() -> list[list[str]]:
    from monitor.cli import command

    def walk(cmd: object, path: list[str]) -> list[list[str]]:
        subcommands = getattr(cmd, "commands", None)
        if not subcommands:
            return [path]
        return [found for name, sub in subcommands.items() for found in walk(sub, [*path, name])]

    return walk(command(), [])


@pytest.mark.parametrize("command", _every_command(), ids=" ".join)
def test_help_shows_plain_metavars(command: list[str], cli_env: dict[str, str]) -> None:
    """Arguments and options are named as the usage line names them (NAME, N, URL), never by a
    Python type (`<str>`, `<list[str]>`, `<int range>`), and a number's bounds are not `1<=x<=…`."""
    import re

    result = run_cli([*command, "--help"], cli_env)
    assert result.returncode == 0
    assert "***" not in result.stdout  # an example URL is no secret
    described = result.stdout.split("Arguments:" if "Arguments:" in result.stdout else "Options:", 1)[1]
    assert not re.search(r"<(bool|str|int|float|file|path|text|choice|datetime|list\[)", described), described
    assert not re.search(r"\bx\s*[<>]=|<=\s*x\b", described), described


def test_watchlist_remove_without_a_terminal_says_pass_yes(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run_cli(["watchlist", "add", "ftca", "--query", "ftca"], cli_env, cwd=tmp_path).returncode == 0
    result = run_cli(["watchlist", "remove", "ftca"], cli_env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: not removed: confirm with `monitor watchlist remove ftca --yes` (no terminal to ask on)")
    assert run_cli(["watchlist", "remove", "ftca", "--yes"], cli_env, cwd=tmp_path).returncode == 0


EXAMPLES = "(targets look like slack:https://hooks.slack.com/…, email:alice@example.org, webhook:https://…)"


@pytest.mark.parametrize(("target", "expected"), [
    ("https://hooks.slack.com/services/T000/B000/XXXX",
     f"error: a target names its channel: slack:https://hooks.slack.com/services/*** {EXAMPLES}"),
    ("https://receiver.example.org/hook",
     f"error: a target names its channel: webhook:https://receiver.example.org/*** {EXAMPLES}"),
    ("ana@example.org", f"error: a target names its channel: email:ana@example.org {EXAMPLES}"),
    ("slack:hooks.slack.com/services/T000/B000/XXXX",
     "error: slack: needs a full URL with https://, e.g. slack:https://hooks.slack.com/services/***"),
])
def test_a_target_without_its_prefix_or_scheme_says_what_to_write(target: str, expected: str,
                                                                  cli_env: dict[str, str], tmp_path: Path) -> None:
    _watchlist(cli_env, tmp_path)
    result = run_cli(["subscribe", "bivens", target], cli_env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == expected  # the examples as written: "…" is no secret to mask
    assert "XXXX" not in result.stderr
    assert _subscriptions(cli_env, tmp_path) == []


# ---- what an operator expects: /metrics and JSON logs ------------------------------------------

@pytest.mark.usefixtures("quick_first_retry")
def test_metrics_endpoint_of_the_running_service(db, cli_env: dict[str, str], feeds, slack,
                                                  tmp_path: Path) -> None:
    """After a baseline, a pass with one new item (sent to Slack, held for a dead webhook) and a
    dead source, the running service's /metrics says so in the Prometheus text format: polls by
    outcome, failures in a row, items, changes, deliveries by state, the queue's depth and the
    last success per source, to the second; an unconfigured push endpoint is not a source."""
    import json
    import time


    feeds.set("/ok.xml", rss(("a1", "One"), ("a2", "Two")))
    config = Path(cli_env["MONITOR_CONFIG"])
    config.write_text(f"sources:\n  - id: ok\n    kind: rss\n    url: {feeds.url('/ok.xml')}\n"
                      "  - id: down\n    kind: rss\n    url: http://127.0.0.1:9/x.xml\n")
    before = time.time()
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    _watchlist(cli_env, tmp_path)
    for target in ("slack:" + slack.url(), "webhook:http://127.0.0.1:9/hook"):
        assert run_cli(["subscribe", "bivens", target], cli_env, cwd=tmp_path).returncode == 0
    feeds.set("/ok.xml", rss(("a3", "A Bivens claim"), ("a1", "One"), ("a2", "Two")))
    second = run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    assert "ok: 3 seen, 1 new" in second.stdout, second.stdout + second.stderr
    after = time.time()

    response = visit_service(db, config, socket.create_server(("127.0.0.1", 0)), lambda c: c.get("/metrics"))
    text, content_type = response.text, response.headers["Content-Type"]
    assert text is not None and content_type.startswith("text/plain; version=0.0.4")
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
               for line in text.splitlines() if line and not line.startswith("#")}
    assert samples['remedy_polls_total{source="down",outcome="failed"}'] >= 2
    assert samples['remedy_polls_total{source="ok",outcome="changed"}'] >= 2
    assert samples['remedy_source_consecutive_failures{source="down"}'] >= 2
    assert samples['remedy_source_consecutive_failures{source="ok"}'] == 0
    assert samples['remedy_items{source="ok"}'] == 3
    assert before - 1 <= samples['remedy_source_last_success_timestamp_seconds{source="ok"}'] <= after + 1
    assert 'remedy_source_last_success_timestamp_seconds{source="down"}' not in samples
    assert samples['remedy_changes_total{type="new"}'] == 1
    assert samples['remedy_deliveries{state="sent"}'] == 1 and samples['remedy_deliveries{state="pending"}'] == 1
    assert samples["remedy_delivery_queue_depth"] == 1
    assert "# TYPE remedy_changes_total counter" in text and "# TYPE remedy_deliveries gauge" in text
    assert "courtlistener-webhooks" not in text  # MONITOR_HOOK_SECRET unset: no such source
    json.dumps(samples)  # every value is a plain number


def test_log_format_json(cli_env: dict[str, str], tmp_path: Path) -> None:
    import json

    Path(cli_env["MONITOR_CONFIG"]).write_text(
        "sources:\n  - id: down\n    kind: rss\n    url: http://127.0.0.1:9/x.xml?token=SECRETVALUE1\n")
    result = run_cli(["run", "--once", "--log-format", "json"], cli_env, cwd=tmp_path)
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= set(entry) for entry in lines)
    assert any(entry["level"] in ("WARNING", "ERROR") and "down" in entry["message"] for entry in lines)
    assert "SECRETVALUE1" not in result.stderr + result.stdout


# ---- finding items: filters, identities, no silent cap --------------------------------------------

BILLS_AND_ENTRIES = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><guid>e1</guid><title>Entry one</title><link>https://example.org/e1</link></item>
<item><guid>e2</guid><title>Entry two</title><link>https://example.org/e2</link></item>
<item><guid>e3</guid><title>Bivens entry three</title><link>https://example.org/e3</link></item>
</channel></rss>"""


def _seed_feed(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    feeds.set("/e.xml", BILLS_AND_ENTRIES)
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - id: entries\n    kind: rss\n    url: {feeds.url('/e.xml')}\n    item_kind: entry\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0


def test_items_list_says_how_many_it_did_not_show(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    _seed_feed(cli_env, feeds, tmp_path)
    result = run_cli(["items", "list", "--limit", "2"], cli_env, cwd=tmp_path)
    assert result.returncode == 0
    assert "showing 2 of 3 items" in result.stderr
    full = run_cli(["items", "list"], cli_env, cwd=tmp_path)
    assert "showing" not in full.stderr


def test_items_list_filters(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    import json

    _seed_feed(cli_env, feeds, tmp_path)
    assert run_cli(["watchlist", "add", "bivens", "--query", "bivens"], cli_env, cwd=tmp_path).returncode == 0

    def titles(*args: str) -> list[str]:
        result = run_cli(["items", "list", "--json", *args], cli_env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return sorted(entry["title"] for entry in json.loads(result.stdout))

    assert titles("--kind", "entry") == ["Bivens entry three", "Entry one", "Entry two"]
    assert titles("--kind", "bill") == []
    assert titles("--watchlist", "bivens") == ["Bivens entry three"]
    assert titles("--since", "2000-01-01") == ["Bivens entry three", "Entry one", "Entry two"]
    assert titles("--since", "2999-01-01") == []
    assert titles("--status", "decided") == []
    assert titles("--identity", "nowhere/*") == []


def test_items_list_unknown_source_is_an_error(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    _seed_feed(cli_env, feeds, tmp_path)
    result = run_cli(["items", "list", "--source", "nope"], cli_env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no source 'nope' (see `monitor sources list` or `monitor status`)"


@pytest.mark.parametrize(("args", "expected"), [
    (["--kind", "bills"], "error: unknown kind 'bills' (expected one of: article, bill, docket, document, entry"),
    (["--status", "in-committee"], "error: unknown status 'in-committee' (expected one of: "),
    (["--watchlist", "nope"], "error: no watchlist named 'nope'"),
])
def test_items_list_a_mistyped_filter_is_an_error(args: list[str], expected: str, cli_env: dict[str, str], feeds,
                                                  tmp_path: Path) -> None:
    """A typo in a filter is said, as `--source nope` is: an empty table would read as "nothing"."""
    _seed_feed(cli_env, feeds, tmp_path)
    result = run_cli(["items", "list", *args], cli_env, cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(expected) and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_items_show_by_identity(cli_env: dict[str, str], db, tmp_path: Path) -> None:
    """`items show us/119/s/3470` finds the bill; two providers' items of one bill are shown side by side."""
    from monitor.models import Item, Source

    with db.session() as session:
        session.add_all([Source(id="congress", kind="congress_bill"), Source(id="openstates", kind="openstates")])
        session.flush()
        session.add_all([
            Item(key="congress:us/119/s/3470", source_id="congress", kind="bill", identity="us/119/s/3470",
                 title="Bivens Act of 2025", status="in_committee", content_hash="a"),
            Item(key="openstates:x", source_id="openstates", kind="bill", identity="us/119/s/3470",
                 title="Bivens Act of 2025", status="introduced", content_hash="b"),
        ])
    result = run_cli(["items", "show", "us/119/s/3470"], cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "identity: us/119/s/3470" in result.stdout and "PROVIDERS DISAGREE" in result.stdout
    assert "openstates:x" in result.stdout and "congress:us/119/s/3470" in result.stdout
    padded = run_cli(["items", "show", "US/119/S/03470"], cli_env, cwd=tmp_path)  # written as a pin may be
    assert padded.returncode == 0 and "identity: us/119/s/3470" in padded.stdout, padded.stderr
    missing = run_cli(["items", "show", "us/119/s/9999"], cli_env, cwd=tmp_path)
    assert missing.returncode == 1 and "no item with key or identity 'us/119/s/9999'" in missing.stderr


def pacer_feed(count: int, published: str) -> str:
    """A district court's PACER "Recent Entries" feed: ``count`` entries of one case, all at ``published``."""
    items = "".join(
        f"<item><title>1:18-cv-03365 Chau v. Donovan et al</title>"
        f"<link>https://ecf.nysd.uscourts.gov/cgi-bin/DktRpt.pl?492165</link>"
        f"<description>[Notice of Appearance] (&#x3C;a href=&#x22;https://ecf.nysd.uscourts.gov/doc1/12712226{n:04}"
        f"&#x22; &#x3E;{n + 1}&#x3C;/a&#x3E;)</description>"
        f"<guid isPermaLink=\"true\">https://ecf.nysd.uscourts.gov/cgi-bin/DktRpt.pl?492165&#x26;{n + 1}</guid>"
        f"<pubDate>{published}</pubDate></item>" for n in range(count))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>SDNY</title>{items}</channel></rss>'


def _seed_pacer(cli_env: dict[str, str], feeds, tmp_path: Path, count: int, published: str) -> None:
    feeds.set("/rss_outside.pl", pacer_feed(count, published))
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - id: sdny\n    kind: pacer_rss\n    court: nysd\n    url: {feeds.url('/rss_outside.pl')}\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0


def test_a_district_court_case_is_found_by_its_identity(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    """A district docket number has a colon (nysd/1:18-cv-03365, as `items list --json` prints the
    identity): items show, items list --identity and watchlist --pin take it as printed."""
    import json

    _seed_pacer(cli_env, feeds, tmp_path, 2, "Wed, 18 Apr 2018 00:09:55 GMT")
    [identity] = {entry["identity"] for entry in json.loads(run_cli(["items", "list", "--json"], cli_env,
                                                                     cwd=tmp_path).stdout)}
    assert identity == "nysd/1:18-cv-03365"
    shown = run_cli(["items", "show", identity], cli_env, cwd=tmp_path)
    assert shown.returncode == 0 and f"identity: {identity}" in shown.stdout, shown.stderr
    listed = run_cli(["items", "list", "--identity", identity, "--json"], cli_env, cwd=tmp_path)
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 2, listed.stderr
    pinned = run_cli(["watchlist", "add", "chau", "--pin", identity], cli_env, cwd=tmp_path)
    assert pinned.returncode == 0, pinned.stderr


# ---- tables that stay readable piped or in a narrow terminal --------------------------------------

LONG_TITLE = "A very long opinion title about Bivens remedies against federal immigration officers " * 3


def _seed_long(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    feeds.set("/l.xml", f"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><guid>l1</guid><title>{LONG_TITLE}</title><link>https://example.org/l1</link></item></channel></rss>""")
    Path(cli_env["MONITOR_CONFIG"]).write_text("sources:\n  - id: long\n    kind: rss\n"
                                               f"    url: {feeds.url('/l.xml')}\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0


def test_piped_table_is_one_line_per_row(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    _seed_long(cli_env, feeds, tmp_path)
    result = run_cli(["items", "list"], cli_env, cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == ["key", "kind", "status", "title", "last changed"]
    [row] = [line.split("\t") for line in lines[1:]]
    assert row[0].startswith("rss:long:") and row[3].endswith("…") and len(row[3]) == 80


NEEDS_SCRIPT = pytest.mark.skipif(not shutil.which("script"), reason="needs script(1) for a pseudo-terminal")


def _in_terminal(args: str, columns: int, cli_env: dict[str, str], tmp_path: Path) -> tuple[int, list[str]]:
    """The exit code and screen of ``monitor ARGS`` run in a pseudo-terminal ``columns`` wide, colours removed."""
    import re
    import shlex
    import subprocess
    import sys

    command = f"stty cols {columns}; {shlex.quote(sys.executable)} -m monitor {args}"
    shown = subprocess.run(["script", "-qec", command, "/dev/null"],
                           env=cli_env | {"COLUMNS": str(columns), "TERM": "xterm"},
                           cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    return shown.returncode, [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip("\r") for line in shown.stdout.splitlines()]


@NEEDS_SCRIPT
def test_narrow_terminal_cuts_cells_with_an_ellipsis(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    """In a 60-column terminal the table fits: rows are cut with "…", not wrapped to a few characters."""
    _seed_long(cli_env, feeds, tmp_path)
    code, screen = _in_terminal("items list", 60, cli_env, tmp_path)
    assert code == 0, screen
    body = screen[screen.index(next(line for line in screen if line.startswith("┡"))) + 1:-1]
    assert len(body) == 1 and "…" in body[0], screen  # the one item is one line
    assert all(len(line) <= 60 for line in screen), screen


@NEEDS_SCRIPT
def test_text_is_shown_as_written_never_as_markup_or_emoji(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    """A source named `ice` and a docket title with brackets, as `items show` prints them and
    as a terminal's `items list` shows them: 'rss:ice:a1' stayed no key once rich made ':ice:' an
    emoji, '[sealed]' vanished as a style tag, and a '[/]' in a title was an internal error."""


    title = "[sealed] Doe v. ICE :ok: [/]"
    feeds.set("/f.xml", rss(("a1", title)))
    config = f"sources:\n  - id: ice\n    kind: rss\n    url: {feeds.url('/f.xml')}\n"
    Path(cli_env["MONITOR_CONFIG"]).write_text(config)
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    shown = run_cli(["items", "show", "rss:ice:a1"], cli_env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "key: rss:ice:a1" in shown.stdout and f"title: {title}" in shown.stdout
    added = run_cli(["watchlist", "add", "ice", "--query", "doe", "--title", title], cli_env, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    board = run_cli(["watchlist", "show", "ice"], cli_env, cwd=tmp_path)
    assert board.returncode == 0 and board.stdout.startswith(f"ice: {title}\n"), board.stdout + board.stderr
    code, screen = _in_terminal("items list", 200, cli_env, tmp_path)  # COLUMNS too: rich prefers it
    plain = "\n".join(screen)
    assert code == 0 and "rss:ice:a1" in plain and title in plain, plain


@NEEDS_SCRIPT
def test_status_in_a_terminal_keeps_every_column(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A failing source's long problem in a 100-column terminal: the problem is cut, and the
    outcome, failure count and the other short columns stay on screen (they were squeezed to nothing)."""
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        "sources:\n  - id: down\n    kind: rss\n    url: http://127.0.0.1:9/feeds/a/long/path/to/the/feed.xml\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 1
    _, screen = _in_terminal("status", 100, cli_env, tmp_path)  # exit 1: a source is failing
    assert all(len(line) <= 100 for line in screen), screen
    [header] = [line for line in screen if "source" in line]
    [row] = [line for line in screen if "down" in line]
    assert [cell.strip() for cell in header.strip("┃").split("┃")][:2] == ["source", "outcome"], screen
    cells = [cell.strip() for cell in row.strip("│").split("│")]
    assert cells[:2] == ["down", "failed"] and "1" in cells and cells[-1].startswith("fetch:"), screen


@NEEDS_SCRIPT
def test_brackets_in_a_title_are_shown_as_written(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    """A title with square brackets ("[sealed]", "[/redacted]") is text: in a terminal it was read
    as rich's markup, the first vanished and the second ended the command with a traceback."""
    feeds.set("/b.xml", """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><guid>b1</guid><title>Order [sealed] on [/redacted] motion</title><link>https://example.org/b1</link></item>
</channel></rss>""")
    Path(cli_env["MONITOR_CONFIG"]).write_text(f"sources:\n  - id: b\n    kind: rss\n    url: {feeds.url('/b.xml')}\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    code, screen = _in_terminal("items list", 160, cli_env, tmp_path)
    assert code == 0, screen
    assert any("Order [sealed] on [/redacted] motion" in line for line in screen), screen


# ---- watchlists on a fresh install --------------------------------------------------------------

def _todays_feed(count: int) -> str:
    from email.utils import format_datetime

    from monitor.models import utcnow

    today = format_datetime(utcnow().replace(microsecond=0), usegmt=True)
    items = "".join(f"<item><guid>p{n}</guid><title>Docket entry {n}: notice of appearance</title>"
                    f"<link>https://example.org/p{n}</link><pubDate>{today}</pubDate></item>" for n in range(count))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>PACER</title>{items}</channel></rss>'


def test_noisy_watchlist_is_flagged_on_a_fresh_install(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    """The first poll is a baseline (no changes), yet 40 matching entries dated today mean about
    40 alerts a day: the preview says so and `watchlist add` warns."""
    import json

    feeds.set("/pacer.xml", _todays_feed(40))
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - id: pacer\n    kind: rss\n    url: {feeds.url('/pacer.xml')}\n    item_kind: entry\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    preview = json.loads(run_cli(["watchlist", "preview", "--query", "kind:entry", "--json"], cli_env,
                                 cwd=tmp_path).stdout)
    assert preview["hits"] == 40 and preview["too_many"] is True and preview["alerts_per_day"] >= 30
    added = run_cli(["watchlist", "add", "entries", "--query", "kind:entry"], cli_env, cwd=tmp_path)
    assert added.returncode == 0 and "would send about 40 alerts a day" in added.stderr
    quiet = run_cli(["watchlist", "add", "one", "--query", '"entry 7"'], cli_env, cwd=tmp_path)
    assert "warning" not in quiet.stderr


def test_noisy_watchlist_is_flagged_on_a_feed_of_an_older_day(cli_env: dict[str, str], feeds,
                                                              tmp_path: Path) -> None:
    """A fresh install reading a captured feed (40 entries filed within an evening in 2018): none
    is dated in the last 30 days, yet the feed's own pace is 40 a day, and that is what a live feed
    of that court sends. The estimate was "≈ 0.0 a day" and `watchlist add` said nothing."""
    import json

    _seed_pacer(cli_env, feeds, tmp_path, 40, "Wed, 18 Apr 2018 00:09:55 GMT")
    preview = run_cli(["watchlist", "preview", "--query", "kind:entry"], cli_env, cwd=tmp_path)
    assert "estimated alerts: ≈ 40.0 a day" in preview.stdout, preview.stdout
    as_json = json.loads(run_cli(["watchlist", "preview", "--query", "kind:entry", "--json"], cli_env,
                                 cwd=tmp_path).stdout)
    assert as_json["hits"] == 40 and as_json["too_many"] is True
    added = run_cli(["watchlist", "add", "entries", "--query", "kind:entry"], cli_env, cwd=tmp_path)
    assert added.returncode == 0 and "would send about 40 alerts a day" in added.stderr


def test_watchlist_without_a_query_is_refused(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli(["watchlist", "add", "foo"], cli_env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: watchlist foo would match nothing: give --query (e.g. --query 'foo') or --pin IDENTITY")
    assert run_cli(["watchlist", "add", "pins", "--pin", "us/119/s/3470"], cli_env, cwd=tmp_path).returncode == 0


def test_watchlist_feed_shows_the_atom_url_that_works(db, cli_env: dict[str, str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`watchlist feed` prints the feed's URL with its token; the running service serves it."""
    config = Path(cli_env["MONITOR_CONFIG"])
    config.write_text("sources: []\n")
    _watchlist(cli_env, tmp_path)
    http = socket.create_server(("127.0.0.1", 0))
    public = f"http://127.0.0.1:{http.getsockname()[1]}"
    shown = run_cli(["watchlist", "feed", "bivens"], cli_env | {"MONITOR_PUBLIC_URL": public}, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    url = shown.stdout.strip()
    assert url.startswith(f"{public}/feeds/bivens.atom?token=")
    monkeypatch.setenv("MONITOR_PUBLIC_URL", public)

    feed, wrong = visit_service(db, config, http, lambda c: (c.get(url), c.get(url.rsplit("=", 1)[0] + "=wrong")))
    assert feed.status_code == 200 and wrong.status_code >= 400
    body = feed.text
    assert body is not None and "<feed" in body
    without = run_cli(["watchlist", "feed", "bivens"], cli_env, cwd=tmp_path)
    assert without.stdout.startswith("/feeds/bivens.atom?token=") and "MONITOR_PUBLIC_URL" in without.stderr


# ---- status says what an operator needs ----------------------------------------------------------

def test_status_names_the_missing_key_counts_items_and_hides_unconfigured_rows(
        cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    import json


    feeds.set("/f.xml", rss(("a1", "One"), ("a2", "Two"), ("a3", "Three")))
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - id: feed\n    kind: rss\n    url: {feeds.url('/f.xml')}\n"
        "  - id: bills\n    kind: congress_bill\n    congress: 119\n    bills: [S. 3470]\n")
    env = {k: v for k, v in cli_env.items() if k != "CONGRESS_API_KEY"}
    assert run_cli(["run", "--once"], env, cwd=tmp_path).returncode == 0
    feeds.set("/f.xml", rss(("a4", "Four"), ("a1", "One"), ("a2", "Two"), ("a3", "Three")))
    assert run_cli(["run", "--once"], env, cwd=tmp_path).returncode == 0
    rows = {r["id"]: r for r in json.loads(run_cli(["status", "--json"], env, cwd=tmp_path).stdout)}
    assert rows["feed"]["items_seen"] == 4  # stored now, not 3 + 4 summed over two polls
    assert rows["bills"]["skipped"] == "skipped: needs CONGRESS_API_KEY"
    assert "courtlistener-webhooks" not in rows
    table = run_cli(["status"], env, cwd=tmp_path).stdout
    [bills] = [line.split("\t") for line in table.splitlines() if line.startswith("bills\t")]
    assert bills[1] == "skipped" and bills[-1] == "skipped: needs CONGRESS_API_KEY"


def test_status_with_a_broken_sources_yaml_says_so_and_fails(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    """A cron health check must not pass while the service could not start; with no sources.yaml
    where status looks (run beside the database only), it still shows the database's view."""

    feeds.set("/f.xml", rss(("a1", "One")))
    config = Path(cli_env["MONITOR_CONFIG"])
    config.write_text(f"sources:\n  - id: feed\n    kind: rss\n    url: {feeds.url('/f.xml')}\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    config.write_text("sources:\n  - {id: feed, kind: rsss}\n")
    broken = run_cli(["status"], cli_env, cwd=tmp_path)
    assert broken.returncode == 1 and broken.stdout.startswith("source\t")
    assert "unknown kind 'rsss'" in broken.stderr and "Traceback" not in broken.stderr
    elsewhere = {k: v for k, v in cli_env.items() if k != "MONITOR_CONFIG"}
    (tmp_path / "elsewhere").mkdir()
    assert run_cli(["status"], elsewhere, cwd=tmp_path / "elsewhere").returncode == 0  # no ./sources.yaml here


def test_status_fails_when_no_enabled_source_can_run(cli_env: dict[str, str], tmp_path: Path) -> None:
    """A cron health check of a deployment whose every source needs a key nobody set: `run --once`
    exits 1 (nothing is watched), and so does status, naming the way out."""
    config = Path(cli_env["MONITOR_CONFIG"])
    config.write_text("sources:\n  - id: bills\n    kind: congress_bill\n    congress: 119\n    bills: [S. 3470]\n")
    env = {k: v for k, v in cli_env.items() if k != "CONGRESS_API_KEY"}
    assert run_cli(["run", "--once"], env, cwd=tmp_path).returncode == 1
    shown = run_cli(["status"], env, cwd=tmp_path)
    assert shown.returncode == 1 and "bills\tskipped" in shown.stdout
    assert "no enabled source can run: 1 needs a key (`monitor doctor` says which)" in shown.stderr
    assert "skipped: 1 source needs CONGRESS_API_KEY (bills)" in run_cli(["doctor"], env, cwd=tmp_path).stdout
    assert run_cli(["status"], env | {"CONGRESS_API_KEY": "k"}, cwd=tmp_path).returncode == 0


# ---- the README's tour, top to bottom -------------------------------------------------------------

def _readme_block(heading: str) -> list[tuple[str, str]]:
    """(command, comment) of each line of the first ```sh block after ``heading`` in README.md."""
    from tests.conftest import ROOT

    block = (ROOT / "README.md").read_text().split(heading, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1) + [""] for line in block.splitlines() if line.strip()]
    return [(line[0].strip(), line[1].strip()) for line in lines]


def _ctrl_c_service(env: dict[str, str], cwd: Path) -> tuple[int | None, str]:
    """`monitor run` as a user starts it in a terminal, stopped with Ctrl-C once it has started."""
    import tempfile

    from tests.cluster import wait_for

    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch, "stderr")
        with cli_process(["run"], env, cwd=cwd, stderr=str(log)) as service:
            assert wait_for(lambda: "monitoring" in log.read_text()), log.read_text()  # the line that says it runs
            os.kill(service.pid, signal.SIGINT)
            service.join(60)
        return service.exitcode, log.read_text()


def test_readme_tour_runs_in_order(cli_env: dict[str, str], feeds, slack, tmp_path: Path) -> None:
    """Every command of "A short tour", as README.md writes it and in its order, in a fresh
    directory with the shipped sources.yaml and no key: the internet is a local server that serves
    every feed it names (tests/test_day_one.py), hooks.slack.com a local Slack-like server. KEY is a
    key `items list` printed, as the user would pick one; `monitor run` is stopped with Ctrl-C."""
    import re
    import shlex

    from tests.test_day_one import KEYS, local_config, serve

    env = {k: v for k, v in cli_env.items() if k not in KEYS}
    local_config(feeds.base, Path(env["MONITOR_CONFIG"]))
    serve(feeds, new_opinion=False, new_bill=False, passed=False)
    listed = ""
    commands = _readme_block("## A short tour")
    assert [line.split()[:2] for line, _ in commands][-2:] == [["monitor", "run"], ["monitor", "status"]]
    for line, comment in commands:
        command = shlex.split(line)
        assert command[0] == "monitor", line
        args = [re.sub(r"^slack:https://hooks\.slack\.com/.*", "slack:" + slack.url(), a) for a in command[1:]]
        if args == ["run"]:
            code, log = _ctrl_c_service(env, tmp_path)
            assert code == 0 and "stopping" in log and "Traceback" not in log, log
            continue
        if "KEY" in args:
            keys = [row.split("\t")[0] for row in listed.splitlines()[1:]]
            assert "us/119/s/3470" in comment and keys, (comment, listed)  # the identity it names, a key to pick
            for key in (keys[0], "us/119/s/3470"):
                shown = run_cli([key if a == "KEY" else a for a in args], env, cwd=tmp_path)
                assert shown.returncode == 0 and key in shown.stdout, (key, shown.stderr)
            continue
        result = run_cli(args, env, cwd=tmp_path)
        assert result.returncode == 0, (line, result.stdout[-2000:], result.stderr[-2000:])
        assert "error" not in result.stderr.lower() and "Traceback" not in result.stderr, (line, result.stderr)
        if args[:2] == ["items", "list"]:
            listed = result.stdout
    assert slack.requests == []  # the first poll is a baseline: nobody is alerted on the tour


def test_readme_names_the_keys_doctor_knows() -> None:
    """The quick start's list of keys is the list `monitor doctor` explains: no key a source
    never reads (a user would sign up for it), none missing."""
    import re

    from monitor.cli.sources import KEY_FIXES
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    paragraph = readme.split("Keys are free and optional", 1)[1].split("The tests that read", 1)[0]
    assert set(re.findall(r"`([A-Z][A-Z_]+)`", paragraph)) == set(KEY_FIXES)


# ---- small wording and behaviour points ----------------------------------------------------------

def test_lowercase_operators_are_operators(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    import json


    feeds.set("/f.xml", rss(("a1", "A Bivens claim"), ("a2", "An FTCA claim"), ("a3", "Neither")))
    Path(cli_env["MONITOR_CONFIG"]).write_text(f"sources:\n  - id: f\n    kind: rss\n    url: {feeds.url('/f.xml')}\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0

    def hits(query: str) -> list[str]:
        result = run_cli(["items", "search", query, "--json"], cli_env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return sorted(entry["title"] for entry in json.loads(result.stdout))

    assert hits("bivens or ftca") == hits("bivens OR ftca") == ["A Bivens claim", "An FTCA claim"]
    assert hits("claim and not bivens") == ["An FTCA claim"]
    feeds.set("/f.xml", rss(("a4", "A new Bivens ruling"), ("a1", "A Bivens claim"), ("a2", "An FTCA claim"),
                            ("a3", "Neither")))
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    changes = run_cli(["changes", "list"], cli_env, cwd=tmp_path)
    [new] = [line.split("\t") for line in changes.stdout.splitlines()[1:]]
    assert new[2] == "new" and "→" not in new[4]  # a new item has no old value to point from


def test_a_long_text_in_an_alert_is_cut_with_an_ellipsis(cli_env: dict[str, str], feeds, slack,
                                                          tmp_path: Path) -> None:
    """A watched item's summary grows past what a Slack field holds: the alert shows it cut
    with "…", not stopped mid-word as if that were all."""
    import json


    long = "The court held that " + "the officers' warrantless entry " * 20
    feeds.set("/f.xml", rss(("a1", "A Bivens claim", "Filed.")))
    Path(cli_env["MONITOR_CONFIG"]).write_text(f"sources:\n  - id: f\n    kind: rss\n    url: {feeds.url('/f.xml')}\n")
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    assert run_cli(["watchlist", "add", "bivens", "--query", "bivens", "--on-field"], cli_env,
                   cwd=tmp_path).returncode == 0
    assert run_cli(["subscribe", "bivens", "slack:" + slack.url()], cli_env, cwd=tmp_path).returncode == 0
    feeds.set("/f.xml", rss(("a1", "A Bivens claim", long)))
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    [post] = [json.loads(request.body) for request in slack.requests]
    fields = [field["text"] for block in post["blocks"] for field in block.get("fields", [])]
    [now] = [field.split("\n", 1)[1] for field in fields if field.split("\n", 1)[0].endswith(" now*")]
    assert now.endswith("…") and len(now) == 300 and long.startswith(now[:-1])


def test_sources_check_masks_a_key_the_provider_echoes(cli_env: dict[str, str], feeds, tmp_path: Path) -> None:
    feeds.set("/f.xml", "bad key SECRETKEY123 for /f.xml?api_key=SECRETKEY123", status=403,
              content_type="text/plain")
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - id: f\n    kind: rss\n    url: {feeds.url('/f.xml')}?api_key=SECRETKEY123\n")
    result = run_cli(["sources", "check", "f"], cli_env | {"CONGRESS_API_KEY": "SECRETKEY123"}, cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.startswith("error: source 'f':")
    assert "SECRETKEY123" not in result.stdout + result.stderr
    assert "/f.xml" in result.stderr  # which URL failed is still said


def test_message_id_uses_the_senders_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    from alerts.email import build_mime, mail_from

    monkeypatch.setenv("MONITOR_MAIL_FROM", "Remedy Monitor <alerts@monitor.example.org>")
    mime = build_mime({"id": "rm_abc_1", "to": "ana@example.org", "subject": "s", "text": "t", "html": "<p>t</p>",
                       "unsubscribe_url": "https://monitor.example.org/unsubscribe/x"}, mail_from())
    assert mime["Message-ID"] == "<rm_abc_1@monitor.example.org>"
    assert mime["List-Unsubscribe"] == "<https://monitor.example.org/unsubscribe/x>"


@pytest.mark.parametrize("args", [[], ["items"], ["watchlist"]])
def test_a_bare_command_shows_its_help(args: list[str], cli_env: dict[str, str]) -> None:
    result = run_cli(args, cli_env)
    assert result.returncode == 0 and result.stdout.startswith("Usage: monitor") and result.stderr == ""


def test_a_remembered_target_does_not_mask_a_plain_word() -> None:
    """A delivery target with a one-word path (the demo posts to /slack/<watchlist>) is scrubbed
    from later log lines as a URL and a path, never as the bare word."""
    from monitor.redact import remember_target

    remember_target("slack:http://127.0.0.1:9/slack/uxplainword")
    assert redact("watchlist uxplainword matched") == "watchlist uxplainword matched"
    assert "/slack/uxplainword" not in redact("POST http://127.0.0.1:9/slack/uxplainword failed")


def test_items_show_an_identity_only_one_provider_follows_claims_no_agreement(cli_env: dict[str, str], db,
                                                                              tmp_path: Path) -> None:
    """One provider is nobody to agree with: ``items show`` names it and its status, and says
    nothing of agreement ("they agree" read as if a second provider had confirmed the veto)."""
    import datetime as dt

    from monitor.models import Item, Source

    with db.session() as session:
        session.add(Source(id="billstatus", kind="govinfo_billstatus"))
        session.flush()
        session.add(Item(key="billstatus:us/115/s/3509", source_id="billstatus", kind="bill", identity="us/115/s/3509",
                         title="Congressional Award Program Reauthorization Act of 2018", status="vetoed",
                         status_date=dt.date(2018, 10, 12), content_hash="a"))
    result = run_cli(["items", "show", "us/115/s/3509"], cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first == "identity: us/115/s/3509: 1 provider view (billstatus); status vetoed (from billstatus)"


def test_items_show_an_identity_one_provider_gives_no_status(cli_env: dict[str, str], db, tmp_path: Path) -> None:
    """GovInfo's bill-text feed names a bill's text version, not its status: its view of the bill
    says so beside BILLSTATUS's status (``items show`` crashed on a provider with no status); a
    congress.gov list row is marked as read from its latest action, and its older reading is no
    disagreement with the bill followed in full."""
    import datetime as dt
    import json

    from sqlalchemy import update

    from monitor.models import Item, Source

    with db.session() as session:
        session.add_all([Source(id="govinfo-bills", kind="govinfo_bill_feed"),
                         Source(id="billstatus", kind="govinfo_billstatus"),
                         Source(id="recent", kind="congress_recent")])
        session.flush()
        session.add_all([
            Item(key="govinfo:BILLS-119s3470is", source_id="govinfo-bills", kind="bill", identity="us/119/s/3470",
                 title="S. 3470 IS: Bivens Act of 2025", status=None, raw_status="IS",
                 status_action="Introduced in Senate", content_hash="a"),
            Item(key="billstatus:us/119/s/3470", source_id="billstatus", kind="bill", identity="us/119/s/3470",
                 title="Bivens Act of 2025", status="in_committee", status_date=dt.date(2025, 12, 11),
                 data={"status_basis": "actions"}, content_hash="b"),
            Item(key="congress:recent:us/119/s/3470", source_id="recent", kind="bill", identity="us/119/s/3470",
                 title="Bivens Act of 2025", status="introduced", status_date=dt.date(2025, 12, 11),
                 data={"status_basis": "latest_action"}, content_hash="c"),
        ])
    result = run_cli(["items", "show", "us/119/s/3470"], cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "they agree" in result.stdout and "status in_committee (from billstatus)" in result.stdout
    [status_row] = [line for line in result.stdout.splitlines() if line.startswith("status")]
    assert "In committee on Dec 11, 2025" in status_row and "no status" in status_row
    assert "Introduced on Dec 11, 2025 (latest action only)" in status_row
    # the remedy board marks the list row the same way, in text and JSON
    assert run_cli(["watchlist", "add", "bivens", "--pin", "us/119/s/3470"], cli_env, cwd=tmp_path).returncode == 0
    board = run_cli(["watchlist", "show", "bivens"], cli_env, cwd=tmp_path)
    assert board.returncode == 0, board.stderr
    [row] = [line for line in board.stdout.splitlines() if "recent" in line.split()]
    assert "Introduced on Dec 11, 2025 (latest action only)" in row
    [latest] = [line for line in board.stdout.splitlines() if "congress:recent:us/119/s/3470" in line]
    assert "Introduced on Dec 11, 2025 (latest action only)" in latest
    shown = json.loads(run_cli(["watchlist", "show", "bivens", "--json"], cli_env, cwd=tmp_path).stdout)
    assert {s["source"]: s["latest_action_only"] for s in shown["pinned_status"][0]["sources"]} == {
        "govinfo-bills": False, "billstatus": False, "recent": True}
    assert {i["source"]: i["latest_action_only"] for i in shown["latest"]} == {
        "govinfo-bills": False, "billstatus": False, "recent": True}
    row_view = run_cli(["items", "show", "congress:recent:us/119/s/3470"], cli_env, cwd=tmp_path)
    assert "happened: Introduced on Dec 11, 2025 (latest action only)" in row_view.stdout, row_view.stderr
    as_json = run_cli(["items", "show", "congress:recent:us/119/s/3470", "--json"], cli_env, cwd=tmp_path)
    assert json.loads(as_json.stdout)["latest_action_only"] is True
    with db.session() as session:  # a latest action that proves nothing: introduced on no stated day
        session.execute(update(Item).where(Item.key == "congress:recent:us/119/s/3470").values(status_date=None))
    undated = run_cli(["items", "show", "congress:recent:us/119/s/3470"], cli_env, cwd=tmp_path)
    assert "happened: Introduced (latest action only)" in undated.stdout, undated.stdout


def test_each_filing_in_a_case_alerts_though_filed_the_same_day(cli_env: dict[str, str], feeds, slack,
                                                                tmp_path: Path) -> None:
    """Docket entries share their case's identity, but each is its own event: a second and third
    filing of one case on one day alert (they were taken for repeats of the first's 'filed')."""
    day = "Wed, 18 Apr 2018 00:09:55 GMT"
    _seed_pacer(cli_env, feeds, tmp_path, 1, day)  # the baseline: entry 1
    for args in (["watchlist", "add", "chau", "--pin", "nysd/1:18-cv-03365"],
                 ["subscribe", "chau", "slack:" + slack.url()]):
        assert run_cli(args, cli_env, cwd=tmp_path).returncode == 0
    feeds.set("/rss_outside.pl", pacer_feed(3, day))
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    sent = " ".join(r.json()["text"] for r in slack.requests)
    assert "#2 Notice of Appearance" in sent and "#3 Notice of Appearance" in sent
    feeds.set("/rss_outside.pl", pacer_feed(4, day))  # a fourth, in a later poll
    assert run_cli(["run", "--once"], cli_env, cwd=tmp_path).returncode == 0
    assert "#4 Notice of Appearance" in slack.requests[-1].json()["text"]
