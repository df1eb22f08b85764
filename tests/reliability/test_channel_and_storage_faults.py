"""Faults downstream of the poll: Slack refusing or failing, the database going away or locked.

The promise in each case: the poll's items and changes are stored regardless, a retryable
delivery failure is retried until it succeeds (once), a permanent one fails with its reason
and is not retried, and the service needs no restart.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, text

import alerts.http
from alerts.webhook import new_secret
from monitor.delivery.dispatcher import Dispatcher
from monitor.models import Delivery, DeliveryAttempt, Source, Subscription, Watchlist, utcnow
from tests.alerting import STATUS_MOVE, seed_changes
from tests.conftest import run_cli
from tests.fakes import socket_faults as fs
from tests.fakes.http_server import HttpServer, webhook_receiver
from tests.fakes.socket_faults import FaultServer
from tests.reliability.helpers import (
    assert_versions_consistent,
    item_keys,
    poll,
    rss,
    write_sources,
)


def subscribe(db, target: str) -> int:
    with db.session() as s:
        wl = Watchlist(name="bivens", query="bivens")
        s.add(wl)
        s.flush()
        sub = Subscription(watchlist_id=wl.id, channel="slack", target=target)
        s.add(sub)
        s.flush()
        return sub.id


def subscribe_all(db, *targets: str) -> list[int]:
    """One watchlist posting to each target, in this order (so their deliveries are dispatched
    in this order); webhook targets get a signing secret."""
    with db.session() as s:
        wl = Watchlist(name="bivens", query="bivens")
        s.add(wl)
        s.flush()
        subs = [Subscription(watchlist_id=wl.id, channel=t.split(":", 1)[0], target=t,
                             secret=new_secret() if t.startswith("webhook:") else None) for t in targets]
        s.add_all(subs)
        s.flush()
        return [sub.id for sub in subs]


def deliveries_by_subscription(db) -> dict[int, Delivery]:
    with db.session() as s:
        return {d.subscription_id: d for d in s.scalars(select(Delivery).where(Delivery.kind == "alert"))}


def alert_delivery(db) -> Delivery:
    with db.session() as s:
        return s.scalars(select(Delivery).where(Delivery.kind == "alert")).one()



def dispatch_later(db, hours: float = 25) -> None:
    """Run the dispatcher as if ``hours`` had passed: retries that fell due by then are sent."""
    with db.session() as s:
        for d in s.scalars(select(Delivery).where(Delivery.state == "pending")):
            if d.next_attempt_at and d.next_attempt_at <= utcnow() + dt.timedelta(hours=hours):
                d.next_attempt_at = utcnow() - dt.timedelta(seconds=1)
    asyncio.run(Dispatcher(db).run_once())


def seed_then_change(db, feeds: HttpServer, tmp_path) -> object:
    feeds.set("/opinions.xml", rss(("a1", "Other")))
    config = write_sources(tmp_path / "sources.yaml", {"opinions": feeds.url("/opinions.xml")})
    poll(db, config)
    feeds.set("/opinions.xml", rss(("a2", "Bivens news"), ("a1", "Other")))
    return config


RETRYABLE = {
    "slack_502": (502, "bad gateway", {}),
    "slack_503_retry_after": (503, "maintenance", {"Retry-After": "30"}),
    "slack_504": (504, "gateway timeout", {}),
    "slack_429_long_retry_after": (429, "rate_limited", {"Retry-After": "600"}),
    "slack_408_request_timeout": (408, "", {}),  # a proxy that gave up waiting: the post may go through later
    "slack_425_too_early": (425, "", {}),
}


@pytest.mark.parametrize("name", list(RETRYABLE))
def test_slack_retryable_failure_is_retried_and_sent_once(name, db, feeds, slack: HttpServer, tmp_path):
    config = seed_then_change(db, feeds, tmp_path)
    subscribe(db, "slack:" + slack.url())
    slack.queue(*RETRYABLE[name])
    poll(db, config, wait_limit=0.5)
    assert "rss:opinions:a2" in item_keys(db)  # the change is stored whatever Slack says
    pending = alert_delivery(db)
    assert pending.state == "pending" and pending.attempts == 1 and str(RETRYABLE[name][0]) in pending.last_error
    dispatch_later(db)
    delivered = alert_delivery(db)
    assert delivered.state == "sent" and delivered.attempts == 2
    dispatch_later(db, hours=50)
    assert len(slack.requests) == 2


PERMANENT = {
    "slack_400_invalid_payload": (400, "invalid_payload"),
    "slack_403_action_prohibited": (403, "action_prohibited"),
    "slack_410_channel_is_archived": (410, "channel_is_archived"),
    "slack_200_but_not_ok": (200, "invalid_token"),
}


@pytest.mark.parametrize("name", list(PERMANENT))
def test_slack_permanent_refusal_fails_with_reason_and_is_not_retried(name, db, feeds, slack, tmp_path):
    status, body = PERMANENT[name]
    config = seed_then_change(db, feeds, tmp_path)
    sub_id = subscribe(db, "slack:" + slack.url())
    slack.queue(status, body)
    poll(db, config, wait_limit=0.5)
    failed = alert_delivery(db)
    assert failed.state == "failed" and body in failed.last_error
    dispatch_later(db)
    assert len([r for r in slack.requests if "Bivens" in r.body.decode()]) == 1
    with db.session() as s:
        assert not s.get(Subscription, sub_id).enabled


@pytest.mark.parametrize("fault", ["reset", "refused"])
def test_slack_unreachable_is_retried(fault, db, feeds, faults: FaultServer, slack, tmp_path):
    config = seed_then_change(db, feeds, tmp_path)
    if fault == "reset":
        faults.set("/services/T/B/X", fs.reset())
        target = faults.url("/services/T/B/X")
    else:
        target = f"http://127.0.0.1:{_free_port()}/services/T/B/X"
    sub_id = subscribe(db, "slack:" + target)
    poll(db, config, wait_limit=0.5)
    assert alert_delivery(db).state == "pending"
    with db.session() as s:  # the receiver is back (at a new address in this test)
        s.get(Subscription, sub_id).target = "slack:" + slack.url()
    dispatch_later(db)
    assert alert_delivery(db).state == "sent" and len(slack.requests) == 1


def drip_answer(hung_up: list[int], gone: threading.Event, every: float = 0.2) -> fs.Fault:
    """200 and a 500-byte answer sent a byte at a time, each within the read timeout (two minutes
    in all); records how many bytes had gone out when the client hung up, and sets ``gone``."""
    body = b"o" * 500

    def send(conn) -> None:
        conn.sendall(fs.http_head(200, {"Content-Type": "text/plain", "Content-Length": str(len(body))}))
        for i in range(len(body)):
            try:
                conn.sendall(body[i:i + 1])
            except OSError:
                hung_up.append(i)
                gone.set()
                return
            time.sleep(every)
    return send


@pytest.mark.parametrize("fault", ["never_answers", "drips"])
@pytest.mark.parametrize("channel", ["slack", "webhook"])
def test_hung_receiver_times_out_is_retried_and_does_not_hold_up_other_targets(
        channel, fault, db, feeds, faults: FaultServer, slack: HttpServer, tmp_path, monkeypatch):
    """A receiver that accepts the connection and never answers, or drips its answer: the
    delivery is not marked sent, it is retried later, and a delivery to another target goes out
    in the same dispatch pass once the channel's timeout has cut the hung one off."""
    monkeypatch.setattr(alerts.http, "CHANNEL_TIMEOUT", httpx.Timeout(0.5, connect=0.5))
    monkeypatch.setattr(alerts.http, "SEND_DEADLINE", 1.5)
    hung_up: list[int] = []
    gone = threading.Event()
    faults.set("/hook", fs.hang_before_headers(60) if fault == "never_answers" else drip_answer(hung_up, gone))
    config = seed_then_change(db, feeds, tmp_path)
    hung, other = subscribe_all(db, f"{channel}:{faults.url('/hook')}", "slack:" + slack.url())
    result = poll(db, config, wait_limit=0.5)
    assert (result.dispatch.sent, result.dispatch.retried) == (1, 1)  # one pass, both groups
    deliveries = deliveries_by_subscription(db)
    assert deliveries[other].state == "sent" and len(slack.requests) == 1
    assert deliveries[hung].state == "pending" and deliveries[hung].attempts == 1
    assert "timeout" in deliveries[hung].last_error and faults.url("/hook") not in deliveries[hung].last_error
    if fault == "drips":  # the client hung up mid-answer rather than reading on
        assert gone.wait(5) and hung_up[0] < 100
    faults.set("/hook", fs.respond(200, b"ok", {"Content-Type": "text/plain"}))  # the receiver is back
    dispatch_later(db)
    assert deliveries_by_subscription(db)[hung].state == "sent" and deliveries_by_subscription(db)[hung].attempts == 2
    assert len(slack.requests) == 1  # the other target was not sent twice


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_postgres_connections_killed_between_polls(db, feeds, tmp_path):
    if not db.is_postgres:
        pytest.skip("PostgreSQL only: run with MONITOR_TEST_DATABASE_URL=postgresql+psycopg://…")
    feeds.set("/a.xml", rss(("a1", "One")))
    config = write_sources(tmp_path / "sources.yaml", {"a": feeds.url("/a.xml")})
    poll(db, config)
    admin = create_engine(db.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    admin.dispose()
    assert killed >= 1  # the service's pooled connection was among them
    feeds.set("/a.xml", rss(("a2", "Two"), ("a1", "One")))
    result = poll(db, config)
    assert result.polls[0].outcome == "changed"
    assert item_keys(db) == {"rss:a:a1", "rss:a:a2"}
    assert_versions_consistent(db)


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE sources SET title = 'locked' WHERE 0")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def test_sqlite_locked_by_another_process_waits_then_completes(db, feeds, tmp_path):
    if db.is_postgres:
        pytest.skip("SQLite only")
    feeds.set("/a.xml", rss(("a1", "One")))
    config = write_sources(tmp_path / "sources.yaml", {"a": feeds.url("/a.xml")})
    poll(db, config)
    feeds.set("/a.xml", rss(("a2", "Two"), ("a1", "One")))
    path = db.url.removeprefix("sqlite:///")
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, path, "2"], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        started = time.monotonic()
        result = poll(db, config)
        assert time.monotonic() - started >= 1.0  # it really waited for the other writer
    finally:
        locker.communicate(timeout=30)
    assert result.polls[0].outcome == "changed", result.polls
    assert item_keys(db) == {"rss:a:a1", "rss:a:a2"}
    assert_versions_consistent(db)


