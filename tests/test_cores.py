"""``run --once`` on several cores: every source polled once, providers' limits kept across the
processes, and a process that dies loses nobody's results but its own (reported failed)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from monitor.budget import Budgets
from monitor.config import load_config
from monitor.cores import plan_shares
from monitor.db import Database
from monitor.errors import BudgetExceeded
from monitor.models import Item, Source
from tests.conftest import run_cli, run_cli_process
from tests.fakes.http_server import HttpServer
from tests.test_pipeline import CountingFeeds, rss


def write_sources(path: Path, sources: list[dict[str, object]], providers: dict[str, object] | None = None) -> Path:
    document: dict[str, object] = {"sources": sources}
    if providers:
        document["providers"] = providers
    path.write_text(yaml.safe_dump(document))
    return path


def rss_sources(feeds: HttpServer, count: int, prefix: str = "f") -> list[dict[str, object]]:
    for i in range(count):
        feeds.set(f"/{prefix}{i}.xml", rss((f"{prefix}{i}-a", f"Opinion {i}: Bivens claim")))
    return [{"id": f"{prefix}{i}", "kind": "rss", "url": feeds.url(f"/{prefix}{i}.xml")} for i in range(count)]


def test_a_provider_is_split_only_as_far_as_its_connection_limit_allows(tmp_path):
    sources = [{"id": f"a{i}", "kind": "rss", "url": f"https://opinions.example/a{i}.xml"} for i in range(90)]
    sources += [{"id": f"b{i}", "kind": "rss", "url": f"https://small.example/b{i}.xml"} for i in range(30)]
    sources += [{"id": f"c{i}", "kind": "courtlistener_search", "query": f"bivens {i}"} for i in range(3)]
    config = load_config(write_sources(tmp_path / "sources.yaml", sources,
                                       providers={"web": {"concurrency": 3}}))

    shares = plan_shares(config, config.enabled_sources(), 2)

    placed = [sid for share in shares for sid in share.source_ids]
    assert sorted(placed) == sorted(s["id"] for s in sources)  # every source once, in one share
    assert len(shares) == 2
    # the big host is split over both processes; together they keep its limit of 3 connections
    assert sorted(share.concurrency["web:opinions.example"] for share in shares) == [1, 2]
    assert all(sum(sid.startswith("a") for sid in share.source_ids) == 45 for share in shares)
    # CourtListener allows one connection: its sources stay together, at its own limit
    holder = [share for share in shares if "c0" in share.source_ids]
    assert len(holder) == 1 and {"c1", "c2"} <= set(holder[0].source_ids)
    assert "courtlistener" not in holder[0].concurrency
    assert len(shares[0].source_ids) + len(shares[1].source_ids) == 123
    assert abs(len(shares[0].source_ids) - len(shares[1].source_ids)) <= 33  # the load is shared, roughly


def test_one_process_when_there_is_one_to_plan_for(tmp_path):
    sources = [{"id": f"a{i}", "kind": "rss", "url": f"https://opinions.example/a{i}.xml"} for i in range(10)]
    config = load_config(write_sources(tmp_path / "sources.yaml", sources))
    shares = plan_shares(config, config.enabled_sources(), 1)
    assert len(shares) == 1 and shares[0].concurrency == {} and len(shares[0].source_ids) == 10


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_two_processes_poll_every_source_once_and_keep_the_hosts_limit(db, tmp_path, cli_env):
    feeds = CountingFeeds()  # each answer takes 20 ms, so requests overlap and a breach would show
    try:
        write_sources(Path(cli_env["MONITOR_CONFIG"]), rss_sources(feeds, 120))

        first = run_cli_process(["run", "--once", "--processes", "2", "--json"], cli_env)
        assert first.returncode == 0, first.stderr
        assert "polling 120 sources in 2 processes" in first.stderr
        polls = json.loads(first.stdout)["sources"]
        assert [p["source_id"] for p in polls] == [f"f{i}" for i in range(120)]  # in sources.yaml order
        assert {p["outcome"] for p in polls} == {"changed"} and all(p["baseline"] for p in polls)
        assert all(feeds.counts[f"/f{i}.xml"] == 1 for i in range(120))
        assert feeds.peak <= 4  # the default limit for one host, shared by both processes
        assert count(db, Item) == 120

        second = run_cli_process(["run", "--once", "--processes", "2", "--json"], cli_env)
        assert second.returncode == 0, second.stderr
        assert {p["outcome"] for p in json.loads(second.stdout)["sources"]} == {"unchanged"}
        assert all(feeds.counts[f"/f{i}.xml"] == 2 for i in range(120))
        with db.session() as s:
            assert set(s.scalars(select(Source.consecutive_failures))) == {0}
            assert s.scalar(select(func.sum(Source.requests_today))) == 240
    finally:
        feeds.close()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to choose two processes")
def test_first_polls_stay_in_one_process_on_sqlite_and_later_passes_use_every_core(db, tmp_path, cli_env):
    feeds = HttpServer()
    try:
        write_sources(Path(cli_env["MONITOR_CONFIG"]), rss_sources(feeds, 120))

        first = run_cli_process(["run", "--once"], cli_env)
        assert first.returncode == 0, first.stderr
        # SQLite has one writer, and first polls store every item; PostgreSQL takes writers side by side
        assert ("polling 120 sources in 2 processes" in first.stderr) == db.is_postgres

        second = run_cli_process(["run", "--once"], cli_env)
        assert second.returncode == 0, second.stderr
        assert "polling 120 sources in 2 processes" in second.stderr
        assert "f119: unchanged" in second.stdout
    finally:
        feeds.close()


def test_retry_after_from_a_shared_host_stops_both_processes(db, tmp_path, cli_env):
    feeds = HttpServer()
    try:
        sources = rss_sources(feeds, 120)
        for i in range(120):
            feeds.set(f"/f{i}.xml", "slow down", status=429, headers={"Retry-After": "600"},
                      content_type="text/plain")
        write_sources(Path(cli_env["MONITOR_CONFIG"]), sources)

        result = run_cli_process(["run", "--once", "--processes", "2", "--json"], cli_env)

        polls = json.loads(result.stdout)["sources"]
        # the feeds asked to wait fail (a site's refusal of them); every other one is held unsent
        asked = {request.route.removeprefix("/").removesuffix(".xml") for request in feeds.requests}
        assert len(polls) == 120 and {p["outcome"] for p in polls if p["source_id"] not in asked} == {"deferred"}
        assert {p["outcome"] for p in polls if p["source_id"] in asked} == {"failed"}
        # each process learns from its own first answers: no more than the host's 4 connections were ever asked
        assert len(feeds.requests) <= 4
        status = json.loads(run_cli(["status", "--json"], cli_env).stdout)
        assert len(status) == 120
        assert all(s["last_outcome"] == "deferred" and "wait" in s["deferred_reason"] for s in status
                   if s["id"] not in asked)
    finally:
        feeds.close()


CRASHING_WORKER = """
import os, sys
import monitor.cores

