"""Shared fixtures: a fresh database per test (SQLite or PostgreSQL), real local servers, the CLI.

``MONITOR_TEST_DATABASE_URL`` picks the backend. For PostgreSQL each test session creates its
own database (so parallel runs never collide) and each test starts from empty tables. Where
no PostgreSQL answers, the storage tests skip with the reason — except under CI, where that
is a failure.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import monitor.delivery.dispatcher
import monitor.drivers.service
from monitor.cli import main
from monitor.config import load_config
from monitor.db import Database, database_url
from monitor.delivery.dispatcher import RETRY_SCHEDULE
from monitor.drivers.service import Service
from monitor.failpoints import ENV as FAILPOINTS
from monitor.fetch import Fetcher
from monitor.models import Base
from monitor.redact import forget_targets
from tests.fakes.http_server import SLACK_HOOK, HttpServer, slack_ok
from tests.fakes.tls import Certificates, make_certificates

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
# worktrees: set MONITOR_REALDATA
REALDATA = Path(os.environ.get("MONITOR_REALDATA") or ROOT.parent / "shared" / "realdata")
os.environ["MONITOR_ALLOW_PRIVATE_URLS"] = "1"
for name in ("MONITOR_DATABASE_URL", "MONITOR_CONFIG", "MONITOR_ADMIN_TARGET", "MONITOR_HTTP"):
    os.environ.pop(name, None)


REALDATA_ABSENT = f"real payloads not found: {REALDATA} is absent (they live in ../shared beside the repo)"


def realdata(*parts: str) -> Path:
    """A path in ../shared/realdata, or skip the test saying why."""
    path = REALDATA.joinpath(*parts)
    if not REALDATA.is_dir():
        pytest.skip(REALDATA_ABSENT)
    return path


def realdata_files(paths: list[Path]) -> list[Any]:
    """Parameters for a test run once per captured payload: without ../shared/realdata, one
    that skips saying why (pytest's own skip says only 'got empty parameter set')."""
    if paths or REALDATA.is_dir():
        return list(paths)
    return [pytest.param(None, id="realdata-absent", marks=pytest.mark.skip(reason=REALDATA_ABSENT))]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` (pyproject's addopts): the whole suite runs on every core; named files or tests
    run in this one process, where workers' start-up would cost more than they save."""
    return 0 if config.args_source == pytest.Config.ArgsSource.ARGS else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL pass, run only the tests that touch the configured database: the others
    (parsers, queries, config files) ran in the SQLite pass and would give the same answer twice."""
    if not os.environ.get("MONITOR_TEST_DATABASE_URL", "").startswith("postgresql"):
        return
    uses_db = {item: "test_database_url" in getattr(item, "fixturenames", ()) for item in items}
    config.hook.pytest_deselected(items=[item for item, used in uses_db.items() if not used])
    items[:] = [item for item, used in uses_db.items() if used]


@pytest.fixture(autouse=True)
def forget_delivery_targets() -> Iterator[None]:
    """Targets a dispatch remembers for redaction last the process (monitor.redact.remember_target);
    each test starts and ends without them, so one test's targets never mask another's output."""
    forget_targets()
    yield
    forget_targets()


@pytest.fixture(autouse=True)
def quick_fetch_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passes built here (``run_once``, the in-process service) retry a failed fetch after 10 ms
    instead of production's 1 s and 2 s: the tests count retries, never wait for them
    (tests/test_fetch.py builds its own Fetcher for the backoff itself)."""
    monkeypatch.setattr(monitor.drivers.service, "Fetcher", functools.partial(Fetcher, retry_base=0.01))


@pytest.fixture
def quick_first_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed delivery's first retry after 50 ms, not 5 s: ``run --once`` takes the retries due
    within its pass, so the same retry happens without the wait (the later steps stay)."""
    monkeypatch.setattr(monitor.delivery.dispatcher, "RETRY_SCHEDULE", (0.05, *RETRY_SCHEDULE[1:]))


@pytest.fixture(scope="session")
def test_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("MONITOR_TEST_DATABASE_URL", "")
    if not configured or configured.startswith("sqlite"):
        template = tmp_path_factory.mktemp("template") / "template.db"
        db = Database(f"sqlite:///{template}")
        db.upgrade()
        db.dispose()
        yield f"sqlite-template:{template}"
        return
    url = make_url(database_url(configured))
    name = f"monitor_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        if os.environ.get("CI"):
            raise
        server = url.render_as_string(hide_password=True)
        pytest.skip(f"PostgreSQL at {server} does not answer ({type(exc).__name__}); "
                    "set MONITOR_TEST_DATABASE_URL to a reachable server")
    test_url = url.set(database=name).render_as_string(hide_password=False)
    db = Database(test_url)
    db.upgrade()
    db.dispose()
    yield test_url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def db_url(test_database_url: str, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty, migrated database for this test alone."""
    if test_database_url.startswith("sqlite-template:"):
        path = tmp_path / "monitor.db"
        shutil.copy(test_database_url.split(":", 1)[1], path)
        yield f"sqlite:///{path}"
        return
    engine = create_engine(test_database_url)
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield test_database_url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def slack() -> Iterator[HttpServer]:
    """Slack's incoming webhook: 200 ``ok`` to every post unless the test queues other answers
    (429 with Retry-After, 400 ``invalid_payload``, 403, 404 ``no_service``, 410 ...)."""
    server = HttpServer(home=SLACK_HOOK, fallback=slack_ok)
    yield server
    server.close()


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(MONITOR_DATABASE_URL=db_url, MONITOR_ALLOW_PRIVATE_URLS="1", PYTHONPATH=str(ROOT),
               MONITOR_CONFIG=str(tmp_path / "sources.yaml"))
    return env


@dataclass(frozen=True)
class CliResult:
    """What a user sees of one command: the shape of ``subprocess.CompletedProcess``."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


@contextmanager
def fresh_logging() -> Iterator[None]:
    """The logging a new process starts with: no root handlers, so the command's own
    ``logging.basicConfig`` takes effect and writes to this call's stderr. Afterwards every
    logger's level and the root's handlers and filters are as they were: calls never accumulate."""
    root = logging.getLogger()
    known = root.manager.loggerDict.values()
    loggers = [root, *(logger for logger in known if isinstance(logger, logging.Logger))]
    levels = [(logger, logger.level, logger.disabled) for logger in loggers]
    handlers, filters = root.handlers[:], root.filters[:]
    for handler in handlers:
        root.removeHandler(handler)
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        for added in root.filters[:]:
            root.removeFilter(added)
        for logger, level, disabled in levels:
            logger.setLevel(level)
            logger.disabled = disabled
        for handler in handlers:
            root.addHandler(handler)
        for kept in filters:
            root.addFilter(kept)


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """Exactly ``env`` as the environment, and afterwards the old one back (including anything
    the command set itself: the demo sets variables)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_cli(args: list[str], env: dict[str, str], *, cwd: Path | None = None) -> CliResult:
    """Run ``monitor ARGS`` in this process through the real entry point (``monitor.cli.main``:
    same parsing, exit codes and one-line errors as the console script) with exactly ``env`` as
    the environment, and nothing left behind (``main`` closes the databases it opened).
    What only a process of its own shows (signals, kills, the service) runs in one forked by
    ``tests.forked``; what only a new interpreter shows (the entry point) uses ``run_cli_process``."""
    if env.get(FAILPOINTS, "").strip():
        raise ValueError(f"{FAILPOINTS} kills the process at a fail point: use tests.forked.run_cli_forked")
    saved_cwd = Path.cwd()
    forget_targets()  # a new process knows no delivery target yet
    try:
        with environment(env), CliRunner().isolation() as (stdout, stderr, _), fresh_logging():
            if cwd is not None:
                os.chdir(cwd)
            code = main(args)
            sys.stdout.flush()
            sys.stderr.flush()
            return CliResult(args, code, stdout.getvalue().decode(), stderr.getvalue().decode())
    finally:
        os.chdir(saved_cwd)
        forget_targets()


def run_cli_process(args: list[str], env: dict[str, str], *, cwd: Path | None = None,
                    timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m monitor ARGS`` as a new interpreter: for what only one shows (the entry
    point, what ``--help`` registers before any command ran, a pipe closed under it)."""
    return subprocess.run([sys.executable, "-m", "monitor", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Serve an ASGI app (the service's web app) with uvicorn in a thread; yields its base URL.
    The socket listens before uvicorn starts, so a client can connect at once (the kernel queues
    the connection): nothing polls for start-up."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def visit_service(db: Database, config: Path, http: socket.socket, visit: Callable[[httpx.Client], T]) -> T:
    """Run ``monitor run --http`` in this thread (its signal handlers need the main thread) while
    ``visit`` calls its endpoints from another, then stop it as SIGTERM does. ``http`` listens
    before the service starts, so a first request waits in the kernel's queue until it serves:
    nothing polls for start-up. For what the endpoints answer; signals and exits are
    tests/test_service.py's, with a process of its own."""
    service = Service(db, load_config(config), http=http)
    with asyncio.Runner() as runner, ThreadPoolExecutor(1) as pool:
        loop = runner.get_loop()

        def client() -> T:
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{http.getsockname()[1]}", timeout=60) as session:
                    return visit(session)
            finally:
                loop.call_soon_threadsafe(service.stopping.set)

        visited = pool.submit(client)
        try:
            runner.run(service.run())  # as the main task: the service's shutdown waits for every other task
        finally:
            http.close()  # a service that failed to start leaves no request waiting
        return visited.result(timeout=60)


@pytest.fixture
def feeds() -> Iterator[HttpServer]:
    server = HttpServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory)


def free_port() -> int:
    """A loopback port nothing listens on now (for a server a test starts itself)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
