"""Scale-out on PostgreSQL: real ``monitor worker`` processes sharing one database.

Short intervals, heartbeats and leases come from the environment so a run takes a minute,
not an hour. What is checked is what an operator would: each source is fetched once per due
time and never twice at once, a killed worker's source comes back after its lease, no alert
is sent twice, a provider sees no more requests than its budget from all workers together,
``monitor workers`` and ``monitor status`` tell the dead worker from the live ones, and
docker-compose.yml starts workers this code accepts.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import signal
import socket
import threading
import time
import tomllib
from collections import Counter
from pathlib import Path

import pytest
import typer.main
import yaml
from procrastinate.jobs import Status
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import make_url

from monitor.budget import window_start
from monitor.cli import app as cli_app
from monitor.cli.worker import parse_queues
from monitor.config import load_config
from monitor.db import Database
from monitor.drivers import shutdown_grace
from monitor.drivers.workers import (
    POLL_TASK,
    ClusterSettings,
    build_app,
    claim_due,
    describe_worker,
    ensure_queue_schema,
)
from monitor.durations import parse_duration
from monitor.models import BudgetSpend, Delivery, Digest, Source, Subscription, utcnow
from monitor.pipeline import sync_sources
from monitor.store.lease import lease_seconds
from tests.cluster import (
    Cluster,
    TimedFeeds,
    cluster_env,
    reset_queue,
    rss_one,
    scratch_database,
    wait_for,
    write_sources,
)
from tests.conftest import ROOT, free_port, run_cli
from tests.fakes.http_server import SLACK_HOOK, HttpServer, Reply, Request, slack_ok
from tests.test_pipeline import subscribe

TUNABLES = {"MONITOR_DISPATCH_EVERY": "1s", "MONITOR_DELIVER_EVERY": "1s", "MONITOR_WORKER_HEARTBEAT": "1s",
            "MONITOR_WORKER_STALLED_AFTER": "3s"}


@pytest.fixture
def pg_url(db_url: str) -> str:
    if db_url.startswith("sqlite"):
        pytest.skip("monitor worker needs PostgreSQL (procrastinate); this runs in the PostgreSQL pass "
                    "(MONITOR_TEST_DATABASE_URL=postgresql+psycopg://…)")
    reset_queue(db_url)
    return db_url


@pytest.fixture
def timed_feeds() -> TimedFeeds:
    server = TimedFeeds()
    yield server
    server.close()


def publish_bivens(feeds: HttpServer, route: str, name: str) -> None:
    """A new entry the ``bivens`` watchlist matches, so exactly one alert is due."""
    body = rss_one(name).replace("</channel>", f"<item><title>Bivens claim {name}</title>"
                                 f"<link>http://example.org/{name}/b</link><guid>{name}-b</guid></item></channel>")
    feeds.set(route, body, etag=True)


def baselines_done(db: Database) -> int:
    with db.session() as s:
        return len(s.scalars(select(Source.id).where(Source.baseline_done.is_(True))).all())


def sent_once(db: Database, slack: HttpServer, names: list[str]) -> None:
    """Every matched change was sent, each in exactly one message (alerts that fall due together
    for one subscription may share a message)."""
    def delivered() -> list[str]:
        with db.session() as s:
            return list(s.scalars(select(Delivery.state)))

    assert wait_for(lambda: delivered() == ["sent"] * len(names), 60), delivered()
    texts = [r.json()["text"] for r in slack.requests]
    assert len(set(texts)) == len(texts), texts
    for name in names:
        assert sum(f"Bivens claim {name}" in t for t in texts) == 1, (name, texts)


def test_worker_refuses_sqlite(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = cli_env | {"MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}"}
    (tmp_path / "sources.yaml").write_text("sources: []\n")
    result = run_cli(["worker"], env)
    assert result.returncode == 1
    assert "needs PostgreSQL" in result.stderr and "monitor run" in result.stderr
    assert not (tmp_path / "m.db").exists()


def test_init_applies_the_queue_schema_once(pg_url: str, cli_env: dict[str, str]) -> None:
    with scratch_database(pg_url, "init") as fresh:
        env = cli_env | {"MONITOR_DATABASE_URL": fresh}
        first = run_cli(["init"], env)
        assert first.returncode == 0 and "job queue schema (procrastinate) applied" in first.stdout, first.stderr
        again = run_cli(["init"], env)
        assert again.returncode == 0 and "procrastinate" not in again.stdout
        db = Database(fresh)
        assert ensure_queue_schema(db) is False
        db.dispose()


async def test_workers_shows_who_is_alive_queue_depth_and_stalled_jobs(pg_url: str, cli_env: dict[str, str]) -> None:
    """The queue in a known state without running workers: one live worker, one that stopped
    beating an hour ago in the middle of a poll, polls waiting and a failed delivery."""
    db = Database(pg_url)
    ensure_queue_schema(db)
    queue = build_app(db, ClusterSettings())
    async with queue.open_async():
        manager = queue.job_manager
        live, dead = await manager.register_worker(), await manager.register_worker()
        for sid in ("a", "b", "c"):
            await queue.tasks[POLL_TASK].configure(lock=f"source:{sid}", queueing_lock=f"source:{sid}").defer_async(
                source_id=sid)
        stuck = await manager.fetch_job(queues=["polls"], worker_id=dead)
        await queue.tasks["monitor.deliver"].defer_async(timestamp=0)
        delivery = await manager.fetch_job(queues=["deliveries"], worker_id=live)
        assert stuck is not None and delivery is not None
        await manager.finish_job(delivery, status=Status.FAILED, delete_job=False)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' "
                          "WHERE id = :id"), {"id": dead})
    describe_worker(db, live, {"host": "box-1", "pid": 101, "queues": ["polls", "deliveries"], "concurrency": 4})
    describe_worker(db, dead, {"host": "box-2", "pid": 102, "queues": ["polls"], "concurrency": 8})
    db.dispose()
    env = cli_env | {"MONITOR_DATABASE_URL": pg_url}

    result = run_cli(["workers", "--json"], env)
    assert result.returncode == 1, result.stderr  # a dead worker and a stalled job: look here
    status = json.loads(result.stdout)
    workers = {w["pid"]: w for w in status["workers"]}
    assert (workers[101]["alive"], workers[101]["host"], workers[101]["running"]) == (True, "box-1", 0)
    assert (workers[102]["alive"], workers[102]["host"], workers[102]["running"]) == (False, "box-2", 1)
    silent = utcnow() - dt.datetime.fromisoformat(workers[102]["last_heartbeat"])
    assert dt.timedelta(minutes=59) < silent < dt.timedelta(minutes=61)
    assert status["queues"] == {"polls": {"todo": 2, "doing": 1, "failed": 0},
                                "deliveries": {"todo": 0, "doing": 0, "failed": 1}}
    assert ([(j["id"], j["worker_id"], j["args"]) for j in status["stalled_jobs"]]
            == [(stuck.id, dead, {"source_id": "a"})])

    table = run_cli(["status"], env)
    assert table.returncode == 0, table.stderr
    assert "box-2" in table.stdout and "NO" in table.stdout and "Queues" in table.stdout
    assert f"1 stalled jobs (their worker stopped; the next dispatch closes them): monitor.poll#{stuck.id}" in (
        " ".join(table.stdout.split()))


def test_workers_started_together_after_an_upgrade_migrate_once(pg_url: str, tmp_path: Path) -> None:
    """After an upgrade that brings a migration, every worker starts at once (`docker compose up --scale
    worker=3`) on a database one revision behind; one migrates, the others wait and find it done (before:
    the second to finish died with 'internal error: CommandError: Online migration expected to match one
    row …'). Holding the revision row here makes both reach the migration before either finishes."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from monitor.db import HEAD

    config = tmp_path / "sources.yaml"
    config.write_text("sources: []\n")
    waiting = text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND wait_event_type = 'Lock'")
    with scratch_database(pg_url, "upgrade") as behind:
        db = Database(behind)
        previous = ScriptDirectory.from_config(db.alembic_config()).get_revision(HEAD).down_revision
        command.upgrade(db.alembic_config(), str(previous))
        cluster = Cluster(cluster_env(behind, config, **TUNABLES), tmp_path)

        def both_wait() -> bool:
            with cluster.engine.connect() as conn:  # not the holder's: a transaction sees one snapshot of the view
                return conn.scalar(waiting, {"name": make_url(behind).database}) == 2

        try:
            with db.engine.connect() as holder:
                holder.execute(text("SELECT version_num FROM alembic_version FOR UPDATE"))
                procs = [cluster.start(), cluster.start()]
                assert wait_for(both_wait, 60), cluster.log_tail()
                holder.commit()
            cluster.wait_registered(procs)
            assert [cluster.stop(p) for p in procs] == [0, 0], cluster.log_tail()
            assert db.current_revision() == HEAD
        finally:
            cluster.close()
            db.dispose()


def test_workers_pointed_at_another_database_creates_nothing(pg_url: str, cli_env: dict[str, str]) -> None:
    """`monitor workers` only reads: pointed at a database without Remedy Monitor's schema (a typo in the URL's
    database name, the server's `postgres` database) it says so and leaves it alone, as every read-only
    command does (before: it created the whole schema there, then said there was no job queue)."""
    with scratch_database(pg_url, "other") as other:
        result = run_cli(["workers"], cli_env | {"MONITOR_DATABASE_URL": other})
        url = make_url(other)
        assert result.returncode == 1
        assert result.stderr.strip() == f"error: no Remedy Monitor database here; run `monitor init` " \
                                        f"(postgresql+psycopg://***@{url.host}:{url.port}/{url.database})"
        engine = create_engine(other)
        with engine.connect() as conn:
            tables = conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).all()
        engine.dispose()
        assert tables == []


