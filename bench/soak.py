"""Soak: many sources with random faults for minutes, then what was lost, repeated or leaked.

Not part of CI. Runs the real ``run_once`` in rounds against local servers: a fault server
whose every feed answers each request with a random fault (5xx, 429, reset, hang, truncated
body, garbage, TLS bytes) or the healthy feed, and a Slack fake that fails some posts. Feeds
gain and edit items as it runs. At the end one fault-free round lets the service catch up, and
the report compares what the feeds exposed with what was stored and delivered.

    python bench/soak.py --sources 1000 --minutes 10
    python bench/soak.py --sources 100 --minutes 1      # smoke
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["MONITOR_ALLOW_PRIVATE_URLS"] = "1"

from sqlalchemy import func, select, update

import monitor.drivers.service
from monitor.config import load_config
from monitor.db import Database
from monitor.drivers.service import run_once
from monitor.fetch import Fetcher
from monitor.models import Delivery, Item, ItemVersion, Subscription, Watchlist, utcnow
from tests.fakes import socket_faults as fs
from tests.fakes.http_server import HttpServer, slack_ok

GROUPS = 20  # one watchlist and Slack target per group, so per-target pacing does not dominate
FAULT_RATE = 0.3


def rss(entries: list[tuple[str, str]]) -> bytes:
    items = "".join(f"<item><guid>{g}</guid><title>{t}</title><link>https://example.org/{g}</link></item>"
                    for g, t in entries)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'.encode()


class Feeds:
    """Per source: a list of (guid, title); ``churn`` adds items and edits recent ones."""

    def __init__(self, n: int, rng: random.Random) -> None:
        self.rng = rng
        self.entries = {f"s{i}": [(f"s{i}-0", f"Case grp{i % GROUPS} s{i}-0 v0")] for i in range(n)}
        self.lock = threading.Lock()
        self.faults_on = True
        self.served = Counter()

    def churn(self, share: float) -> None:
        with self.lock:
            for sid, entries in self.entries.items():
                if self.rng.random() < share:
                    n = len(entries)
                    entries.insert(0, (f"{sid}-{n}", f"Case grp{int(sid[1:]) % GROUPS} {sid}-{n} v0"))
                if self.rng.random() < share / 2:
                    guid, title = entries[0]
                    base, version = title.rsplit(" v", 1)
                    entries[0] = (guid, f"{base} v{int(version) + 1}")

    def fault_for(self, sid: str) -> fs.Fault:
        with self.lock:
            body = rss(list(self.entries[sid]))
        if not self.faults_on or self.rng.random() > FAULT_RATE:
            self.served["healthy"] += 1
            return fs.respond(200, body)
        name, fault = self.rng.choice([
            ("500", fs.respond(500, b"oops")), ("503", fs.respond(503, b"", {"Retry-After": "1"})),
            ("429", fs.respond(429, b"")), ("reset", fs.reset()), ("hang", fs.hang_before_headers(3)),
            ("truncated", fs.truncated(body)), ("garbage", fs.respond(200, b"\x00garbage")),
            ("tls", fs.raw(fs.TLS_GARBAGE)), ("html", fs.respond(200, b"<html><body>down</body></html>")),
        ])
        self.served[name] += 1
        return fault

    def exposed(self) -> dict[str, str]:
        with self.lock:
            return {f"rss:{sid}:{g}": t for sid, entries in self.entries.items() for g, t in entries}


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    monitor.drivers.service.Fetcher = functools.partial(Fetcher, timeout=2.0, connect_timeout=2.0, retries=1,
                                                retry_base=0.1, max_retry_wait=1.0, total_timeout=3.0)
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    db = Database(args.db or f"sqlite:///{workdir / 'soak.db'}")
    db.upgrade()
    feeds = Feeds(args.sources, rng)
    server = fs.FaultServer()
    for sid in feeds.entries:
        server.set(f"/{sid}.xml", lambda conn, sid=sid: feeds.fault_for(sid)(conn))
    slack = HttpServer(fallback=slack_ok)
    config_path = workdir / "sources.yaml"
    config_path.write_text("sources:\n" + "".join(
        f"  - {{id: {sid}, kind: rss, url: '{server.url(f'/{sid}.xml')}'}}\n" for sid in feeds.entries))
    config = load_config(config_path)
    with db.session() as s:
        for g in range(GROUPS):
            wl = Watchlist(name=f"grp{g}", query=f"grp{g}")
            s.add(wl)
            s.flush()
            s.add(Subscription(watchlist_id=wl.id, channel="slack", target="slack:" + slack.url(f"/services/T/B/g{g}")))

    started = time.monotonic()
    rss_by_round: dict[int, int] = {}  # every fifth round: growth that keeps climbing is a leak
    rounds = 0
    while time.monotonic() - started < args.minutes * 60:
        for _ in range(rng.randint(0, 3)):  # Slack has a bad minute now and then
            slack.queue(rng.choice([500, 503, 429]), "trouble", {"Retry-After": "1"})
        asyncio.run(run_once(db, config, wait_limit=1.0))
        rounds += 1
        if rounds == 2 or rounds % 5 == 0:
            rss_by_round[rounds] = rss_kb()
        feeds.churn(share=0.05)

    # Catch-up: faults end, leases and retry waits are over; the service should converge.
    feeds.faults_on = False
    slack.queued.clear()  # Slack's bad minute is over too
    with db.session() as s:
        s.execute(update(Delivery).where(Delivery.state.in_(("pending", "sending"))).values(
            state="pending", lease_until=None, next_attempt_at=utcnow() - dt.timedelta(seconds=1)))
    asyncio.run(run_once(db, config, wait_limit=60.0))
    rss_end = rss_kb()

    exposed = feeds.exposed()
    with db.session() as s:
        stored = {i.key: i.title for i in s.scalars(select(Item))}
        versions = s.scalar(select(func.count()).select_from(ItemVersion))
        states = Counter(d.state for d in s.scalars(select(Delivery).where(Delivery.kind == "alert")))
    texts = [r.json()["text"] for r in slack.requests]
    ok_texts = [r.json()["text"] for r in slack.requests if r.status == 200]  # the posts Slack accepted
    refused = len(texts) - len(ok_texts)
    report = {
        "sources": args.sources, "minutes": args.minutes, "rounds": rounds,
        "answers_served": dict(feeds.served),
        "items_exposed": len(exposed), "items_stored": len(stored),
        "items_missing": len(set(exposed) - set(stored)),
        "items_stale": sum(1 for k, t in exposed.items() if stored.get(k) not in (None, t)),
        "versions_stored": versions,
        "alert_deliveries": dict(states),
        "slack_posts": len(texts), "slack_refused_posts": refused,
        "slack_repeated_accepted_posts": len(ok_texts) - len(set(ok_texts)),
        "rss_kb_by_round": rss_by_round, "rss_kb_end": rss_end,
        "note": "RSS is the whole soak process: the fault server, the Slack fake (it keeps every post) "
                "and the growing feeds live in it too",
    }
    print(json.dumps(report, indent=2))
    server.close()
    slack.close()
    db.dispose()


if __name__ == "__main__":
    main()
