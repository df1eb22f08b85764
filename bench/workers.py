"""Throughput of ``monitor worker`` with 1, 2 and 4 workers against one local PostgreSQL.

Every source is always due (interval 1s), so the workers poll as fast as they can. Most feeds
answer repeat polls with 304 (the common case in production); ``--changing`` of them publish
``--new-items`` fresh entries on every request, so the parse-and-store path is in the mix too.
Measured over a window after every source had its first (baseline) poll: polls per second the
feed server saw, new items per second stored in the database, and the CPU the worker processes
and their PostgreSQL backends used per poll (from /proc): it varies far less than the rates
with what else the machine runs, and it says how many polls/s the cores can carry. Each run
gets a fresh database; the load average is printed so shared-machine noise is visible.

    python bench/workers.py --workers 1 2 4 --sources 300 --seconds 30
"""

from __future__ import annotations

import argparse
import email.utils
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.db import Database, database_url
from monitor.models import Item
from tests.cluster import Cluster, TimedFeeds, cluster_env, wait_for, write_sources
from tests.fakes.http_server import Reply, Request

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TICKS = os.sysconf("SC_CLK_TCK")


class ChangingFeeds(TimedFeeds):
    """Routes in ``changing`` answer every request with ``new_items`` entries never seen before."""

    def __init__(self, changing: set[str], new_items: int) -> None:
        super().__init__()
        self.changing = changing
        self.new_items = new_items
        self.served = 0

    def answer(self, request: Request) -> Reply:
        answer = super().answer(request)  # the timing and holds of TimedFeeds
        if request.route not in self.changing:
            return answer
        with self.guard:
            self.served += 1
            n = self.served
        date = email.utils.formatdate(usegmt=True)
        items = "".join(f"<item><title>Entry {n}-{k}</title><link>http://example.org/{n}/{k}</link>"
                        f"<guid>entry-{n}-{k}</guid><pubDate>{date}</pubDate></item>" for k in range(self.new_items))
        return Reply(200, f'<?xml version="1.0"?><rss version="2.0"><channel><title>c</title><link>http://example.org/'
                          f"</link><description>d</description>{items}</channel></rss>",
                     {"Content-Type": "application/xml"})


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU of each of these processes so far (Linux /proc; gone ones are left out)."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return out


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


@dataclass
class Result:
    polls_per_s: float
    items_per_s: float
    cpu_ms_per_poll: float  # the worker processes
    pg_cpu_ms_per_poll: float  # their PostgreSQL backends
    load: tuple[float, float]  # 1-minute load average at the window's start and end


def run(server: str, workers: int, sources: int, seconds: float, concurrency: int, changing: int,
        new_items: int) -> Result:
    url = make_url(database_url(server))
    name = f"monitor_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = url.set(database=name).render_as_string(hide_password=False)
    feeds = ChangingFeeds({f"/f/{i:04d}.xml" for i in range(changing)}, new_items)
    db = Database(db_url)

    def items() -> int:
        with db.session() as s:
            return s.scalar(select(func.count()).select_from(Item)) or 0

    def backends() -> list[int]:
        with admin.connect() as conn:
            return list(conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"),
                                     {"d": name}).scalars())

    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "sources.yaml"
            routes = write_sources(config, feeds, sources, interval="1s", jitter="1s")
            db.upgrade()
            cluster = Cluster(cluster_env(db_url, config, MONITOR_DISPATCH_EVERY="1s"), Path(tmp))
            try:
                procs = [cluster.start("--concurrency", str(concurrency), "--queues", "polls")
                         for _ in range(workers)]
                pids = [p.pid for p in procs]
                cluster.wait_registered(procs)
                assert wait_for(lambda: all(feeds.times[r] for r in routes), 300), "baseline never finished"
                load0 = os.getloadavg()[0]
                start, polls0, items0, cpu0, pg0 = time.time(), feeds.total(), items(), cpu_seconds(pids), \
                    cpu_seconds(backends())
                time.sleep(seconds)
                elapsed = time.time() - start
                polls, stored = feeds.total() - polls0, items() - items0
                cpu, pg = cpu_used(cpu0, cpu_seconds(pids)), cpu_used(pg0, cpu_seconds(backends()))
                load1 = os.getloadavg()[0]
                for proc in procs:
                    cluster.stop(proc)
            finally:
                cluster.close()
    finally:
        feeds.close()
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return Result(polls / elapsed, stored / elapsed, 1000 * cpu / max(polls, 1), 1000 * pg / max(polls, 1),
                  (load0, load1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=DEFAULT_SERVER, help="a PostgreSQL URL (bench databases are made there)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--changing", type=int, default=30, help="sources with new entries on every poll")
    parser.add_argument("--new-items", type=int, default=5, help="new entries per poll of a changing source")
    args = parser.parse_args()
    print(f"{args.sources} sources ({args.changing} gain {args.new_items} entries per poll, the rest answer 304), "
          f"--concurrency {args.concurrency}, {args.seconds:.0f} s window, {os.cpu_count()} CPUs")
    print("| workers | polls/s | new items/s | CPU ms/poll: workers | PostgreSQL | load avg (start → end) |")
    print("|---:|---:|---:|---:|---:|---|")
    for n in args.workers:
        r = run(args.server, n, args.sources, args.seconds, args.concurrency, args.changing, args.new_items)
        print(f"| {n} | {r.polls_per_s:.1f} | {r.items_per_s:.1f} | {r.cpu_ms_per_poll:.0f} | "
              f"{r.pg_cpu_ms_per_poll:.0f} | {r.load[0]:.1f} → {r.load[1]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
