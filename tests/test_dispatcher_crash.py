"""Kill ``monitor run --once`` at each named fail point of a delivery, then run it again.

Between send and record at most one duplicate, with the same webhook-id and the same content;
anywhere else none. The killed process's claim is taken back at once (its pid is gone), not
after the lease; a claim by a process on another host waits for its lease unless its worker's
heartbeats declare it dead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from alerts.http import channel_client
from monitor.delivery.dispatcher import LEASE, DispatchStats
from monitor.drivers.workers import (
    ClusterSettings,
    build_app,
    describe_worker,
    ensure_queue_schema,
    worker_dispatcher,
)
from monitor.models import Delivery, StatusEvent, StatusReport, Subscription, utcnow
from tests.alerting import (
    FIELD_EDIT,
    NEW_OPINION,
    STATUS_MOVE,
    deliveries,
    dispatch,
    seed_changes,
    seed_watchlist,
    subscription,
)
from tests.cluster import reset_queue
from tests.conftest import run_cli
from tests.fakes.http_server import HttpServer, SignedWebhooks, webhook_receiver
from tests.fakes.smtp_server import Mailbox, smtp_server
from tests.forked import cli_process, run_cli_forked


@pytest.fixture
def receiver(db) -> Iterator[tuple[HttpServer, SignedWebhooks, int]]:
    sub = seed_watchlist(db, target="webhook:http://127.0.0.1:9/placeholder")
    server, hooks = webhook_receiver(subscription(db, sub).secret or "")
    with db.session() as s:
        s.get(Subscription, sub).target = "webhook:" + server.url()
    yield server, hooks, sub
    server.close()


def deliver(env: dict[str, str], failpoint: str | None = None) -> int:
    """``monitor run --once`` over no sources (it only delivers); its exit code."""
    Path(env["MONITOR_CONFIG"]).write_text("sources: []\n")
    if failpoint:  # the process kills itself there: a process of its own
        return run_cli_forked(["run", "--once"], env | {"MONITOR_FAILPOINTS": f"{failpoint}=kill"}).returncode
    return run_cli(["run", "--once"], env).returncode


@pytest.mark.parametrize(("point", "posts"), [("dispatch.after-claim", 1), ("dispatch.after-send", 2),
                                              ("dispatch.after-record", 1)])
def test_kill_at_each_fail_point(db, cli_env, receiver, point, posts) -> None:
    server, hooks, sub = receiver
    seed_changes(db, sub, STATUS_MOVE)
    assert deliver(cli_env, point) == -signal.SIGKILL
    # The dead process's claim is taken back by the next run on this host, without waiting.
    assert deliver(cli_env) == 0
    assert len(server.requests) == posts
    assert len({r.headers["webhook-id"] for r in server.requests}) == 1
    assert len({r.json()["data"]["changes"][0]["title"] for r in server.requests}) == 1
    assert len(hooks.unique) == 1 and all(hooks.valid(r) for r in server.requests)
    assert [d.state for d in deliveries(db)] == ["sent"]


def test_a_kill_resends_only_the_message_in_flight_not_those_already_answered(db, cli_env) -> None:
    """Two receivers answering in a second each: ``monitor run --once`` is killed while the second
    is answering. The first message was recorded as soon as it was answered (one commit per
    message), so the next run resends only the second. Recorded once per pass, both came twice."""
    servers: list[HttpServer] = []
    for name in ("ana", "ben"):
        sub = seed_watchlist(db, name, target="webhook:http://127.0.0.1:9/placeholder")
        server, _ = webhook_receiver(subscription(db, sub).secret or "", delay=1.0)
        with db.session() as s:
            s.get(Subscription, sub).target = "webhook:" + server.url()
        seed_changes(db, sub, STATUS_MOVE)
        servers.append(server)
    Path(cli_env["MONITOR_CONFIG"]).write_text("sources: []\n")
    try:
        with cli_process(["run", "--once"], cli_env) as child:
            assert servers[0].wait_requests(1, timeout=60) and servers[1].wait_requests(1, timeout=10)
            child.kill()  # the second receiver is still answering
        assert deliver(cli_env) == 0
    finally:
        for server in servers:
            server.close()
    assert [len(server.requests) for server in servers] == [1, 2]
    assert len({r.headers["webhook-id"] for r in servers[1].requests}) == 1
    assert [d.state for d in deliveries(db)] == ["sent", "sent"]


def test_a_retry_keeps_the_corroboration_its_first_send_showed(db, cli_env, receiver) -> None:
    """The alert of a status move goes out, ``monitor run --once`` is killed before recording it, and
    a second provider confirms the move before the retry: the retry under the same webhook-id is
    still its first send, byte for byte. Before: it said "Confirmed by congress" the second time."""
    server, _, sub = receiver
    [delivery_id] = seed_changes(db, sub, STATUS_MOVE)
    with db.session() as s:
        change = s.get(Delivery, delivery_id).change
        event = StatusEvent(identity="us/119/s/3470", kind="bill", status="reported", first_source_id="ca9",
                            first_change_id=change.id)
        event.reports.append(StatusReport(source_id="ca9", item_id=change.item_id, change_id=change.id))
        s.add(event)
    assert deliver(cli_env, "dispatch.after-send") == -signal.SIGKILL
    with db.session() as s:
        s.add(StatusReport(event_id=s.scalars(select(StatusEvent.id)).one(), source_id="congress"))
    assert deliver(cli_env) == 0
    first, again = server.requests
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert again.body == first.body
    assert [d.state for d in deliveries(db)] == ["sent"]


def test_claim_of_another_host_waits_for_its_lease(db, receiver) -> None:
    server, _, sub = receiver
    seed_changes(db, sub, STATUS_MOVE)
    now = utcnow()
    with db.session() as s:
        s.execute(update(Delivery).values(state="sending", message_id="rm_elsewhere",
                                          lease_owner="other-host:4242:99:cafe", lease_until=now + LEASE))
    assert dispatch(db, now).messages == 0  # its owner may be alive: nobody else touches the rows
    dispatch(db, now + LEASE + dt.timedelta(seconds=1))
    assert [r.headers["webhook-id"] for r in server.requests] == ["rm_elsewhere"]
    assert [d.state for d in deliveries(db)] == ["sent"]


def test_an_email_resent_after_a_kill_keeps_its_message_id_and_changes(db, cli_env) -> None:
    sub = seed_watchlist(db, target="email:ana@example.org")
    seed_changes(db, sub, STATUS_MOVE, NEW_OPINION)
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        env = cli_env | {"MONITOR_SMTP_URL": f"smtp://127.0.0.1:{port}",
                         "MONITOR_MAIL_FROM": "Remedy Monitor <alerts@example.org>",
                         "MONITOR_PUBLIC_URL": "https://monitor.example.org"}
        assert deliver(env, "dispatch.after-send") == -signal.SIGKILL
        seed_changes(db, sub, FIELD_EDIT, poll="p2")  # arrives before the retry: a new message
        assert deliver(env) == 0
    first, again, new = mailbox.messages
    assert first["Message-ID"] == again["Message-ID"] != new["Message-ID"]
    assert first["Subject"] == again["Subject"] == "[Bivens remedies] 2 changes"
    assert first.get_body(("plain",)).get_content() == again.get_body(("plain",)).get_content()
    assert "Roe v. Doe" in new["Subject"]
    assert [d.state for d in deliveries(db)] == ["sent"] * 3


def test_claim_of_a_worker_whose_heartbeats_stopped_is_taken_back_at_once(db, db_url, receiver) -> None:
    """A ``monitor worker`` on another host claims an alert and dies: while its heartbeats are
    fresh nobody touches the claim; once they are older than MONITOR_WORKER_STALLED_AFTER the
    next worker sends it at once, under the same webhook-id, not after the 5-minute lease."""
    if db_url.startswith("sqlite"):
        pytest.skip("workers' heartbeats live in the PostgreSQL job queue")
    server, _, sub = receiver
    seed_changes(db, sub, STATUS_MOVE)
    reset_queue(db_url)
    ensure_queue_schema(db)
    settings = ClusterSettings(heartbeat=1.0, stalled_after=3.0)

    async def register() -> int:
        async with build_app(db, settings).open_async() as queue:
            return await queue.job_manager.register_worker()

    elsewhere = asyncio.run(register())
    owner = "other-host:4242:99:cafe"
    describe_worker(db, elsewhere, {"host": "other-host", "pid": 4242, "lease_owner": owner})
    now = utcnow()
    with db.session() as s:
        s.execute(update(Delivery).values(state="sending", message_id="rm_elsewhere",
                                          lease_owner=owner, lease_until=now + LEASE))

    def worker_pass() -> DispatchStats:
        async def run() -> DispatchStats:
            async with channel_client() as client:
                return await worker_dispatcher(db, settings, client).run_once(now)
        return asyncio.run(run())

    assert worker_pass().messages == 0  # its heartbeat is fresh: it may still be sending
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '4 seconds' "
                          "WHERE id = :id"), {"id": elsewhere})
    assert worker_pass().sent == 1  # the lease has most of its 5 minutes left
    assert [r.headers["webhook-id"] for r in server.requests] == ["rm_elsewhere"]
    assert [d.state for d in deliveries(db)] == ["sent"]