def deliver_only(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``monitor run --once`` with no sources: one delivery pass."""
    Path(env["MONITOR_CONFIG"]).write_text("sources: []\n")
    return run_cli(["run", "--once"], env)


@pytest.mark.parametrize("retry_after", ["99999999999999", "3000000000", "Fri, 01 Jan 2121 00:00:00 GMT",
                                         "9" * 400])
def test_a_huge_retry_after_waits_a_day_at_most_and_other_receivers_still_get_theirs(
        db, cli_env, retry_after):
    secret_a, secret_b = new_secret(), new_secret()
    (greedy, _), (plain, plain_hooks) = webhook_receiver(secret_a), webhook_receiver(secret_b)
    try:
        sub_a, sub_b = subscribe_all(db, "webhook:" + greedy.url(), "webhook:" + plain.url())
        with db.session() as s:
            s.get(Subscription, sub_a).secret, s.get(Subscription, sub_b).secret = secret_a, secret_b
            s.add(Source(id="ca9", kind="rss", url="https://www.ca9.uscourts.gov/opinions/rss"))
        for sub in (sub_a, sub_b):
            seed_changes(db, sub, STATUS_MOVE)
        greedy.queue(429, "slow down", {"Retry-After": retry_after})
        result = deliver_only(cli_env)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert len(plain_hooks.unique) == 1  # the pass went on to the next receiver
        row = deliveries_by_subscription(db)[sub_a]
        assert row.state == "pending" and row.last_error.startswith("429")
        assert row.next_attempt_at <= utcnow() + dt.timedelta(days=1, minutes=1)

        # Three days on, a receiver still saying "later" makes the alert fail (the 3-day give-up).
        with db.session() as s:
            s.get(Delivery, row.id).created_at = utcnow() - dt.timedelta(days=3, minutes=1)
            s.get(Delivery, row.id).next_attempt_at = utcnow()
        greedy.queue(429, "slow down", {"Retry-After": retry_after})
        assert deliver_only(cli_env).returncode == 1  # given up: the cron job hears of it
        row = deliveries_by_subscription(db)[sub_a]
        assert row.state == "failed" and row.last_error.startswith("gave up after 3 days: 429")
    finally:
        greedy.close()
        plain.close()


@pytest.mark.usefixtures("quick_first_retry")
def test_a_retry_after_that_is_not_a_number_counts_as_none(db, cli_env):
    """``Retry-After: ²`` (one latin-1 byte that ``str.isdigit`` calls a digit and ``float``
    refuses): the 429 is retried on the schedule and then sent. Before: ``ValueError`` inside the
    channel, a traceback in the log and "internal error" as the receiver's answer."""
    secret = new_secret()
    receiver, hooks = webhook_receiver(secret)
    try:
        [sub] = subscribe_all(db, "webhook:" + receiver.url())
        with db.session() as s:
            s.get(Subscription, sub).secret = secret
            s.add(Source(id="ca9", kind="rss", url="https://www.ca9.uscourts.gov/opinions/rss"))
        seed_changes(db, sub, STATUS_MOVE)
        receiver.queue(429, "slow down", {"Retry-After": "\u00b2"})
        result = deliver_only(cli_env)
    finally:
        receiver.close()
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert len(hooks.unique) == 1
    with db.session() as s:
        answers = [a.response for a in s.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id))]
    assert answers[0].startswith("429 slow down") and answers[-1].startswith("200")