def test_workers_exits_1_when_no_worker_is_running(pg_url: str, cli_env: dict[str, str]) -> None:
    """Every worker stopped (or never started): nothing polls and nothing is delivered, so the
    operator's `monitor workers` check must not pass (before: an empty table and exit 0)."""
    env = cli_env | {"MONITOR_DATABASE_URL": pg_url}
    assert run_cli(["init"], env).returncode == 0

    result = run_cli(["workers"], env)
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: no worker is running: nothing is polled or delivered "
                                     "(start `monitor worker`)")
    listed = run_cli(["workers", "--json"], env)
    assert listed.returncode == 1 and json.loads(listed.stdout)["workers"] == []


def test_docker_compose_runs_workers_the_way_this_code_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``docker compose up`` would trip over, checked without Docker: every worker reaches the
    compose database with the psycopg driver once it is healthy, its command line and tunables are
    ones this code accepts, it gets time to finish its jobs on stop, and one worker serves HTTP."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    pg = services["db"]
    assert pg["image"].startswith("postgres:") and "pg_isready" in pg["healthcheck"]["test"]
    cli = typer.main.get_command(cli_app)
    http: list[dict[str, object]] = []
    for name in ("web", "worker"):
        service = services[name]
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        env = {k: str(v) for k, v in service["environment"].items()}
        url = make_url(env["MONITOR_DATABASE_URL"])
        assert (url.drivername, url.host, url.username, url.password, url.database) == (
            "postgresql+psycopg", "db", pg["environment"]["POSTGRES_USER"], pg["environment"]["POSTGRES_PASSWORD"],
            pg["environment"]["POSTGRES_DB"])
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        ClusterSettings.from_env()  # raises on a tunable the workers would refuse
        assert lease_seconds() > 0
        program, command, *args = service["command"]
        assert (program, command) == ("monitor", "worker")
        params = cli.commands[command].make_context(command, args).params  # type: ignore[attr-defined]
        parse_queues(params["queues"])
        if params["http"]:
            http.append(service)
        assert parse_duration(service["stop_grace_period"]) > shutdown_grace()
    assert len(http) == 1 and http[0]["ports"] == ["8080:8080"]
    # the image installs the [postgres] extra: the PostgreSQL driver and the queue are in it
    extra = " ".join(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["postgres"])
    assert "psycopg" in extra and "procrastinate" in extra
    assert "pip install --no-cache-dir '.[postgres]'" in (ROOT / "Dockerfile").read_text()


