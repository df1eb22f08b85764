"""The fetch benchmark: ``monitor run --once`` against nginx serving N generated court feeds,
beside a naive feedparser loop and rss2email 3.14 on the same server.

    python bench/run.py --feeds 100,1000,10000

Needs nginx (Debian: ``apt-get install -y nginx-light``) and, for the rss2email peer, a venv
with ``pip install rss2email==3.14`` (``--r2e /path/to/r2e``; created under /tmp if missing).
Each tool runs as a whole process, three cycles each: cold (everything new), unchanged,
and 1% of the feeds gaining one entry (monitor's alerts go to a local Slack-compatible sink,
rss2email's mail to a local SMTP sink). Measured: wall, CPU (user+sys of the process and its
children), requests and bytes (nginx's access log), items/s, peak RSS (the largest single
process of the tree) and tree PSS (the peak of the proportional set size summed over the process
and all its descendants; the honest figure once a tool forks, since shared pages count once).
Both memory figures are sampled every 20 ms from /proc: wait4's ru_maxrss cannot go below the
benchmark's own RSS, which exec carries into the child. Results are printed and written to
BENCHMARKS.md with a description of the machine.

The short cycles are noisy on a shared VM, so the unchanged and 1%-changed cycles run
``--repeat`` times (default 3) and the table shows the median wall with the CPU, memory and
traffic of that median run, and the range of the walls. Each 1%-changed repetition gives a
different 1% of the feeds one new entry, so every repetition has exactly that much news; the
feeds are regenerated between tools, so every tool sees the same sequence of changes. Cold
cycles run once: they are long and need a fresh database.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import email.utils
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ENTRY_TEXT = (
    "The court considered whether a damages remedy is available against federal immigration officers "
    "for the unlawful detention and use of force alleged in the complaint. Applying Egbert v. Boule, "
    "the panel held that the claim arises in a new context and that special factors counsel hesitation, "
    "including the availability of the ICE detainee grievance process. The petition for review is denied "
    "in part and granted in part, and the matter is remanded for further proceedings consistent with this "
    "opinion. Judge Smith dissented. "
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def entry(feed: int, n: int, when: dt.datetime, bivens: bool = False) -> str:
    title = (f"{'Bivens claim: ' if bivens else ''}Doe {n} v. U.S. Immigration and Customs Enforcement, "
             f"No. 24-{feed:05d}{n:03d}")
    return (f"<item><title>{title}</title><link>https://www.ca9.uscourts.gov/opinions/{feed}/{n}</link>"
            f"<guid isPermaLink=\"false\">ca9-{feed}-{n}</guid><pubDate>{email.utils.format_datetime(when)}</pubDate>"
            f"<category>Immigration</category><description>{ENTRY_TEXT}</description></item>")


def feed_xml(feed: int, entries: int, extra: int = 0) -> bytes:
    """An RSS 2.0 feed of court opinions, ~25 KB at 50 entries; ``extra`` new entries on top."""
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    items = [entry(feed, entries + 1 + k, base + dt.timedelta(days=entries + 1 + k), bivens=True) for k in range(extra)]
    items += [entry(feed, n, base + dt.timedelta(days=n)) for n in range(entries, 0, -1)]
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Court {feed} opinions'
            f"</title><link>https://www.ca9.uscourts.gov/</link><description>Published opinions</description>"
            + "".join(items) + "</channel></rss>").encode()


NGINX_CONF = """worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ application/rss+xml xml; }}
    log_format bench '$status $bytes_sent';
    access_log {work}/access.log bench;
    client_body_temp_path {work}/tmp; proxy_temp_path {work}/tmp; fastcgi_temp_path {work}/tmp;
    uwsgi_temp_path {work}/tmp; scgi_temp_path {work}/tmp;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {work}/www;
        etag on;
        if_modified_since exact;
    }}
}}
"""


class Nginx:
    def __init__(self, work: Path) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            sys.exit("nginx not found: apt-get install -y nginx-light")
        self.work = work
        self.port = free_port()
        (work / "tmp").mkdir(exist_ok=True)
        conf = work / "nginx.conf"
        conf.write_text(NGINX_CONF.format(work=work, port=self.port))
        self.log = work / "access.log"
        self.log.write_text("")
        self.proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(work)], stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        sys.exit(f"nginx did not start; see {work}/nginx-error.log")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def mark(self) -> int:
        return self.log.stat().st_size

    def traffic(self, since: int) -> tuple[int, int, int]:
        """(requests, bytes sent, 304s) logged since ``since``."""
        with self.log.open("rb") as f:
            f.seek(since)
            lines = f.read().split(b"\n")
        requests = bytes_ = not_modified = 0
        for line in lines:
            if not line.strip():
                continue
            status, sent = line.split()
            requests += 1
            bytes_ += int(sent)
            not_modified += status == b"304"
        return requests, bytes_, not_modified

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class SlackSink:
    """Accepts Slack webhook posts and counts them."""

    def __init__(self) -> None:
        self.posts = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sink.posts += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/services/T000/B000/XXXX"

    def close(self) -> None:
        self.httpd.shutdown()


class SmtpSink:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        sink = self
        self.messages = 0

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                sink.messages += 1
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


def parent_of(pid: int) -> int:
    """The parent pid from /proc/<pid>/stat (0 once the process is gone); the name may hold ')'."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return 0
    return int(stat[stat.rindex(b")") + 2:].split()[1])