def test_alerts_retry_resends_the_whole_message_under_its_id(db, cli_env, feeds):
    """Two feeds' alerts share one message; the receiver answers 410 (failed, subscription off).
    ``monitor alerts retry`` of one of its deliveries queues the whole message again, resent
    under its ``webhook-id`` with both changes. Before: only the rows of that delivery's poll were
    queued, so the same id came back carrying one change of the two."""
    write_sources(Path(cli_env["MONITOR_CONFIG"]), {n: feeds.url(f"/{n}.xml") for n in ("one", "two")})
    for n in ("one", "two"):
        feeds.set(f"/{n}.xml", rss((f"{n}1", f"Bivens {n} 1")))
    assert run_cli(["run", "--once"], cli_env).returncode == 0  # baseline
    secret = new_secret()
    receiver, hooks = webhook_receiver(secret)
    try:
        [sub] = subscribe_all(db, "webhook:" + receiver.url())
        with db.session() as s:
            s.get(Subscription, sub).secret = secret
        for n in ("one", "two"):
            feeds.set(f"/{n}.xml", rss((f"{n}2", f"Bivens {n} 2"), (f"{n}1", f"Bivens {n} 1")))
        receiver.queue(410, "gone")
        assert run_cli(["run", "--once"], cli_env).returncode == 1  # refused for good
        with db.session() as s:
            rows = list(s.scalars(select(Delivery).order_by(Delivery.id)))
        assert {r.state for r in rows} == {"failed"} and len({r.group_key for r in rows}) == 2
        assert len({r.message_id for r in rows}) == 1  # the two polls' alerts went in one message
        assert run_cli(["alerts", "retry", str(rows[0].id)], cli_env).returncode == 0
        assert deliver_only(cli_env).returncode == 0
    finally:
        receiver.close()
    refused, again = receiver.requests
    assert again.headers["webhook-id"] == refused.headers["webhook-id"]
    titles = sorted(c["title"] for c in again.json()["data"]["changes"])
    assert titles == sorted(c["title"] for c in refused.json()["data"]["changes"]) == ["Bivens one 2", "Bivens two 2"]
    assert len(hooks.unique) == 1