@pytest.mark.slow
def test_three_workers_share_300_sources_while_workers_come_and_go(
        pg_url: str, timed_feeds: TimedFeeds, slack: HttpServer, tmp_path: Path) -> None:
    interval = 10.0
    config = tmp_path / "sources.yaml"
    routes = write_sources(config, timed_feeds, 300, interval="10s", jitter="10s")
    db = Database(pg_url)
    subscribe(db, slack)
    cluster = Cluster(cluster_env(pg_url, config, **TUNABLES), tmp_path)
    try:
        first = [cluster.start(), cluster.start()]
        cluster.wait_registered(first)
        assert wait_for(lambda: baselines_done(db) == len(routes), 120), cluster.log_tail()
        late = cluster.start()  # a worker joins a running cluster
        cluster.wait_registered([late])
        changed = routes[:5]
        for i, route in enumerate(changed):
            publish_bivens(timed_feeds, route, f"n{i}")
        assert wait_for(lambda: all(len(timed_feeds.times[r]) >= 2 for r in routes), 120), cluster.log_tail()
        assert cluster.stop(first[0]) == 0  # and one leaves: its running polls finish first
        assert wait_for(lambda: all(len(timed_feeds.times[r]) >= 3 for r in routes), 120), cluster.log_tail()
        for proc in (first[1], late):
            assert cluster.stop(proc) == 0
        sent_once(db, slack, [f"n{i}" for i in range(len(changed))])
    finally:
        cluster.close()

    assert timed_feeds.overlaps == [], "a source was fetched twice at once"
    for route in routes:
        times = timed_feeds.times[route]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # one fetch per due time. Two fetches of one slot would come back to back; fetches of
        # successive slots are an interval apart less the time the first one waited in the queue
        # (on a loaded machine slots a poll was still waiting for fold into it, by design)
        assert all(g >= interval / 4 for g in gaps), (route, gaps)
    with db.session() as s:
        leases = s.execute(select(Source.id).where(Source.lease_owner.is_not(None))).all()
    assert leases == [], "a stopped worker kept a lease"
    db.dispose()