def proc_field_kb(path: str, field: bytes) -> int | None:
    """A ``Name:  <n> kB`` line's number from a /proc file (None if the process or line is gone)."""
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def pss_kb(pid: int) -> int:
    """Proportional set size, so pages shared within a tree count once; RSS if smaps is unreadable."""
    pss = proc_field_kb(f"/proc/{pid}/smaps_rollup", b"Pss:")
    if pss is not None:
        return pss
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except OSError:
        return 0


def hwm_kb(pid: int) -> int:
    """Peak RSS of one process (VmHWM), which starts afresh at exec, unlike wait4's ru_maxrss:
    exec records the parent's high-water mark there, so every child would show this benchmark's."""
    return proc_field_kb(f"/proc/{pid}/status", b"VmHWM:") or 0


class TreeMemory:
    """Samples a process and all its descendants every 20 ms from a thread: the peak of their
    summed PSS (a tool that forks needs the whole tree) and the largest single peak RSS.

    The kernel may lack /proc/<pid>/task/*/children, so descendants come from /proc/*/stat, with
    each pid's parent read once (not on every sample) to keep the sampler cheap.
    """

    INTERVAL = 0.02

    def __init__(self, root: int) -> None:
        self.root = root
        self.parents: dict[int, int] = {}
        self.pss_kb = 0
        self.rss_kb = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def tree(self) -> list[int]:
        pids = {int(name) for name in os.listdir("/proc") if name.isdigit()}
        for gone in self.parents.keys() - pids:
            del self.parents[gone]
        for new in pids - self.parents.keys():
            self.parents[new] = parent_of(new)
        children: dict[int, list[int]] = {}
        for pid, parent in self.parents.items():
            children.setdefault(parent, []).append(pid)
        tree = [self.root]
        for pid in tree:  # breadth-first: the list grows as it is walked
            tree += children.get(pid, [])
        return tree

    def _run(self) -> None:
        while not self.done.is_set():
            tree = self.tree()
            self.pss_kb = max(self.pss_kb, sum(pss_kb(pid) for pid in tree))
            self.rss_kb = max(self.rss_kb, *(hwm_kb(pid) for pid in tree))
            self.done.wait(self.INTERVAL)

    def stop(self) -> tuple[float, float]:
        """(peak RSS of the largest process, peak PSS of the tree), in MB."""
        self.done.set()
        self.thread.join()
        return self.rss_kb / 1024, self.pss_kb / 1024


@dataclass
class Measure:
    tool: str
    feeds: int
    cycle: str
    wall: float
    cpu: float
    rss_mb: float
    tree_pss_mb: float
    requests: int
    bytes: int
    not_modified: int
    items: int
    ok: bool
    walls: tuple[float, ...]  # every repetition's wall; ``wall`` is their median

    @property
    def items_per_s(self) -> float:
        return self.items / self.wall if self.wall else 0.0


