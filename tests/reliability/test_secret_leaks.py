"""Known secret values in the environment never show up in any output, log line or stored error.

The scenarios are the ones an operator runs every day, with things going wrong: a poll with
a failing source whose URL carries an API key, Slack failing (5xx, then 404), status and
subscription listings, a refused subscribe, ``run --verbose`` and ``run --json``. Every stdout/stderr line and every
text column the database keeps is grepped for each secret.
"""

from __future__ import annotations

import base64
import json
from collections import deque
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from monitor.db import Database
from tests.conftest import run_cli
from tests.fakes.http_server import HttpServer, Reply, Request
from tests.reliability.helpers import rss

pytestmark = pytest.mark.usefixtures("quick_first_retry")

SECRETS = {
    "COURTLISTENER_TOKEN": "cl-token-LEAKCANARY-1111",
    "CONGRESS_API_KEY": "congress-LEAKCANARY-2222",
    "LEGISCAN_API_KEY": "legiscanLEAKCANARY3333",
    "OPENSTATES_API_KEY": "openstates-LEAKCANARY-4444",
    "GOVINFO_API_KEY": "govinfo-LEAKCANARY-5555",
    "MONITOR_SMTP_URL": "smtp://alerts:smtp-pass-LEAKCANARY-6666@127.0.0.1:2525",
    "MONITOR_HOOK_SECRET": "hook-secret-LEAKCANARY-7777",
}
HOOK_PATH = "/services/T0LEAK/B0LEAK/hookLEAKCANARY8888"
CANARIES = ["LEAKCANARY", "smtp-pass", "hookLEAKCANARY8888"]


def test_no_secret_in_any_output_log_or_stored_error(feeds, slack, cli_env, db_url) -> None:
    env = cli_env | SECRETS
    config = Path(env["MONITOR_CONFIG"])
    key = SECRETS["LEGISCAN_API_KEY"]
    config.write_text(
        "sources:\n"
        f"  - {{id: good, kind: rss, url: '{feeds.url('/good.xml')}'}}\n"
        f"  - {{id: keyed, kind: rss, url: '{feeds.url('/keyed.xml')}?key={key}&op=getMasterList'}}\n"
        f"  - {{id: broken, kind: rss, url: '{feeds.url('/broken.xml')}?api_key={key}'}}\n"
        "  - {id: gone, kind: rss, url: 'http://127.0.0.1:9/feed.xml'}\n"
    )
    feeds.set("/good.xml", rss(("a1", "Other")))
    feeds.set("/keyed.xml", "<html>not a feed " + key + "</html>", content_type="text/html")
    feeds.set("/broken.xml", "upstream failure", status=503, content_type="text/plain")
    target = "slack:" + slack.url(HOOK_PATH)
    outputs = [
        run_cli(["run", "--once", "--verbose"], env),
        run_cli(["watchlist", "add", "bivens", "--query", "bivens"], env),
        run_cli(["subscribe", "bivens", target], env),
    ]
    feeds.set("/good.xml", rss(("a2", "Bivens news"), ("a1", "Other")))
    slack.queue(500, "rollup_error")
    outputs.append(run_cli(["run", "--once", "--verbose"], env))
    feeds.set("/good.xml", rss(("a3", "Bivens again"), ("a2", "Bivens news"), ("a1", "Other")))
    slack.queue(404, "no_service")
    outputs += [
        run_cli(["run", "--once", "--json"], env),
        run_cli(["status", "--json"], env),
        run_cli(["subscriptions", "list", "--json"], env),
        run_cli(["subscribe", "nope", target], env),  # an error message that handles the target
    ]
    assert len(slack.requests) >= 2, "the Slack scenarios never ran"
    assert "FAILED" in outputs[0].stdout  # the failing sources really failed
    for result in outputs:
        for stream in (result.stdout, result.stderr):
            for canary in CANARIES:
                assert canary not in stream, f"{result.args[3:]} printed a secret: {stream[:2000]}"

    database = Database(db_url)
    try:
        stored = []
        with database.engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                if table in ("subscriptions", "alembic_version"):  # the target itself is stored, by design
                    continue
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    stored.append(repr(tuple(row)))
        blob = "\n".join(stored)
        for canary in CANARIES:
            assert canary not in blob, f"a secret is stored in the database: {canary}"
    finally:
        database.dispose()