@pytest.mark.slow
def test_sigkill_mid_poll_the_source_comes_back_after_the_lease(
        pg_url: str, timed_feeds: TimedFeeds, slack: HttpServer, tmp_path: Path, cli_env: dict[str, str]) -> None:
    config = tmp_path / "sources.yaml"
    routes = write_sources(config, timed_feeds, 30, interval="4s", jitter="4s")
    slow = routes[0]
    timed_feeds.hold(slow)  # whoever polls it first is stuck inside the fetch: that one dies
    db = Database(pg_url)
    subscribe(db, slack)
    cluster = Cluster(cluster_env(pg_url, config, MONITOR_POLL_LEASE="8s", **TUNABLES), tmp_path)
    try:
        procs = [cluster.start() for _ in range(3)]
        cluster.wait_registered(procs)
        assert wait_for(lambda: timed_feeds.in_flight[slow] == 1, 60), cluster.log_tail()
        with db.session() as s:
            owner, lease_until = s.execute(select(Source.lease_owner, Source.lease_until)
                                           .where(Source.id == "s0000")).one()
        victim = next(p for p in procs if f":{p.pid}:" in owner)
        survivors = [p for p in procs if p is not victim]
        # no alert is due before the kill (first polls are baselines), so the victim cannot die
        # between sending one and recording it: every alert below must arrive exactly once
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        timed_feeds.release(slow)
        assert wait_for(lambda: timed_feeds.in_flight[slow] == 0, 10)
        killed_at = len(timed_feeds.times[slow])
        counts = {r: len(timed_feeds.times[r]) for r in routes}
        assert wait_for(lambda: baselines_done(db) >= len(routes) - 1, 60)  # all but the slow one
        publish_bivens(timed_feeds, routes[1], "after-kill")

        assert wait_for(lambda: len(timed_feeds.times[slow]) > killed_at, 60), cluster.log_tail()
        assert timed_feeds.times[slow][killed_at] >= lease_until.timestamp(), \
            "polled while the dead worker's lease held"
        assert wait_for(lambda: all(len(timed_feeds.times[r]) > counts[r] + 1 for r in routes), 60), cluster.log_tail()
        sent_once(db, slack, ["after-kill"])

        status = run_cli(["workers", "--json"], cli_env | {"MONITOR_DATABASE_URL": pg_url, **TUNABLES})
        workers = {w["pid"]: w for w in json.loads(status.stdout)["workers"]}
        assert status.returncode == 1  # a dead worker is something to look at
        assert workers[victim.pid]["alive"] is False
        assert all(workers[p.pid]["alive"] for p in survivors)
        with db.engine.connect() as conn:
            closed = conn.execute(text("SELECT status::text FROM procrastinate_jobs "
                                       "WHERE args->>'source_id' = 's0000' AND status = 'failed'")).scalars().all()
        assert closed == ["failed"], "the dead worker's job was not closed by the stalled-job sweep"
        for proc in survivors:
            assert cluster.stop(proc) == 0
    finally:
        cluster.close()
    assert timed_feeds.overlaps == []
    db.dispose()