def measure(tool: str, feeds: int, cycle: str, cmd: list[str], env: dict[str, str], nginx: Nginx,
            items: int, cwd: Path) -> Measure:
    """Run ``cmd`` as a whole process; CPU comes from wait4 (children included), memory from
    sampling /proc while it runs."""
    mark = nginx.mark()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    memory = TreeMemory(proc.pid)
    assert proc.stderr is not None
    stderr_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    rss, tree_pss = memory.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    time.sleep(0.2)  # let nginx flush its access log line for the last request
    requests, sent, not_modified = nginx.traffic(mark)
    ok = proc.returncode == 0
    if not ok:
        tail = b"".join(stderr_chunks).decode(errors="replace")[-800:]
        print(f"  ! {tool} {cycle} exited {proc.returncode}: {tail}", file=sys.stderr)
    return Measure(tool, feeds, cycle, wall, usage.ru_utime + usage.ru_stime, rss, tree_pss, requests, sent,
                   not_modified, items, ok, (wall,))


def repeated(k: int, run: Callable[[], Measure]) -> Measure:
    """The median of ``k`` runs by wall (the lower middle for even ``k``): one run is noise on a
    shared VM. Its CPU, memory and traffic are kept, being one real run's; all walls are kept."""
    runs = [run() for _ in range(k)]
    middle = sorted(runs, key=lambda r: r.wall)[(k - 1) // 2]
    return dataclasses.replace(middle, walls=tuple(r.wall for r in runs), ok=all(r.ok for r in runs))


def setup_feeds(work: Path, n: int, m: int) -> list[str]:
    www = work / "www" / "feeds"
    shutil.rmtree(www, ignore_errors=True)
    www.mkdir(parents=True)
    names = []
    for i in range(n):
        (www / f"f{i}.xml").write_bytes(feed_xml(i, m))
        names.append(f"/feeds/f{i}.xml")
    return names


class Changes:
    """Publishes the 1%-changed cycle's news: each call gives one new entry to 1% of the feeds,
    a different 1% each round (shifted by one index), so a repeated cycle never finds stale news.
    A tool gets a new instance after setup_feeds, so every tool sees the same sequence."""

    def __init__(self, work: Path, n: int, m: int) -> None:
        self.www = work / "www" / "feeds"
        self.n, self.m = n, m
        self.extra = [0] * n  # entries added to each feed so far
        self.rounds = 0
        self.entries = 0

    def publish(self) -> int:
        """Change the next 1%; returns how many new entries (one per changed feed)."""
        changed = max(1, self.n // 100)
        step = self.n // changed
        for k in range(changed):
            i = (k * step + self.rounds) % self.n
            self.extra[i] += 1
            path = self.www / f"f{i}.xml"
            path.write_bytes(feed_xml(i, self.m, extra=self.extra[i]))
            later = time.time() + 5  # a new Last-Modified (and so a new ETag) even within the same second
            os.utime(path, (later, later))
        self.rounds += 1
        self.entries += changed
        return changed


def run_monitor(work: Path, nginx: Nginx, paths: list[str], m: int, k: int, slack: SlackSink) -> list[Measure]:
    n = len(paths)
    mdir = work / "monitor"
    shutil.rmtree(mdir, ignore_errors=True)
    mdir.mkdir()
    config = mdir / "sources.yaml"
    lines = ["defaults:\n  interval: 1h\nsources:"]
    lines += [f"  - id: f{i}\n    kind: rss\n    url: {nginx.url(p)}\n    item_kind: opinion"
              for i, p in enumerate(paths)]
    config.write_text("\n".join(lines) + "\n")
    db_url = f"sqlite:///{mdir / 'monitor.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(MONITOR_DATABASE_URL=db_url, MONITOR_CONFIG=str(config), MONITOR_ALLOW_PRIVATE_URLS="1",
               PYTHONPATH=str(ROOT))
    subprocess.run([PYTHON, "-m", "monitor", "init"], env=env, check=True, capture_output=True)
    sys.path.insert(0, str(ROOT))
    from monitor.db import Database
    from monitor.models import Subscription, Watchlist

    db = Database(db_url)
    with db.session() as s:
        watchlist = Watchlist(name="bivens", query="bivens")
        s.add(watchlist)
        s.flush()
        s.add(Subscription(watchlist_id=watchlist.id, channel="slack", target="slack:" + slack.url))
    db.dispose()
    cmd = [PYTHON, "-m", "monitor", "run", "--once"]
    out = [measure("monitor", n, "cold", cmd, env, nginx, n * m, mdir),
           repeated(k, lambda: measure("monitor", n, "unchanged", cmd, env, nginx, 0, mdir))]
    posts = slack.posts
    changes = Changes(work, n, m)
    out.append(repeated(k, lambda: measure("monitor", n, "1% changed", cmd, env, nginx, changes.publish(), mdir)))
    print(f"  monitor: {slack.posts - posts} alert messages delivered for {changes.entries} new entries "
          f"over {k} runs", file=sys.stderr)
    setup_feeds(work, n, m)  # restore for the next tool
    return out


def run_naive(work: Path, nginx: Nginx, paths: list[str], m: int, k: int) -> list[Measure]:
    n = len(paths)
    ndir = work / "naive"
    shutil.rmtree(ndir, ignore_errors=True)
    ndir.mkdir()
    urls = ndir / "urls.txt"
    urls.write_text("\n".join(nginx.url(p) for p in paths) + "\n")
    cmd = [PYTHON, str(ROOT / "bench" / "naive.py"), str(urls), str(ndir / "naive.db")]
    env = dict(os.environ)
    out = [measure("naive feedparser loop", n, "cold", cmd, env, nginx, n * m, ndir),
           repeated(k, lambda: measure("naive feedparser loop", n, "unchanged", cmd, env, nginx, 0, ndir))]
    changes = Changes(work, n, m)
    out.append(repeated(k, lambda: measure("naive feedparser loop", n, "1% changed", cmd, env, nginx,
                                           changes.publish(), ndir)))
    setup_feeds(work, n, m)
    return out


def r2e_binary(explicit: str | None) -> str:
    if explicit:
        return explicit
    venv = Path("/tmp/bench-r2e")
    if not (venv / "bin" / "r2e").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "rss2email==3.14"], check=True)
    return str(venv / "bin" / "r2e")


