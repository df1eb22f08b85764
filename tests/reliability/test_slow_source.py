"""A slowloris source must not hold back the alerts of the polls that already finished (issue 16
item 6): in a ``run --once`` pass, each poll's alerts go out as soon as the poll is stored.

The stalled feed answers only once the Slack-like receiver has the other feed's alert (or after a
safety bound, which makes the test fail): what is asserted is what the receiver got while the
stalled poll was still waiting, not how long anything took.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import pytest

import monitor.drivers.service
from monitor.db import Database
from monitor.fetch import Fetcher
from monitor.models import Subscription, Watchlist
from tests.fakes.http_server import SLACK_HOOK, HttpServer, Reply, Request, slack_ok
from tests.reliability.helpers import poll, rss, write_sources

SAFETY_BOUND = 60.0  # seconds the stalled feed waits for the alert before answering anyway


def test_alerts_of_finished_polls_go_out_while_a_source_stalls(db: Database, feeds: HttpServer, slack: HttpServer,
                                                               tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # timeouts longer than the stall: the stalled poll must still be waiting when the alert arrives
    monkeypatch.setattr(monitor.drivers.service, "Fetcher",
                        functools.partial(Fetcher, timeout=SAFETY_BOUND + 30, total_timeout=SAFETY_BOUND + 30))
    slow = rss(("s1", "Slow court's opinion"))
    feeds.set("/slow.xml", slow)
    feeds.set("/fast.xml", rss(("f1", "Old ruling")))
    config = write_sources(tmp_path / "sources.yaml", {"slow": feeds.url("/slow.xml"), "fast": feeds.url("/fast.xml")})
    with db.session() as s:
        watchlist = Watchlist(name="bivens", query="bivens")
        s.add(watchlist)
        s.flush()
        s.add(Subscription(watchlist_id=watchlist.id, channel="slack", target="slack:" + slack.url()))
    poll(db, config)  # the baseline of both

    alerted = threading.Event()
    stalled_until_alert: list[bool] = []

    def receive(request: Request) -> Reply:
        alerted.set()
        return slack_ok(request)

    def stall_until_the_alert(_request: Request) -> Reply:
        stalled_until_alert.append(alerted.wait(SAFETY_BOUND))
        return Reply(200, slow, {"Content-Type": "application/xml"})

    slack.route(SLACK_HOOK, receive)
    feeds.route("/slow.xml", stall_until_the_alert)
    feeds.set("/fast.xml", rss(("f2", "Bivens claim allowed to proceed"), ("f1", "Old ruling")))
    result = poll(db, config)

    assert stalled_until_alert == [True], "the alert waited for the stalled source"
    assert len(slack.requests) == 1 and "Bivens claim allowed to proceed" in slack.requests[0].json()["text"]
    assert {p.source_id: p.outcome for p in result.polls} == {"slow": "unchanged", "fast": "changed"}
    assert result.dispatch.sent == 1
