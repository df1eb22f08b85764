"""Processes of their own for the crash tests, forked from one server that imported the CLI and the
service once (multiprocessing's forkserver). A test that kills a process needs a process, not a new
interpreter spending a second on imports before each kill; what only a new interpreter shows (the
entry point, ``--help`` registering every command) is ``run_cli_process``'s.

A forked process starts from the server's state, taken before any test ran: no monkeypatch of the
test process reaches it, as none reaches a new interpreter.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from monitor.cli import main
from monitor.config import load_config
from monitor.db import Database
from monitor.drivers.service import run_once

FORKS = multiprocessing.get_context("forkserver")
FORKS.set_forkserver_preload([__name__])


def _monitor(args: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str) -> None:
    """``monitor ARGS`` with exactly ``env`` as the environment, its output in two files."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, stdout), (2, stderr)):
        os.dup2(os.open(path, os.O_WRONLY | os.O_APPEND), fd)
    sys.exit(main(args))


@contextmanager
def cli_process(args: list[str], env: dict[str, str], *, cwd: Path | None = None, stdout: str = os.devnull,
                stderr: str = os.devnull) -> Iterator[BaseProcess]:
    """``monitor ARGS`` running in a process of its own, for a test to signal or kill while it runs;
    killed at the end if it still runs."""
    for path in (stdout, stderr):
        Path(path).write_bytes(b"")  # there and empty from the start, for a test reading the log as it grows
    child = FORKS.Process(target=_monitor, args=(args, env, str(cwd or Path.cwd()), stdout, stderr))
    child.start()
    try:
        yield child
    finally:
        if child.exitcode is None:
            child.kill()
        child.join()


def run_cli_forked(args: list[str], env: dict[str, str], *, cwd: Path | None = None,
                   timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``monitor ARGS`` in a process of its own, as ``run_cli_process`` runs it (exactly ``env``, the
    exit code, negative for the signal that killed it, and the output), for fail points that kill it."""
    with tempfile.TemporaryDirectory() as scratch:
        stdout, stderr = Path(scratch, "stdout"), Path(scratch, "stderr")
        with cli_process(args, env, cwd=cwd, stdout=str(stdout), stderr=str(stderr)) as child:
            child.join(timeout)
            if child.exitcode is None:
                raise subprocess.TimeoutExpired(["monitor", *args], timeout)
        return subprocess.CompletedProcess(["monitor", *args], child.exitcode, stdout.read_text(), stderr.read_text())


def _passes_until_killed(db_url: str, config: str, ready: Connection) -> None:
    """A killed process's life in the kill loops: ``run --once`` passes back to back, as a cron job
    would run them, until SIGKILL. It sees no MONITOR_ variable of the test's but the one that lets it
    reach the local fakes; its stderr is dropped."""
    for name in [name for name in os.environ if name.startswith("MONITOR_")]:
        del os.environ[name]
    os.environ["MONITOR_ALLOW_PRIVATE_URLS"] = "1"
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    db = Database(db_url)
    loaded = load_config(config)
    ready.send("ready")
    while True:
        asyncio.run(run_once(db, loaded, wait_limit=1.0))


def start_passes(db_url: str, config: Path) -> BaseProcess:
    """A process running ``run --once`` passes back to back, returned once it is ready to poll."""
    receive, send = FORKS.Pipe(duplex=False)
    child = FORKS.Process(target=_passes_until_killed, args=(db_url, str(config), send), daemon=True)
    child.start()
    send.close()
    assert receive.poll(60) and receive.recv() == "ready", "the process never got ready to poll"
    receive.close()
    return child