def run_r2e(work: Path, nginx: Nginx, paths: list[str], m: int, k: int, r2e: str, smtp: SmtpSink) -> list[Measure]:
    n = len(paths)
    rdir = work / "r2e"
    shutil.rmtree(rdir, ignore_errors=True)
    rdir.mkdir()
    cfg, data = rdir / "r2e.cfg", rdir / "r2e.json"
    base = [r2e, "-c", str(cfg), "-d", str(data)]
    subprocess.run(base + ["new", "bench@example.org"], check=True, capture_output=True)
    settings = (f"[DEFAULT]\nto = bench@example.org\nfrom = r2e@example.org\nemail-protocol = smtp\n"
                f"smtp-server = 127.0.0.1\nsmtp-port = {smtp.port}\nsmtp-auth = False\nsmtp-ssl = False\n\n")
    feeds = "".join(f"[feed.f{i}]\nurl = {nginx.url(p)}\n\n" for i, p in enumerate(paths))
    cfg.write_text(settings + feeds)
    env = dict(os.environ)
    out = [measure("rss2email 3.14", n, "cold", base + ["run", "-n"], env, nginx, n * m, rdir),
           repeated(k, lambda: measure("rss2email 3.14", n, "unchanged", base + ["run", "-n"], env, nginx, 0,
                                       rdir))]
    before = smtp.messages
    changes = Changes(work, n, m)
    out.append(repeated(k, lambda: measure("rss2email 3.14", n, "1% changed", base + ["run"], env, nginx,
                                           changes.publish(), rdir)))
    print(f"  rss2email: {smtp.messages - before} mails for {changes.entries} new entries over {k} runs",
          file=sys.stderr)
    setup_feeds(work, n, m)
    return out