def _die(share):
    os._exit(3)  # the worker process vanishes, as under the OOM killer

monitor.cores._poll_in_worker = _die
from monitor.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_worker_that_dies_loses_only_its_own_share(db, tmp_path, cli_env):
    feeds = HttpServer()
    try:
        write_sources(Path(cli_env["MONITOR_CONFIG"]), rss_sources(feeds, 120))
        result = subprocess.run([sys.executable, "-c", CRASHING_WORKER, "run", "--once", "--processes", "2",
                                 "--json"], env=cli_env, capture_output=True, text=True, timeout=120)

        assert result.returncode == 0, result.stderr  # not every source failed
        polls = json.loads(result.stdout)["sources"]
        failed = [p for p in polls if p["outcome"] == "failed"]
        stored = [p for p in polls if p["outcome"] == "changed"]
        assert len(failed) == 60 and len(stored) == 60
        assert all("polling process failed" in p["error"] for p in failed)
        assert count(db, Item) == 60
        assert sum(feeds.counts.values()) == 60  # the dead worker never sent its share's requests

        again = run_cli_process(["run", "--once", "--json"], cli_env)  # the next pass picks them up
        outcomes = {p["source_id"]: p["outcome"] for p in json.loads(again.stdout)["sources"]}
        assert {outcomes[p["source_id"]] for p in failed} == {"changed"}
        assert count(db, Item) == 120
    finally:
        feeds.close()


def test_a_retry_after_written_by_one_process_holds_the_others_requests(db):
    """What two processes sharing a host do through the database: one is told to wait, and the
    other, following the blocks, stops sending within a moment."""
    async def scenario() -> None:
        told = Budgets(db, {})
        follower = Budgets(db, {}, concurrency={"web:opinions.example": 2})
        following = asyncio.create_task(follower.follow_blocks(every=0.05))
        try:
            (await follower.acquire("web:opinions.example")).release()  # free to send before the 429
            await told.block("web:opinions.example", 600)
            deadline = asyncio.get_running_loop().time() + 10  # followed within 0.05 s; room for a slow CI
            while True:
                try:
                    (await follower.acquire("web:opinions.example")).release()
                except BudgetExceeded as exc:
                    assert "asked us to wait" in str(exc)
                    break
                assert asyncio.get_running_loop().time() < deadline, "the other process's Retry-After was not followed"
                await asyncio.sleep(0.02)
            (await follower.acquire("web:other.example")).release()  # other hosts are not held
        finally:
            following.cancel()

    asyncio.run(scenario())
