"""Throughput of ``monitor worker`` with 1, 2 and 4 workers against one local PostgreSQL.

Every source is always due (interval 1s), so the workers poll as fast as they can; the feed
server answers repeat polls with 304 (the common case in production). Measured: polls per
second seen by the feed server over a window after every source had its first (baseline)
poll. Each run gets a fresh database.

    python bench/workers.py --workers 1 2 4 --sources 300 --seconds 30
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.db import Database, database_url
from tests.cluster import Cluster, TimedFeeds, cluster_env, wait_for, write_sources

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def run(server: str, workers: int, sources: int, seconds: float, concurrency: int) -> float:
    url = make_url(database_url(server))
    name = f"monitor_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = url.set(database=name).render_as_string(hide_password=False)
    feeds = TimedFeeds()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "sources.yaml"
        routes = write_sources(config, feeds, sources, interval="1s", jitter="1s")
        Database(db_url).upgrade()
        cluster = Cluster(cluster_env(db_url, config, MONITOR_DISPATCH_EVERY="1s"), Path(tmp))
        try:
            procs = [cluster.start("--concurrency", str(concurrency), "--queues", "polls") for _ in range(workers)]
            cluster.wait_registered(procs)
            assert wait_for(lambda: all(feeds.times[r] for r in routes), 300), "baseline never finished"
            start, before = time.time(), feeds.total()
            time.sleep(seconds)
            rate = (feeds.total() - before) / (time.time() - start)
            for proc in procs:
                cluster.stop(proc)
        finally:
            cluster.close()
            feeds.close()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=DEFAULT_SERVER, help="a PostgreSQL URL (bench databases are made there)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    print(f"| workers | polls/s ({args.sources} sources, concurrency {args.concurrency}, {args.seconds:.0f} s window) |")
    print("|---|---|")
    for n in args.workers:
        rate = run(args.server, n, args.sources, args.seconds, args.concurrency)
        print(f"| {n} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
