"""/metrics tells an operator which sources are not watched, whatever the reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import update

from monitor.config import load_config
from monitor.db import Database
from monitor.models import Source
from monitor.web.metrics import render
from tests.conftest import run_cli
from tests.reliability.helpers import rss


def samples(text: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def test_source_up_is_zero_for_a_failing_a_silent_and_a_keyless_source(db: Database, cli_env: dict[str, str],
                                                                      feeds, tmp_path: Path) -> None:
    """A source whose key is not set fails no poll and a silent one (no new item for longer than
    its ``expect_items_within``) fails none either: ``remedy_source_up`` is 0 for them as for a
    failing one, and 1 for the source that is watched."""
    feeds.set("/ok.xml", rss(("a1", "One")))
    feeds.set("/quiet.xml", rss(("q1", "Old news")))
    config = Path(cli_env["MONITOR_CONFIG"])
    config.write_text(
        f"sources:\n  - id: ok\n    kind: rss\n    url: {feeds.url('/ok.xml')}\n"
        f"  - id: quiet\n    kind: rss\n    url: {feeds.url('/quiet.xml')}\n    expect_items_within: 7d\n"
        "  - id: down\n    kind: rss\n    url: http://127.0.0.1:9/x.xml\n"
        "  - id: bills\n    kind: congress_recent\n    congress: current\n    filter: bivens\n")
    env = {name: value for name, value in cli_env.items() if name != "CONGRESS_API_KEY"}
    run_cli(["run", "--once"], env, cwd=tmp_path)
    with db.session() as session:  # the quiet feed's last new item was ten days ago
        session.execute(update(Source).where(Source.id == "quiet").values(
            last_change_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=10)))
    second = run_cli(["run", "--once"], env, cwd=tmp_path)
    assert "bills: skipped: set CONGRESS_API_KEY" in second.stdout, second.stdout

    with_env = samples(render(db, load_config(config)))
    assert with_env['remedy_source_up{source="ok"}'] == 1
    assert with_env['remedy_source_up{source="down"}'] == 0
    assert with_env['remedy_source_up{source="quiet"}'] == 0
    assert with_env['remedy_source_consecutive_failures{source="quiet"}'] == 0  # silent, not failing
    assert with_env['remedy_source_up{source="bills"}'] == 0
    assert with_env['remedy_source_consecutive_failures{source="bills"}'] == 0  # skipped, not failing


def test_polls_total_counts_the_polls_that_found_nothing_new(db: Database, cli_env: dict[str, str],
                                                             feeds, tmp_path: Path) -> None:
    """A feed that answers 304 or the same body is polled all the same: an operator alerting on
    ``rate(remedy_polls_total[1h]) == 0`` (the poller stopped) must see those polls counted, as
    ``monitor status`` counts them, or a quiet feed looks like a dead poller."""
    feeds.set("/same.xml", rss(("s1", "Same")), etag=True)
    feeds.set("/body.xml", rss(("b1", "Body")))
    config = Path(cli_env["MONITOR_CONFIG"])
    config.write_text(f"sources:\n  - id: same\n    kind: rss\n    url: {feeds.url('/same.xml')}\n"
                      f"  - id: body\n    kind: rss\n    url: {feeds.url('/body.xml')}\n")
    for _ in range(3):
        run_cli(["run", "--once"], cli_env, cwd=tmp_path)

    polls = samples(render(db, load_config(config)))
    for source in ("same", "body"):
        assert polls[f'remedy_polls_total{{source="{source}",outcome="changed"}}'] == 1
        assert polls[f'remedy_polls_total{{source="{source}",outcome="unchanged"}}'] == 2


def test_queue_depth_leaves_out_digest_rows_waiting_for_their_hour(db: Database, cli_env: dict[str, str],
                                                                   feeds, tmp_path: Path) -> None:
    """A digest subscriber's changes wait all day for the digest by design: an alert on
    ``remedy_delivery_queue_depth`` (a stuck sender) must not fire for them every day. They are
    still shown, as ``remedy_deliveries{state="queued"}``."""
    feeds.set("/ok.xml", rss(("a1", "One")))
    config = Path(cli_env["MONITOR_CONFIG"])
    config.write_text(f"sources:\n  - id: ok\n    kind: rss\n    url: {feeds.url('/ok.xml')}\n")
    env = cli_env | {"MONITOR_SMTP_URL": "smtp://127.0.0.1:9", "MONITOR_PUBLIC_URL": "https://m.example.org"}
    run_cli(["run", "--once"], env, cwd=tmp_path)
    assert run_cli(["watchlist", "add", "all", "--query", "kind:article|document|opinion"], env).returncode == 0
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%H:%M")  # not due in this test
    digest = run_cli(["subscribe", "all", "email:a@example.org", "--digest", "daily", "--at", later, "--tz", "UTC"],
                     env)
    assert digest.returncode == 0, digest.stderr
    feeds.set("/ok.xml", rss(("a2", "Two"), ("a1", "One")))
    run_cli(["run", "--once"], env, cwd=tmp_path)

    shown = samples(render(db, load_config(config)))
    assert shown['remedy_deliveries{state="queued"}'] == 1
    assert shown["remedy_delivery_queue_depth"] == 0



def test_queue_depth_leaves_out_alerts_waiting_for_a_paused_watchlist(db: Database, cli_env: dict[str, str],
                                                                      feeds, tmp_path: Path) -> None:
    """An alert waiting to be retried when its watchlist is paused waits for the resume by design, not
    for a stuck sender: it leaves ``remedy_delivery_queue_depth`` while paused and is back after."""
    feeds.set("/ok.xml", rss(("a1", "One")))
    config = Path(cli_env["MONITOR_CONFIG"])
    config.write_text(f"sources:\n  - id: ok\n    kind: rss\n    url: {feeds.url('/ok.xml')}\n")
    run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    assert run_cli(["watchlist", "add", "all", "--query", "kind:article|document|opinion"], cli_env).returncode == 0
    assert run_cli(["subscribe", "all", "slack:http://127.0.0.1:9/hook"], cli_env).returncode == 0  # nobody there
    feeds.set("/ok.xml", rss(("a2", "Two"), ("a1", "One")))
    run_cli(["run", "--once"], cli_env, cwd=tmp_path)
    depth = "remedy_delivery_queue_depth"
    assert samples(render(db, load_config(config)))[depth] == 1  # to be retried
    assert run_cli(["watchlist", "pause", "all"], cli_env).returncode == 0
    assert samples(render(db, load_config(config)))[depth] == 0
    assert run_cli(["watchlist", "resume", "all"], cli_env).returncode == 0
    assert samples(render(db, load_config(config)))[depth] == 1


def test_metrics_while_the_database_is_away_is_a_503_saying_so(tmp_path: Path) -> None:
    """The database cannot be opened (its volume is gone): /metrics answers 503 with one line naming
    the error, as /healthz does, so a scraper records the scrape as failed for that reason. Before:
    a bare 500 "Internal Server Error" and a traceback in the log."""
    import asyncio

    import httpx

    from monitor.web import create_app

    volume = tmp_path / "volume"
    volume.mkdir()
    gone = Database(f"sqlite:///{volume / 'monitor.db'}")
    volume.rmdir()  # unmounted under the running service

    async def visit() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(gone), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://monitor") as client:
            return await client.get("/metrics"), await client.get("/healthz")

    metrics, health = asyncio.run(visit())
    gone.dispose()
    assert metrics.status_code == 503 and metrics.text == "database unavailable: OperationalError\n", metrics.text
    assert health.status_code == 503
