"""SIGKILL the dispatcher at each named point: between send and record at most one duplicate
(with the same webhook-id), anywhere else none."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from monitor.delivery.dispatcher import LEASE
from monitor.models import Subscription, utcnow
from tests.alerting import STATUS_MOVE, deliveries, dispatch, seed_changes, seed_watchlist, subscription
from tests.fakes.webhook_receiver import WebhookReceiver

RUN_DISPATCHER = ("import asyncio, sys; from monitor.db import Database; from monitor.delivery.dispatcher import Dispatcher; "
                  "asyncio.run(Dispatcher(Database(sys.argv[1])).run_once())")


@pytest.fixture
def receiver(db) -> Iterator[tuple[WebhookReceiver, int]]:
    sub = seed_watchlist(db, target="webhook:http://127.0.0.1:9/placeholder")
    server = WebhookReceiver(subscription(db, sub).secret or "")
    with db.session() as s:
        s.get(Subscription, sub).target = "webhook:" + server.url()
    yield server, sub
    server.close()


@pytest.mark.parametrize(("point", "posts"), [("claimed", 1), ("sent", 2), ("recorded", 1)])
def test_sigkill_at_each_point(db, db_url, cli_env, receiver, tmp_path, point, posts) -> None:
    server, sub = receiver
    seed_changes(db, sub, STATUS_MOVE)
    marker = tmp_path / "paused"
    env = cli_env | {"MONITOR_DISPATCH_PAUSE_AT": point, "MONITOR_DISPATCH_PAUSE_AT_FILE": str(marker)}
    proc = subprocess.Popen([sys.executable, "-c", RUN_DISPATCHER, db_url], env=env)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "dispatcher exited before reaching its pause point"
            assert time.monotonic() < deadline, "dispatcher never reached its pause point"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    # While the dead dispatcher's lease runs, nobody else touches its rows.
    assert dispatch(db).messages == 0
    # After the lease: the survivor finishes the job.
    dispatch(db, utcnow() + LEASE + dt.timedelta(seconds=1))
    assert len(server.requests) == posts
    assert len({r.headers["webhook-id"] for r in server.requests}) == 1
    assert len(server.unique) == 1 and all(r.valid for r in server.requests)
    assert [d.state for d in deliveries(db)] == ["sent"]
