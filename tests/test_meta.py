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


def test_delivery_states_and_kinds_are_compared_as_enums():
    """Code under monitor/ names a delivery's (or digest's) state and kind through the enums of
    monitor.outbox.states, never as a bare string a typo would silently never match."""
    import ast

    from monitor.outbox.states import DeliveryKind, DeliveryState, DigestState

    words = {str(v) for enum in (DeliveryKind, DeliveryState, DigestState) for v in enum}
    found = []
    for path in sorted((ROOT / "monitor").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            pairs: list[tuple[str, ast.AST]] = []
            if isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute):
                pairs += [(node.left.attr, c) for c in node.comparators]
            elif isinstance(node, ast.Call):
                pairs += [(k.arg or "", k.value) for k in node.keywords]
            for name, value in pairs:
                literals = value.elts if isinstance(value, ast.Tuple) else [value]
                if name in ("state", "kind") and any(isinstance(v, ast.Constant) and v.value in words
                                                     for v in literals):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, f"a delivery state or kind as a plain string: {found}"
