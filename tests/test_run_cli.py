"""The CLI tests' harness: ``run_cli`` runs ``monitor.cli.main`` in this process. What a user sees
(exit code, stdout, stderr) must be what a new ``monitor`` process gives, and a call must leave
nothing behind for the next one (log handlers, environment, open databases)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_cli_process


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],  # a usage error: exit 2, one line
        ["watchlist", "show", "nope"],  # a MonitorError: exit 1, one line
        ["watchlist", "list", "--json"],  # success on stdout
    ],
)
def test_in_process_run_is_what_a_new_process_shows(
    args: list[str], cli_env: dict[str, str]
) -> None:
    inside, outside = run_cli(args, cli_env), run_cli_process(args, cli_env)
    assert (inside.returncode, inside.stdout, inside.stderr) == (
        outside.returncode,
        outside.stdout,
        outside.stderr,
    )


def test_each_call_logs_to_its_own_stderr_and_leaves_nothing_behind(
    cli_env: dict[str, str],
) -> None:
    Path(cli_env["MONITOR_CONFIG"]).write_text("sources: []\n")
    root = logging.getLogger()
    handlers, environment = root.handlers[:], dict(os.environ)
    first = run_cli(["run", "--once", "--verbose"], cli_env)
    second = run_cli(
        ["run", "--once", "--verbose"], cli_env | {"MONITOR_CONTACT": "ops@example.org"}
    )
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    for result in (first, second):  # the command's own logging setup took effect both times
        assert " DEBUG " in result.stderr or " INFO " in result.stderr, result.stderr
    assert root.handlers == handlers and dict(os.environ) == environment