def test_sigterm_past_the_grace_names_the_cut_off_poll_and_it_is_polled_again_at_once(
        pg_url: str, timed_feeds: TimedFeeds, tmp_path: Path) -> None:
    """A worker stopped while a poll outlives MONITOR_SHUTDOWN_GRACE says which poll it cut off,
    as `monitor run` does (before: nothing at all in its log), and the source is due again now,
    not a whole interval after the poll that never finished."""
    config = tmp_path / "sources.yaml"
    [route] = write_sources(config, timed_feeds, 1, interval="1h", jitter="1s")
    timed_feeds.hold(route)
    db = Database(pg_url)
    cluster = Cluster(cluster_env(pg_url, config, MONITOR_SHUTDOWN_GRACE="1s", **TUNABLES), tmp_path)
    try:
        worker = cluster.start()
        assert wait_for(lambda: timed_feeds.in_flight[route] == 1, 60), cluster.log_tail()
        assert cluster.stop(worker) == 0
    finally:
        timed_feeds.release(route)
        cluster.close()
    assert "the poll of s0000 was cut off by the shutdown (polled again at once)" in cluster.log_tail(), \
        cluster.log_tail()
    with db.session() as s:
        next_run = s.execute(select(Source.next_run_at).where(Source.id == "s0000")).scalar_one()
    assert next_run is not None and next_run <= utcnow()
    db.dispose()


def test_a_worker_stopped_mid_delivery_finishes_it_and_nothing_is_sent_twice(
        pg_url: str, timed_feeds: TimedFeeds, slack: HttpServer, tmp_path: Path) -> None:
    """SIGTERM lets running jobs finish (MONITOR_SHUTDOWN_GRACE), and a delivery still waiting for its
    receiver is one of them. procrastinate stops a worker's heartbeat as soon as its stop begins, so after
    MONITOR_WORKER_STALLED_AFTER the others took the stopping worker for dead, took back its claim and
    sent the same alert again (before: two Slack posts of one alert after a plain `docker stop`)."""
    config = tmp_path / "sources.yaml"
    [route] = write_sources(config, timed_feeds, 1, interval="2s", jitter="1s")
    db = Database(pg_url)
    subscribe(db, slack)
    receiver_answers = threading.Event()

    def slow_slack(request: Request) -> Reply:
        receiver_answers.wait(60)
        return slack_ok(request)

    slack.route(SLACK_HOOK, slow_slack)
    cluster = Cluster(cluster_env(pg_url, config, **TUNABLES), tmp_path)
    try:
        procs = [cluster.start(), cluster.start()]
        cluster.wait_registered(procs)
        assert wait_for(lambda: baselines_done(db) == 1, 60), cluster.log_tail()
        publish_bivens(timed_feeds, route, "in-flight")
        assert slack.wait_requests(1, 60), cluster.log_tail()
        with db.session() as s:
            owner = s.scalars(select(Delivery.lease_owner).where(Delivery.state == "sending")).one()
        sender = next(p for p in procs if f":{p.pid}:" in owner)
        sender.send_signal(signal.SIGTERM)
        # the receiver answers only well after the stopping worker would count as dead (3 s here)
        resent = slack.wait_requests(2, 8)
        receiver_answers.set()
        assert sender.wait(60) == 0, cluster.log_tail()
        assert not resent, "the stopping worker's delivery was taken back and sent again"
        sent_once(db, slack, ["in-flight"])
    finally:
        receiver_answers.set()
        cluster.close()
    db.dispose()