METHOD = """\
nginx serves N generated RSS feeds of court opinions from 127.0.0.1 (ETag and If-Modified-Since
on, so a conditional request gets a 304). Each tool runs as a whole process from a cold start,
three cycles: **cold** (empty database or state: every entry new), **unchanged** (nothing
changed since the last run) and **1% changed** (1% of the feeds gained one entry each, a
different 1% every repetition). The monitor is `python -m monitor run --once` on SQLite with a
watchlist and a Slack subscription (alerts go to a local Slack-like sink); the naive loop
fetches and parses every feed with feedparser, one after the other; rss2email 3.14 sends its
mail to a local SMTP sink. *wall* and *CPU* (user + system of the process and its children)
cover the whole process; requests, 304s and bytes come from nginx's access log; *peak RSS* is
the largest single process and *tree PSS* the peak proportional set size of the process tree,
both sampled from /proc every 20 ms. The machine is shared, so walls move from run to run:
compare tools within one run, and read CPU seconds beside the walls."""


def fixed_costs(work: Path, nginx: Nginx, paths: list[str], r2e: str | None) -> list[str]:
    """The two fixed costs of an unchanged cycle, each alone in a new process (bench/parts.py):
    start-up imports, and the HTTP client's own work for the N conditional GETs (all 304)."""
    urls = work / "urls.txt"
    urls.write_text("\n".join(nginx.url(p) for p in paths) + "\n")
    parts = str(ROOT / "bench" / "parts.py")

    def cpu(python: str, *args: str) -> str:
        out = subprocess.run([python, *args], env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
                             text=True, check=True)
        return out.stdout.strip()

    n = len(paths)
    httpx_cpu, urllib_cpu = cpu(PYTHON, parts, "httpx", str(urls), "4"), cpu(PYTHON, parts, "urllib", str(urls))
    rows = ["| part | CPU s |", "|---|---:|",
            f"| monitor: importing what `run --once` needs | {cpu(PYTHON, parts, 'imports')} |",
            f"| httpx.AsyncClient alone: {n} conditional GETs (304), 4 at a time (the monitor's per-host limit) | "
            + httpx_cpu + " |",
            f"| urllib alone (feedparser's, so rss2email's): the same {n} GETs one by one | {urllib_cpu} |"]
    if r2e:
        python = str(Path(r2e).parent / "python")
        took = cpu(python, "-c", "import time; t = time.process_time(); import rss2email.main, rss2email.feeds; "
                                 "print(f'{time.process_time() - t:.3f}')")
        rows.append(f"| rss2email: importing its modules | {took} |")
    return rows


FIXED_COSTS = """\
Each measured alone in a new process (`bench/parts.py`), on the same server and feeds as the
largest peer run above. An unchanged cycle cannot cost less than its start-up plus its HTTP
client's own work for the conditional GETs; read them beside the peers' whole cycle."""


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    except OSError:
        mem = 0
    parser = "unknown"
    try:
        rss_source = (ROOT / "monitor" / "sources" / "rss.py").read_text()
        parser = "fastfeedparser" if "fastfeedparser" in rss_source else "feedparser"
    except OSError:
        pass
    return (f"{platform.node()}: {os.cpu_count()} cores ({cpu}), {mem} MB RAM, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, nginx from the distribution; "
            f"monitor's rss parser: {parser}; load average at start {os.getloadavg()[0]:.1f}")