@pytest.mark.parametrize("answer", ["gzip_bomb", "endless"])
def test_a_receiver_answering_a_bomb_or_without_end_costs_no_more_than_its_first_kilobytes(db, answer):
    """A webhook receiver answers 200 with 64 KiB of gzip that inflate to 64 MiB (sent although
    the post asked for an unencoded answer), or with a body that never ends. The delivery is
    ``sent``, the stored answer is short, and the dispatch pass's peak allocation stays far below
    the bomb. Before: httpx inflated the whole answer (64 MiB and a 64-million-character str) and
    read an endless one until the send deadline."""
    import gzip
    import tracemalloc

    from tests.fakes.http_server import Reply

    secret = new_secret()
    receiver, _hooks = webhook_receiver(secret)
    bomb = gzip.compress(bytes(64 * 1024 * 1024))
    reply = (Reply(200, bomb, {"Content-Encoding": "gzip"}) if answer == "gzip_bomb"
             else Reply(200, endless=True))
    receiver.route("/hooks/remedy", lambda request: reply)
    try:
        [sub] = subscribe_all(db, "webhook:" + receiver.url())
        with db.session() as s:
            s.add(Source(id="ca9", kind="rss", url="https://www.ca9.uscourts.gov/opinions/rss"))
        seed_changes(db, sub, STATUS_MOVE)
        tracemalloc.start()
        try:
            asyncio.run(Dispatcher(db).run_once())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        receiver.close()
    row = deliveries_by_subscription(db)[sub]
    assert row.state == "sent", row.last_error
    with db.session() as s:
        [attempt] = s.scalars(select(DeliveryAttempt))
    assert attempt.response.startswith("200") and len(attempt.response) <= 250
    assert peak < 16 * 1024 * 1024, f"peak allocation {peak} bytes"