def test_sighup_to_a_worker_says_to_restart_it_and_does_not_kill_it(pg_url: str, tmp_path: Path) -> None:
    """SIGHUP reloads `monitor run`; sent to a worker (systemd's ExecReload, a habit) it must not kill
    it on the spot with its jobs and leases held (before: exit 129, no log line). Workers read
    sources.yaml at start, so it says to restart them, and keeps working."""
    config = tmp_path / "sources.yaml"
    config.write_text("sources: []\n")
    cluster = Cluster(cluster_env(pg_url, config, **TUNABLES), tmp_path)
    try:
        worker = cluster.start()
        cluster.wait_registered([worker])
        worker.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "restart the worker" in cluster.log_tail()), cluster.log_tail()
        assert worker.poll() is None
        assert cluster.stop(worker) == 0
    finally:
        cluster.close()
    assert ("SIGHUP: a worker reads sources.yaml when it starts; restart the worker to apply changes"
            in cluster.log_tail())


def test_workers_send_the_daily_digest(pg_url: str, tmp_path: Path) -> None:
    """A digest subscriber on a worker deployment gets the day's digest once its hour has passed,
    as under `monitor run` (before: workers never claimed a digest day, so no digest ever went out)."""
    from tests.alerting import STATUS_MOVE, seed_changes, seed_watchlist
    from tests.fakes.smtp_server import Mailbox, smtp_server

    config = tmp_path / "sources.yaml"
    config.write_text("sources: []\n")
    db = Database(pg_url)
    sub = seed_watchlist(db, target="email:kenji@example.org", mode="digest", digest_at="00:00", tz="UTC")
    with db.session() as s:  # subscribed before today's hour: today's digest is due (a later one waits a day)
        s.get(Subscription, sub).created_at = utcnow() - dt.timedelta(days=1)
    seed_changes(db, sub, STATUS_MOVE)
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        env = cluster_env(pg_url, config, MONITOR_SMTP_URL=f"smtp://127.0.0.1:{port}",
                          MONITOR_PUBLIC_URL="https://monitor.example.org", **TUNABLES)
        cluster = Cluster(env, tmp_path)
        try:
            worker = cluster.start()
            assert wait_for(lambda: len(mailbox.messages) == 1, 60), cluster.log_tail()
            assert cluster.stop(worker) == 0
        finally:
            cluster.close()
    assert str(mailbox.messages[0]["To"]) == "kenji@example.org"
    assert "Daily digest" in str(mailbox.messages[0]["Subject"])
    with db.session() as s:
        assert s.scalars(select(Digest.state).where(Digest.subscription_id == sub)).all() == ["sent"]
    db.dispose()


def attempted(db: Database) -> int:
    with db.session() as s:
        return len(s.scalars(select(Source.id).where(Source.last_attempt_at.is_not(None))).all())


