"""SIGKILL at random points of polls and deliveries, many times over, then the invariants.

A child process polls a set of feeds that keep changing (new items, edited items) and
delivers alerts to the Slack fake, back to back, and is killed with SIGKILL at a random
moment, again and again. Then one clean run finishes the work (it takes back what a killed
process had claimed: its pid is gone), and:

- every item the feeds exposed is stored exactly once, at its latest content (the feeds keep
  every item, so the final run can see what a killed run missed);
- no half-written version: ``item.version`` equals its number of versions, every change
  points at a stored version;
- every due alert was sent, and at most once, except the documented window: a kill after
  Slack accepted a message but before the delivery was recorded as sent repeats it once.

Then the webhook cases: a retry after a kill is the same message (same ``webhook-id``, same
changes) and later changes go in a new one; and a kill loop against a slow receiver that
de-duplicates on ``webhook-id`` (``KILL_LOOP_KILLS``, default 4; RELIABILITY.md has a 55-kill run).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select, update

from alerts.webhook import new_secret
from monitor.config import load_config
from monitor.drivers.service import run_once
from monitor.models import Change, Delivery, Item, Source, Subscription, Watchlist
from tests.conftest import run_cli
from tests.fakes.http_server import HttpServer, SignedWebhooks, webhook_receiver
from tests.forked import run_cli_forked, start_passes
from tests.reliability.helpers import assert_versions_consistent, rss, write_sources

KILLS = 12
FEEDS = ("one", "two")



class ChangingFeeds:
    """Every tick each feed gains a new item and edits the previous one (a new version)."""

    def __init__(self, feeds) -> None:
        self.feeds = feeds
        self.tick = 0
        self.latest: dict[str, str] = {}  # item key -> latest title
        self.lock = threading.Lock()
        self.publish()

    def publish(self) -> None:
        with self.lock:
            self.tick += 1
            for name in FEEDS:
                entries = []
                for n in range(1, self.tick + 1):
                    edits = min(self.tick - n, 2)
                    title = f"Case {name}-{n} v{edits}"
                    entries.append((f"{name}-{n}", title))
                    self.latest[f"rss:{name}:{name}-{n}"] = title
                self.feeds.set(f"/{name}.xml", rss(*reversed(entries)))


def test_sigkill_at_random_points_loses_nothing_and_duplicates_nothing(db, db_url, feeds, slack, tmp_path):
    rng = random.Random(int(os.environ.get("KILL_SEED", "8")))
    config = write_sources(tmp_path / "sources.yaml", {n: feeds.url(f"/{n}.xml") for n in FEEDS})
    changing = ChangingFeeds(feeds)
    with db.session() as s:
        watchlist = Watchlist(name="cases", query="case")
        s.add(watchlist)
        s.flush()
        s.add(Subscription(watchlist_id=watchlist.id, channel="slack", target="slack:" + slack.url()))
    asyncio.run(run_once(db, load_config(config), wait_limit=1))  # baseline

    stop = threading.Event()

    def churn() -> None:
        while not stop.wait(0.4):
            changing.publish()

    churner = threading.Thread(target=churn, daemon=True)
    churner.start()
    killed_at: list[float] = []
    try:
        for _ in range(KILLS):
            child = start_passes(db_url, config)
            if len(killed_at) % 2:  # at a random moment
                time.sleep(rng.uniform(0.05, 1.5))
            else:  # just after Slack received a message: inside the send/record window
                slack.wait_requests(len(slack.requests) + 1, timeout=3)
                time.sleep(rng.uniform(0, 0.05))
            child.kill()
            child.join()
            killed_at.append(time.monotonic())
    finally:
        stop.set()
        churner.join()

    # The clean run: a killed process's poll leases have expired by the time anyone looks again
    # (a killed poller's source is skipped until then: tests/test_lease.py); its claimed
    # deliveries are taken back at once, since its pid is gone.
    with db.session() as s:
        s.execute(update(Source).values(lease_owner=None, lease_until=None))
    asyncio.run(run_once(db, load_config(config), wait_limit=30))

    with db.session() as s:
        stored = {i.key: i.title for i in s.scalars(select(Item))}
        states = Counter(d.state for d in s.scalars(select(Delivery).where(Delivery.kind == "alert")))
    assert stored == changing.latest, "every exposed item stored once, at its latest content"
    assert_versions_consistent(db)
    assert set(states) == {"sent"}, states

    # Each new item has exactly one alert, and every alert message reached Slack; a message is
    # repeated only when a kill fell between Slack's "ok" and the commit that records it.
    with db.session() as s:
        alerted = Counter(key for key, in s.execute(
            select(Item.key).join(Change, Change.item_id == Item.id).join(Delivery, Delivery.change_id == Change.id)
            .where(Delivery.kind == "alert", Change.type == "new")))
    new_items = set(stored) - {f"rss:{n}:{n}-1" for n in FEEDS}  # the baseline items never alert
    assert set(alerted) == new_items and set(alerted.values()) == {1}
    messages = [json.loads(r.body)["text"] for r in slack.requests]
    totals = [int(re.search(r": (\d+) changes?", t.splitlines()[0]).group(1)) for t in messages]
    # Every alert was counted in a message Slack accepted. A kill between Slack's "ok" and the
    # commit that records it repeats that one message's changes (after a restart they may share a
    # message with alerts that fell due since), so each kill repeats at most one message's worth.
    repeated_changes = sum(totals) - sum(alerted.values())
    assert 0 <= repeated_changes <= sum(sorted(totals)[-KILLS:]), \
        f"{repeated_changes} changes repeated for {KILLS} kills"
    print(f"kills={KILLS} items={len(stored)} alerts={sum(alerted.values())} messages={len(messages)} "
          f"repeated_changes={repeated_changes}")


def webhook_watch(db, delay: float = 0.0) -> tuple[HttpServer, SignedWebhooks, int]:
    """A watchlist for "case" and a webhook subscription to a receiver that checks its secret."""
    secret = new_secret()
    receiver, hooks = webhook_receiver(secret, delay=delay)
    with db.session() as s:
        watchlist = Watchlist(name="cases", query="case")
        s.add(watchlist)
        s.flush()
        sub = Subscription(watchlist_id=watchlist.id, channel="webhook", target="webhook:" + receiver.url(),
                           secret=secret)
        s.add(sub)
        s.flush()
        return receiver, hooks, sub.id


def titles(received) -> list[str]:
    return [c["title"] for c in received.json()["data"]["changes"]]


def changes(received) -> list[tuple[str, ...]]:
    """The changes a webhook message carries, each as (item, type, field, old, new)."""
    return sorted(tuple(str(c[k]) for k in ("item", "type", "field", "old", "new"))
                  for c in received.json()["data"]["changes"])


def test_a_retry_resends_the_same_message_and_later_changes_go_in_a_new_one(db, cli_env, feeds):
    config = write_sources(Path(cli_env["MONITOR_CONFIG"]), {"one": feeds.url("/one.xml")})
    feeds.set("/one.xml", rss(("c1", "Case 1")))
    assert run_cli(["run", "--once"], cli_env).returncode == 0  # baseline
    receiver, hooks, _sub = webhook_watch(db)
    try:
        feeds.set("/one.xml", rss(("c3", "Case 3"), ("c2", "Case 2"), ("c1", "Case 1")))
        killed = run_cli_forked(["run", "--once"], cli_env | {"MONITOR_FAILPOINTS": "dispatch.after-send=kill"})
        assert killed.returncode == -signal.SIGKILL
        feeds.set("/one.xml", rss(("c5", "Case 5"), ("c4", "Case 4"), ("c3", "Case 3"), ("c2", "Case 2"),
                                  ("c1", "Case 1")))
        assert run_cli(["run", "--once"], cli_env).returncode == 0, config.read_text()
    finally:
        receiver.close()
    first, again, new = receiver.requests
    assert first.headers["webhook-id"] == again.headers["webhook-id"] != new.headers["webhook-id"]
    assert sorted(titles(first)) == sorted(titles(again)) == ["Case 2", "Case 3"]
    assert sorted(titles(new)) == ["Case 4", "Case 5"]
    # What a receiver that de-duplicates on webhook-id keeps: every change, once.
    assert sorted(t for r in hooks.unique.values() for t in titles(r)) == [f"Case {n}" for n in range(2, 6)]
    with db.session() as s:
        assert {d.state for d in s.scalars(select(Delivery))} == {"sent"}


def test_kill_loop_with_a_slow_receiver_delivers_every_change(db, db_url, feeds, tmp_path):
    """kill -9 at random moments while a 0.5 s receiver answers: every change arrives, a
    duplicate only ever repeats one whole message under its own id, at most one per kill."""
    kills = int(os.environ.get("KILL_LOOP_KILLS", "4"))
    rng = random.Random(int(os.environ.get("KILL_SEED", "16")))
    config = write_sources(tmp_path / "sources.yaml", {n: feeds.url(f"/{n}.xml") for n in FEEDS})
    changing = ChangingFeeds(feeds)
    asyncio.run(run_once(db, load_config(config), wait_limit=1))  # baseline
    receiver, hooks, _sub = webhook_watch(db, delay=0.5)
    try:
        for _ in range(kills):
            changing.publish()
            child = start_passes(db_url, config)
            receiver.wait_requests(len(receiver.requests) + 1, timeout=10)
            time.sleep(rng.uniform(0, 0.6))  # inside the 0.5 s answer, or just after it
            child.kill()
            child.join()
        with db.session() as s:  # a killed poller's source lease (not a delivery's) waits its term
            s.execute(update(Source).values(lease_owner=None, lease_until=None))
        asyncio.run(run_once(db, load_config(config), wait_limit=30))
    finally:
        receiver.close()

    with db.session() as s:
        states = Counter(d.state for d in s.scalars(select(Delivery)))
        alerted = sorted(tuple(str(v) for v in row) for row in s.execute(
            select(Item.key, Change.type, Change.field, Change.old, Change.new)
            .join(Change, Change.item_id == Item.id).join(Delivery, Delivery.change_id == Change.id)))
    assert set(states) == {"sent"}, states
    bodies: dict[str, list[list[tuple[str, ...]]]] = {}
    for r in receiver.requests:
        bodies.setdefault(r.headers["webhook-id"], []).append(changes(r))
    assert all(b == same[0] for same in bodies.values() for b in same), "a message changed under its id"
    kept = Counter(c for r in hooks.unique.values() for c in changes(r))
    assert sorted(kept) == alerted and set(kept.values()) == {1}
    duplicates = len(receiver.requests) - len(bodies)
    assert duplicates <= kills
    received = Counter(c for r in receiver.requests for c in changes(r))  # what a receiver without dedup got
    print(f"kills={kills} messages={len(bodies)} posts={len(receiver.requests)} duplicate_posts={duplicates} "
          f"alerts={len(alerted)} alerts_received_more_than_once={sum(n > 1 for n in received.values())} "
          f"duplicates_after_dedup={sum(kept.values()) - len(kept)}")


def test_a_retried_message_is_its_first_send_byte_for_byte_though_its_items_moved_on(db, cli_env, feeds):
    """The retry after a kill resends the body first sent (the item's title, link and summary as of
    the change), though the feed renamed the item since. Before: the retry carried the newer title
    under the old ``webhook-id``, and a receiver that de-duplicates on it never saw the difference."""
    write_sources(Path(cli_env["MONITOR_CONFIG"]), {"one": feeds.url("/one.xml")})
    feeds.set("/one.xml", rss(("c1", "Case 1")))
    assert run_cli(["run", "--once"], cli_env).returncode == 0  # baseline
    receiver, _hooks, _sub = webhook_watch(db)
    try:
        feeds.set("/one.xml", rss(("c2", "Case 2"), ("c1", "Case 1")))
        killed = run_cli_forked(["run", "--once"], cli_env | {"MONITOR_FAILPOINTS": "dispatch.after-send=kill"})
        assert killed.returncode == -signal.SIGKILL
        feeds.set("/one.xml", rss(("c2", "Case 2 renamed"), ("c1", "Case 1")))
        assert run_cli(["run", "--once"], cli_env).returncode == 0
    finally:
        receiver.close()
    first, again = receiver.requests  # the rename is not news to this watchlist's rule
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert titles(first) == ["Case 2"]
    assert again.body == first.body