def table(results: list[Measure]) -> list[str]:
    """Repeated cycles show their median run; the range column shows how far the walls spread."""
    rows = [("| feeds | tool | cycle | runs | wall s | wall range s | CPU s | peak RSS MB | tree PSS MB | requests "
            "| 304s | MB sent | items/s |"),
            "|---:|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        spread = f"{min(r.walls):.2f}–{max(r.walls):.2f}" if len(r.walls) > 1 else ""
        rows.append(f"| {r.feeds} | {r.tool} | {r.cycle}{'' if r.ok else ' (FAILED)'} | {len(r.walls)} | "
                    f"{r.wall:.2f} | {spread} | {r.cpu:.2f} | {r.rss_mb:.0f} | {r.tree_pss_mb:.0f} | {r.requests} | "
                    f"{r.not_modified} | {r.bytes / 1e6:.1f} | {r.items_per_s:.0f} |")
    return rows


def ratios(results: list[Measure]) -> list[str]:
    by = {(r.feeds, r.tool, r.cycle): r for r in results}
    out = []
    for (feeds, tool, cycle), r in sorted(by.items()):
        if tool != "monitor":
            continue
        for peer in ("naive feedparser loop", "rss2email 3.14"):
            other = by.get((feeds, peer, cycle))
            if other and r.wall:
                out.append(f"- {feeds} feeds, {cycle}: monitor is {other.wall / r.wall:.1f}x faster than {peer} "
                           f"(wall {r.wall:.2f}s vs {other.wall:.2f}s; CPU {r.cpu:.2f}s vs {other.cpu:.2f}s)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", default="100,1000,10000", help="comma-separated feed counts (default: %(default)s)")
    parser.add_argument("--entries", type=int, default=50, help="entries per feed (default: %(default)s)")
    parser.add_argument("--peers-max", type=int, default=1000,
                        help="run the peers only up to this many feeds (they are slow; default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the unchanged and 1%%-changed cycles, reported as the median "
                        "(default: %(default)s)")
    parser.add_argument("--no-peers", action="store_true", help="measure the monitor only")
    parser.add_argument("--r2e", help="path of an r2e executable (rss2email 3.14)")
    parser.add_argument("--work", default="/tmp/remedy-bench", help="scratch directory (default: %(default)s)")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="results file (default: %(default)s)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    # The monitor runs from this source tree. An installed package has its bytecode compiled by
    # pip; without it (and with PYTHONDONTWRITEBYTECODE set) every run would compile ~50 modules.
    subprocess.run([PYTHON, "-m", "compileall", "-q", "monitor", "alerts", "migrations"], cwd=ROOT, check=True)
    description = machine()
    print(description, file=sys.stderr)
    nginx = Nginx(work)
    slack, smtp = SlackSink(), SmtpSink()
    results: list[Measure] = []
    costs: list[str] = []

    def report() -> None:
        """Written after every tool, so an interrupted run still leaves its numbers."""
        text = ["# Benchmarks", "", (f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with "
                f"`python bench/run.py --feeds {args.feeds} --repeat {args.repeat}` ({args.entries} entries per "
                f"feed, ~25 KB; unchanged and 1% changed: median of {args.repeat} runs)."), "",
                f"Machine: {description}.", "", "## Method", "", METHOD, "", "## Results", "",
                *table(results), "", "Ratios (wall time; medians for the repeated cycles):", "",
                *ratios(results), ""]
        if costs:
            text += ["## Fixed costs of an unchanged cycle", "", FIXED_COSTS, "", *costs, ""]
        Path(args.out).write_text("\n".join(text) + "\n")

    try:
        for n in [int(x) for x in args.feeds.split(",")]:
            print(f"== {n} feeds x {args.entries} entries", file=sys.stderr)
            paths = setup_feeds(work, n, args.entries)
            results += run_monitor(work, nginx, paths, args.entries, args.repeat, slack)
            report()
            if not args.no_peers and n <= args.peers_max:
                results += run_naive(work, nginx, paths, args.entries, args.repeat)
                report()
                results += run_r2e(work, nginx, paths, args.entries, args.repeat, r2e_binary(args.r2e), smtp)
                costs = fixed_costs(work, nginx, paths, r2e_binary(args.r2e))
                report()
            print("\n".join(table([r for r in results if r.feeds == n])[2:]), file=sys.stderr)
    finally:
        nginx.stop()
        slack.close()
        smtp.close()
    print("\n".join(table(results) + [""] + ratios(results)))
    report()


if __name__ == "__main__":
    main()