ECHO_CANARY = "ECHOCANARY"


def test_a_receiver_that_echoes_its_path_leaks_no_target_secret(feeds, cli_env, db_url) -> None:
    """Slack, webhook and admin targets whose receiver (or a proxy before it) answers with the
    request's path: nothing of those paths in stored errors and answers, disabled reasons, the
    admin notice, INFO logs or `alerts list/show`."""
    # Whichever target posts first gets a 500 (retried), the second a 410 (disabled, admin told),
    # the admin notice and every retry a 500: every answer names the path it was posted to.
    statuses = deque([500, 410])

    def answer(request: Request) -> Reply:
        path = request.path
        return Reply(statuses.popleft() if statuses else 500,
                     f"no route for {path} (see https://proxy.example.org{path})")

    echo = HttpServer(fallback=answer)
    try:
        env = cli_env | {"MONITOR_ADMIN_TARGET": "slack:" + echo.url(f"/services/TADM/BADM/admin{ECHO_CANARY}1")}
        Path(env["MONITOR_CONFIG"]).write_text("sources:\n"
                                               f"  - {{id: good, kind: rss, url: '{feeds.url('/good.xml')}'}}\n")
        feeds.set("/good.xml", rss(("a1", "Other")))
        outputs = [run_cli(["run", "--once"], env),
                   run_cli(["watchlist", "add", "bivens", "--query", "bivens"], env),
                   run_cli(["subscribe", "bivens", "webhook:" + echo.url(f"/hooks/remedy/wh{ECHO_CANARY}2")], env),
                   run_cli(["subscribe", "bivens", "slack:" + echo.url(f"/services/T1/B1/slack{ECHO_CANARY}3")], env)]
        feeds.set("/good.xml", rss(("a2", "Bivens news"), ("a1", "Other")))
        outputs += [run_cli(["run", "--once", "--verbose"], env), run_cli(["run", "--once", "--verbose"], env)]
        assert len({r.path for r in echo.requests}) == 3, [r.path for r in echo.requests]
        outputs += [run_cli(["alerts", "list"], env), run_cli(["alerts", "list", "--json"], env)]
        outputs += [run_cli(["alerts", "show", str(n)], env) for n in range(1, 4)]
    finally:
        echo.close()
    assert all(r.returncode == 0 for r in outputs[:4]), [r.stderr for r in outputs]
    for result in outputs:
        for stream in (result.stdout, result.stderr):
            assert ECHO_CANARY not in stream, f"{result.args[3:]} printed a target's path: {stream[:2000]}"
    database = Database(db_url)
    try:
        stored = []
        with database.engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings():
                    stored += [repr(v) for k, v in row.items() if (table, k) != ("subscriptions", "target")]
            reasons = [r for r, in conn.execute(text("SELECT disabled_reason FROM subscriptions")) if r]
            errors = [e for e, in conn.execute(text("SELECT last_error FROM deliveries")) if e]
        assert reasons and len(errors) == 3, "the failing scenarios never ran"
        assert all("no route for" in e for e in errors + reasons)  # the receiver's words stay
        assert ECHO_CANARY not in "\n".join(stored), "a target's path is stored"
    finally:
        database.dispose()


