"""A local cluster for tests and ``bench/workers.py``: N sources on a feed server that times
every request, and real ``python -m monitor worker`` processes against one PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.fakes.http_server import HttpServer, Reply, Request

ROOT = Path(__file__).resolve().parent.parent


def rss_one(title: str) -> str:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title><link>http://example.org/</link>'
            f"<description>d</description><item><title>{title}</title><link>http://example.org/{title}</link>"
            f"<guid>{title}</guid></item></channel></rss>")


class TimedFeeds(HttpServer):
    """An HttpServer that also keeps each path's request times, notices two requests of one
    path in flight at once, counts the most requests in flight on all paths together (``peak``),
    and can hold a path's answers until released (a hung provider) or slow every answer down
    (``delay`` seconds, so concurrent requests overlap)."""

    def __init__(self) -> None:
        super().__init__()
        self.guard = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.in_flight: Counter[str] = Counter()
        self.overlaps: list[str] = []
        self.gates: dict[str, threading.Event] = {}
        self.delay = 0.0
        self.peak = 0

    def answer(self, request: Request) -> Reply:
        route = request.route
        with self.guard:
            self.times[route].append(time.time())
            self.in_flight[route] += 1
            if self.in_flight[route] > 1:
                self.overlaps.append(route)
            self.peak = max(self.peak, self.in_flight.total())
        try:
            time.sleep(self.delay)
            gate = self.gates.get(route)
            if gate is not None:
                gate.wait(120)
            return super().answer(request)
        finally:
            with self.guard:
                self.in_flight[route] -= 1

    def hold(self, route: str) -> None:
        self.gates[route] = threading.Event()

    def release(self, route: str) -> None:
        self.gates.pop(route).set()

    def total(self) -> int:
        with self.guard:
            return sum(len(t) for t in self.times.values())


def write_sources(path: Path, feeds: HttpServer, count: int, *, interval: str, jitter: str,
                  providers: str = "") -> list[str]:
    """Publish ``count`` one-item feeds (with ETags, so repeat polls are 304s) and list them;
    ``providers`` is a sources.yaml ``providers:`` block."""
    lines = [f"{providers}defaults:\n  interval: {interval}\n  jitter: {jitter}\nsources:\n"]
    routes = []
    for i in range(count):
        route = f"/f/{i:04d}.xml"
        feeds.set(route, rss_one(f"s{i:04d}"), etag=True)
        lines.append(f"  - id: s{i:04d}\n    kind: rss\n    url: {feeds.url(route)}\n")
        routes.append(route)
    path.write_text("".join(lines))
    return routes


def reset_queue(db_url: str) -> None:
    """Empty procrastinate's tables (the test fixtures only empty the monitor's own)."""
    engine = create_engine(db_url)
    with engine.begin() as conn:
        if conn.scalar(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")):
            conn.execute(text("TRUNCATE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, "
                              "procrastinate_workers RESTART IDENTITY CASCADE"))
    engine.dispose()


@contextmanager
def scratch_database(db_url: str, suffix: str) -> Iterator[str]:
    """A new, empty database on ``db_url``'s server (its URL, password kept), dropped afterwards."""
    url = make_url(db_url)
    name = f"{url.database}_{suffix}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, step: float = 0.05) -> bool:
    """Poll for what another process does (a worker, the service, a background task): there is
    no event to wait on across a process boundary. Within a process, wait on an event instead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Cluster:
    """Worker processes sharing ``env`` (database, config and the cluster tunables)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []
        self.engine = create_engine(env["MONITOR_DATABASE_URL"])

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        with open(self.logs / f"worker-{len(self.procs)}.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "monitor", "worker", *args], env=self.env, cwd=ROOT,
                                    stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def registered(self) -> set[int]:
        """pids of the workers that announced themselves (see monitor.drivers.workers.describe_worker)."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT value FROM settings WHERE key LIKE 'worker:%'")).scalars()
            return {int(json.loads(v)["pid"]) for v in rows}

    def wait_registered(self, procs: list[subprocess.Popen[bytes]], timeout: float = 90) -> None:
        assert wait_for(lambda: {p.pid for p in procs} <= self.registered(), timeout), self.log_tail()

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.engine.dispose()

    def log_tail(self, lines: int = 15) -> str:
        out = []
        for path in sorted(self.logs.glob("worker-*.log")):
            out.append(f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(out)


def cluster_env(db_url: str, config: Path, **tunables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(MONITOR_DATABASE_URL=db_url, MONITOR_CONFIG=str(config), MONITOR_ALLOW_PRIVATE_URLS="1",
               PYTHONPATH=str(ROOT), **tunables)
    return env
