"""Every command is documented: help with an ``Example:`` line, and a row in README's CLI reference."""

from __future__ import annotations

import re
from typing import Any

import typer.main

from monitor.cli import app
from tests.conftest import ROOT, run_cli_process


def commands(group: Any, prefix: str = "monitor") -> list[tuple[str, Any]]:
    """(path, command) for every leaf command (typer vendors Click, so groups are found by shape)."""
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):
            found.extend(commands(command, path))
        else:
            found.append((path, command))
    return found


def cli_reference() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## CLI reference", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def test_every_command_has_an_example_and_a_readme_row():
    found = commands(typer.main.get_command(app))
    assert len(found) > 20
    table = cli_reference()
    for path, command in found:
        assert "Example: monitor " in (command.help or ""), f"{path}: help has no 'Example:' line"
        assert re.search(rf"`{re.escape(path)}(`| )", table), f"{path}: missing from README's CLI reference table"


def test_help_lists_every_command(cli_env):
    """`monitor --help`, run as a user runs it, lists every command README documents: the command
    modules import what they need only when a command runs, so registration must not depend on it."""
    result = run_cli_process(["--help"], cli_env)
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split("\nCommands:\n", 1)[1]  # Click's help: "  name  summary" lines
    listed = set(re.findall(r"^  (\S+)", commands, re.MULTILINE))
    named = re.findall(r"`monitor ([a-z-]+)", cli_reference())
    documented = {name for name in named if not name.startswith("-")}  # not `monitor --version`
    assert listed == documented