def test_credentials_in_a_source_url_never_reach_what_is_shown_or_sent(cli_env, feeds, slack, tmp_path) -> None:
    """Issue 16 item 7: a source URL with user-info and credential-looking parameters (auth_token,
    api-key, password, sig). The fetcher uses it as written; the stored source URL, the Slack post,
    the webhook's evidence.source_url, the Atom feed and every CLI output carry none of it."""
    import json

    from tests.conftest import run_cli
    from tests.fakes.http_server import HttpServer, slack_ok
    from tests.reliability.helpers import rss

    secrets = ["ana", "PASSWORD1x", "AUTHTOKEN2x", "APIKEY3x", "PW4xyz", "SIG5xyz"]
    base = feeds.url("/f.xml").replace("http://", "http://ana:PASSWORD1x@")
    url = f"{base}?q=bivens&auth_token=AUTHTOKEN2x&api-key=APIKEY3x&password=PW4xyz&sig=SIG5xyz"
    feeds.set("/f.xml", rss(("a1", "Other")))
    cli_env = cli_env | {"MONITOR_PUBLIC_URL": "http://127.0.0.1:9"}
    Path(cli_env["MONITOR_CONFIG"]).write_text(f"sources:\n  - id: f\n    kind: rss\n    url: '{url}'\n")
    receiver = HttpServer(fallback=slack_ok)
    try:
        outputs = [run_cli(["run", "--once", "--verbose"], cli_env),
                   run_cli(["watchlist", "add", "bivens", "--query", "bivens"], cli_env),
                   run_cli(["subscribe", "bivens", "slack:" + slack.url()], cli_env),
                   run_cli(["subscribe", "bivens", "webhook:" + receiver.url("/hook")], cli_env)]
        feeds.set("/f.xml", rss(("a2", "Bivens news"), ("a1", "Other")))
        outputs += [run_cli(["run", "--once", "--verbose"], cli_env), run_cli(["status", "--json"], cli_env),
                    run_cli(["sources", "list", "--json"], cli_env),
                    run_cli(["items", "show", "rss:f:a2", "--json"], cli_env),
                    run_cli(["alerts", "list", "--json"], cli_env), run_cli(["changes", "list", "--json"], cli_env)]
        assert feeds.requests and "auth_token=AUTHTOKEN2x" in feeds.requests[-1].path  # the fetcher used it all
        sent = [r.body.decode() for r in slack.requests + receiver.requests]
    finally:
        receiver.close()
    assert len(sent) == 2
    evidence = json.loads(sent[1])
    source_url = json.dumps(evidence)
    assert "q=bivens" in source_url and "/f.xml" in source_url
    import urllib.request

    from monitor.db import Database
    from monitor.models import Source
    from monitor.web import create_app
    from tests.conftest import serve_asgi

    feed_path = json.loads(run_cli(["watchlist", "feed", "bivens", "--json"], cli_env).stdout)["path"]
    database = Database(cli_env["MONITOR_DATABASE_URL"])
    with database.session() as session:
        stored = session.get(Source, "f").url
    with serve_asgi(create_app(database)) as base_url, \
            urllib.request.urlopen(base_url + feed_path, timeout=10) as answer:  # what `run --http` serves
        atom = answer.read().decode()
    database.dispose()
    assert "Bivens news" in atom
    assert stored == feeds.url("/f.xml") + "?q=bivens"
    shown = [o.stdout + o.stderr for o in outputs] + sent + [stored, atom]
    for output in shown:
        for secret in secrets[1:]:
            assert secret not in output, (secret, output[:2000])
        assert "ana:" not in output and "ana@" not in output