@pytest.mark.slow
def test_three_workers_share_one_provider_budget(pg_url: str, timed_feeds: TimedFeeds, tmp_path: Path) -> None:
    per_minute, workers = 6, 3
    config = tmp_path / "sources.yaml"
    providers = f"providers:\n  local:\n    hosts: [127.0.0.1]\n    concurrency: 1\n    per_minute: {per_minute}\n"
    routes = write_sources(config, timed_feeds, 3 * per_minute, interval="1h", jitter="1s", providers=providers)
    timed_feeds.delay = 0.3  # answers overlap, so more requests in flight than allowed would show
    cfg = load_config(config)
    db = Database(pg_url)
    sync_sources(db, cfg)
    with db.session() as s:  # nothing is due until the workers are up and the minute has room
        s.execute(update(Source).values(next_run_at=utcnow() + dt.timedelta(days=1)))
    cluster = Cluster(cluster_env(pg_url, config, **TUNABLES), tmp_path)
    try:
        procs = [cluster.start() for _ in range(workers)]
        cluster.wait_registered(procs)
        # The budget counts fixed calendar minutes (monitor.budget.window_start), so the burst starts
        # early enough in one to be sent, reported and stopped before the next minute opens
        if time.time() % 60 > 45:
            time.sleep(60.5 - time.time() % 60)
        burst = utcnow()
        with db.session() as s:
            s.execute(update(Source).values(next_run_at=burst))  # every source due at once
        assert wait_for(lambda: attempted(db) == len(routes), 20), cluster.log_tail()
        with db.session() as s:
            rows = {r.id: (r.last_outcome, r.deferred_reason, r.next_run_at) for r in s.scalars(select(Source))}
            spent = s.scalar(select(BudgetSpend.spent).where(BudgetSpend.window == "minute"))
        for proc in procs:
            assert cluster.stop(proc) == 0
        stopped = utcnow()
    finally:
        cluster.close()

    minute = window_start("minute", burst)
    reopens = minute + dt.timedelta(minutes=1)
    assert stopped < reopens, "the machine took over 15 s for one burst; the next window opened mid-test"
    # the server's view, in the budget's own windows: fixed calendar minutes, not a sliding 60 s
    per_window = Counter(int(t // 60) for times in timed_feeds.times.values() for t in times)
    assert per_window == {int(minute.timestamp() // 60): per_minute} and spent == per_minute
    # concurrency is a per-process limit (monitor.budget: semaphores in-process), so three workers
    # with concurrency 1 have at most three requests in flight together; the rate is cluster-wide
    assert 1 <= timed_feeds.peak <= workers * 1
    sent = {f"s{i:04d}" for i, r in enumerate(routes) if timed_feeds.times[r]}
    assert len(sent) == per_minute and all(rows[sid][0] == "changed" for sid in sent)
    deferred = set(rows) - sent
    for sid in deferred:  # reported as deferred, with why and until when, and not sent
        outcome, reason, next_run = rows[sid]
        assert outcome == "deferred" and f"{per_minute} requests per minute spent" in reason, (sid, reason)
        assert next_run == reopens
    # and polled later: the dispatch takes exactly them when the budget reopens, and no sooner
    assert claim_due(db, cfg, reopens - dt.timedelta(seconds=1), 100) == []
    assert set(claim_due(db, cfg, reopens, 100)) == deferred
    db.dispose()


def test_a_cron_source_falls_due_at_the_times_its_line_names(pg_url: str, tmp_path: Path) -> None:
    """Workers poll a ``cron:`` source when its line says (06:00 UTC each day), as ``monitor run``
    does, not an interval after each poll."""
    config = tmp_path / "sources.yaml"
    config.write_text("defaults:\n  interval: 1h\n  jitter: 1s\nsources:\n"
                      "  - id: morning\n    kind: rss\n    url: http://127.0.0.1:9/m.xml\n    cron: '0 6 * * *'\n"
                      "  - id: hourly\n    kind: rss\n    url: http://127.0.0.1:9/h.xml\n")
    cfg = load_config(config)
    db = Database(pg_url)
    ensure_queue_schema(db)
    sync_sources(db, cfg)

    def slots() -> dict[str, dt.datetime]:
        with db.session() as s:
            return {row.id: row.next_run_at for row in s.execute(select(Source.id, Source.next_run_at))}

    def at_six(day: int) -> dt.datetime:
        return dt.datetime(2026, 12, day, 6, tzinfo=dt.UTC)

    now = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)
    assert claim_due(db, cfg, now, 100) == []  # never scheduled: each gets its first slot
    first = slots()
    assert at_six(8) <= first["morning"] <= at_six(8) + dt.timedelta(seconds=1)
    assert now <= first["hourly"] <= now + dt.timedelta(seconds=1)
    assert claim_due(db, cfg, first["morning"], 100) == ["hourly", "morning"]
    second = slots()
    assert at_six(9) <= second["morning"] <= at_six(9) + dt.timedelta(seconds=1)  # the next morning
    assert second["hourly"] == first["morning"] + dt.timedelta(hours=1)
    db.dispose()


def test_a_worker_that_loses_its_database_exits_non_zero(pg_url: str, tmp_path: Path) -> None:
    """PostgreSQL unreachable (a restart, a failover) stops a worker: procrastinate ends ``run()``
    when its heartbeat or listener loses the database. A supervisor that restarts only failures
    (systemd ``Restart=on-failure``, a Kubernetes Job) must hear of it (before: exit 0, as after a
    SIGTERM, so nothing started it again and nothing polled), and the operator must read why, even
    while the database is still away (before: "the database … refused the change", from the worker
    trying to remove its own row on the way out)."""
    config = tmp_path / "sources.yaml"
    config.write_text("sources: []\n")
    name = make_url(pg_url).database
    admin = create_engine(make_url(pg_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    cluster = Cluster(cluster_env(pg_url, config, **TUNABLES), tmp_path)
    try:
        worker = cluster.start()
        cluster.wait_registered([worker])
        cluster.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
            try:
                code = worker.wait(90)
            finally:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))  # back, as after a restart
        assert code == 1, cluster.log_tail()
    finally:
        cluster.close()
        admin.dispose()
    assert "error: the worker stopped: it lost the database" in cluster.log_tail(), cluster.log_tail()


def test_worker_says_it_started(pg_url: str, tmp_path: Path) -> None:
    """`monitor worker` prints a start line (it used to print nothing until a job ran), with the
    address its HTTP endpoint listens on (it printed the socket object)."""
    import os
    import signal
    import subprocess
    import sys

    config = tmp_path / "sources.yaml"
    config.write_text("sources: []\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env |= {"MONITOR_DATABASE_URL": pg_url, "MONITOR_CONFIG": str(config), "PYTHONPATH": str(ROOT)}
    port = free_port()
    worker = subprocess.Popen([sys.executable, "-m", "monitor", "worker", "--concurrency", "2",
                               "--http", f"127.0.0.1:{port}"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stderr is not None
        started = ""
        for line in worker.stderr:  # the log, line by line, until the start line (or the process ends)
            if "started" in line:
                started = line
                break
        # It names its delivery claims next to its heartbeat, so other hosts can take them back
        # at once if it dies (monitor.drivers.workers.dead_lease_owners).
        engine = create_engine(pg_url)
        prefix = f"{socket.gethostname()[:40]}:{worker.pid}:"

        def owners() -> list[str]:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT value FROM settings WHERE key LIKE 'worker:%'")).scalars()
                return [json.loads(v).get("lease_owner", "") for v in rows]

        announced = wait_for(lambda: any(o.startswith(prefix) for o in owners()))
        engine.dispose()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)
    assert (f"worker monitor-{worker.pid} started: queues polls,deliveries, concurrency 2, 0 sources, "
            f"HTTP on 127.0.0.1:{port}\n") in started, started
    assert announced, "the worker never recorded its delivery lease owner"


async def test_a_worker_knows_the_bills_followed_so_far(pg_url: str, tmp_path: Path) -> None:
    """A bill any poller followed becomes a source every worker's dispatch tick knows and claims."""
    from monitor import follow
    from monitor.cli import watchlist_admin as wl
    from monitor.delivery.dispatcher import Dispatcher
    from monitor.drivers.workers import Runtime
    from monitor.fetch import Fetcher
    from monitor.pipeline import Pipeline
    from tests.test_follow import CONFIG, discovered

    path = tmp_path / "sources.yaml"
    path.write_text(CONFIG)
    config = load_config(path)
    db = Database(pg_url)
    sync_sources(db, config)
    with db.session() as session:
        wl.apply(session, wl.WatchlistSpec(name="qi", query='"qualified immunity"'))
    with db.session() as session:
        follow.after_poll(session, config.get("govinfo-bills"), discovered())
    async with Fetcher() as fetcher:
        runtime = Runtime(db, config, Pipeline(db, config, fetcher), Dispatcher(db))
        runtime.follow_bills()
    assert "follow.us-119-hr-10660" in {s.id for s in runtime.config.enabled_sources()}
    with db.session() as session:  # a row claim_due can take
        followed = session.get(Source, "follow.us-119-hr-10660")
        assert followed is not None and followed.enabled
    db.dispose()