def test_credentials_in_an_html_source_url_never_reach_its_item_links(cli_env, feeds) -> None:
    """Issue 16 item 7, the scraped-page case: an html source whose URL carries user-info and an
    auth_token, and whose page links its items relatively (``/op/1``, ``#a2``). The items' links
    (and keys) are resolved against the URL without its credentials, so neither the stored items
    nor the webhook a subscriber gets carry them. Before: ``urljoin`` kept ``ana:PASSWORD1x@`` in
    every item link, and a fragment link kept the whole query with the token."""
    from tests.fakes.http_server import slack_ok

    page = "<html><body><ul>{}<li class=op><a href='/op/0'>Other</a></li></ul></body></html>"
    feeds.set("/list", page.format(""), content_type="text/html")
    url = feeds.url("/list").replace("http://", "http://ana:PASSWORD1x@") + "?court=ca9&auth_token=AUTHTOKEN2x"
    Path(cli_env["MONITOR_CONFIG"]).write_text(
        f"sources:\n  - id: p\n    kind: html\n    url: '{url}'\n    item: li.op\n"
        "    fields: {title: a, url: a@href}\n")
    receiver = HttpServer(fallback=slack_ok)
    try:
        assert run_cli(["watchlist", "add", "bivens", "--query", "bivens"], cli_env).returncode == 0
        assert run_cli(["subscribe", "bivens", "webhook:" + receiver.url("/hook")], cli_env).returncode == 0
        first = run_cli(["run", "--once", "--verbose"], cli_env)  # the baseline: no alerts
        feeds.set("/list", page.format("<li class=op><a href='/op/1'>Bivens opinion</a></li>"
                                       "<li class=op><a href='#a2'>Bivens order</a></li>"), content_type="text/html")
        ran = run_cli(["run", "--once", "--verbose"], cli_env)
        items = run_cli(["items", "list", "--json"], cli_env)
        sent = [r.body.decode() for r in receiver.requests]
    finally:
        receiver.close()
    assert first.returncode == ran.returncode == 0, ran.stderr
    assert feeds.requests and "auth_token=AUTHTOKEN2x" in feeds.requests[-1].path  # fetched as written
    links = sorted(c["url"] for body in sent for c in json.loads(body)["data"]["changes"])
    assert links == [feeds.url("/list") + "?court=ca9#a2", feeds.url("/op/1")]
    for output in [first.stdout + first.stderr, ran.stdout + ran.stderr, items.stdout, *sent]:
        assert "PASSWORD1x" not in output and "AUTHTOKEN2x" not in output and "ana:" not in output, output[:2000]


APPRISE_CANARY = "APPRISECANARY"


def test_an_apprise_server_that_echoes_its_credentials_leaks_no_target_secret(feeds, cli_env, db_url) -> None:
    """An Apprise target whose credential is in the user-info (``ntfy://user:password@host/topic``)
    and whose server (or a proxy before it) answers with the login and URL it got: the provider's
    answer is kept in the stored error, the password is not, nor in logs or `alerts list/show`."""

    def answer(request: Request) -> Reply:
        login = base64.b64decode(request.headers.get("authorization", " ").split(" ", 1)[1]).decode()
        url = f"ntfy://{login}@{request.headers['host']}{request.path}"
        return Reply(401, json.dumps({"code": 40101, "error": f"login {login} refused for {url}"}),
                     {"content-type": "application/json"})

    ntfy = HttpServer(fallback=answer)
    try:
        target = f"apprise:ntfy://alice:pw{APPRISE_CANARY}42@127.0.0.1:{ntfy.port}/alerts"
        Path(cli_env["MONITOR_CONFIG"]).write_text("sources:\n"
                                                   f"  - {{id: good, kind: rss, url: '{feeds.url('/good.xml')}'}}\n")
        feeds.set("/good.xml", rss(("a1", "Other")))
        outputs = [run_cli(["run", "--once"], cli_env),
                   run_cli(["watchlist", "add", "bivens", "--query", "bivens"], cli_env),
                   run_cli(["subscribe", "bivens", target], cli_env)]
        feeds.set("/good.xml", rss(("a2", "Bivens news"), ("a1", "Other")))
        outputs += [run_cli(["run", "--once", "--verbose"], cli_env), run_cli(["subscriptions", "list"], cli_env),
                    run_cli(["alerts", "list"], cli_env), run_cli(["alerts", "list", "--json"], cli_env),
                    run_cli(["alerts", "show", "1"], cli_env)]
    finally:
        ntfy.close()
    assert all(r.returncode == 0 for r in outputs[:3]), [r.stderr for r in outputs]
    assert ntfy.requests, "apprise never reached the server"
    for result in outputs:
        for stream in (result.stdout, result.stderr):
            assert APPRISE_CANARY not in stream, f"{result.args[3:]} printed the target's password: {stream[:2000]}"
    database = Database(db_url)
    try:
        with database.engine.connect() as conn:
            errors = [e for e, in conn.execute(text("SELECT last_error FROM deliveries")) if e]
            answers = [a for a, in conn.execute(text("SELECT response FROM delivery_attempts")) if a]
    finally:
        database.dispose()
    assert len(errors) == 1 and "login *** refused for ntfy://***@127.0.0.1" in errors[0], errors  # its words stay
    assert APPRISE_CANARY not in "\n".join(errors + answers)


def test_a_provider_that_echoes_its_key_in_an_error_leaks_it_nowhere(cli_env, db_url) -> None:
    """LegiScan answers an error whose message repeats the key and the request it got (as a
    provider or proxy may): ``sources check``, ``run --once --verbose`` and ``status`` say which
    source failed and why, with the key masked, and no stored column keeps it."""
    key = SECRETS["LEGISCAN_API_KEY"]

    def echo(request: Request) -> Reply:
        message = f"Invalid API key {request.path.split('key=', 1)[1].split('&')[0]} for {request.path}"
        return Reply(200, json.dumps({"status": "ERROR", "alert": {"message": message}}),
                     {"Content-Type": "application/json"})

    provider = HttpServer(fallback=echo)
    try:
        env = cli_env | {"LEGISCAN_API_KEY": key}
        Path(env["MONITOR_CONFIG"]).write_text("sources:\n  - {id: ca-bills, kind: legiscan, state: CA, "
                                               f"query: ice, base_url: '{provider.url('/')}'}}\n")
        outputs = [run_cli(args, env) for args in (["sources", "check", "ca-bills"],
                                                   ["sources", "check", "ca-bills", "--json"],
                                                   ["run", "--once", "--verbose"], ["status"], ["status", "--json"])]
    finally:
        provider.close()
    assert key in provider.requests[0].path  # the key was sent, and echoed back
    assert outputs[0].returncode == 1 and "source 'ca-bills': auth: LegiScan" in outputs[0].stderr
    assert "Invalid API key" in outputs[0].stderr  # the provider's words stay
    for result in outputs:
        assert key not in result.stdout + result.stderr, f"{result.args[3:]} printed the key: {result.stderr[:500]}"
    database = Database(db_url)
    try:
        with database.engine.connect() as conn:
            stored = [repr(tuple(row)) for table in inspect(conn).get_table_names()
                      for row in conn.execute(text(f'SELECT * FROM "{table}"'))]
    finally:
        database.dispose()
    assert "Invalid API key" in "\n".join(stored) and key not in "\n".join(stored)


def test_a_traceback_in_the_text_log_is_masked_like_its_message(monkeypatch) -> None:
    """An exception logged with its traceback (``log.exception``) in the default text format: the
    traceback's lines go through the same masking as the message. Before: only the JSON format
    masked them, so a key in an exception's text reached a text log whole."""
    import io
    import logging

    from monitor.cli.common import RedactingFilter

    monkeypatch.setenv("CONGRESS_API_KEY", SECRETS["CONGRESS_API_KEY"])
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("tests.leak")
    log.addHandler(handler)
    log.propagate = False
    try:
        raise RuntimeError(f"GET https://api.congress.gov/v3/bill?api_key={SECRETS['CONGRESS_API_KEY']} failed")
    except RuntimeError:
        log.exception("source bills: unexpected error")
    finally:
        log.removeHandler(handler)
    written = out.getvalue()
    assert "RuntimeError" in written and "Traceback" in written  # the traceback is still there
    assert "LEAKCANARY" not in written, written
