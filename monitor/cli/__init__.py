"""The ``monitor`` command. Sub-commands live in one module per area and register themselves here."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from monitor.cli.common import PlainTyper, close_databases, database_refused, err_console
from monitor.cli.safety import require_safe_expat
from monitor.errors import MonitorError, QueryError
from monitor.redact import redact

app = PlainTyper(
    rich_markup_mode=None,
    name="monitor",
    help="Remedy Monitor: watch courts and legislatures for changes to remedies against federal "
         "immigration officers, keep every version, and alert exactly once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)



def _print_version(value: bool) -> None:
    if value:
        from monitor import __version__

        typer.echo(f"remedy-monitor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """The options every command shares are on the commands; this one answers --version."""


# the sub-command modules register themselves on ``app``, so they are imported after it
from monitor.cli import alerts, demo, items, run, sources, subscriptions, watchlists, worker

__all__ = ["alerts", "app", "demo", "items", "main", "run", "sources", "subscriptions", "watchlists", "worker"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: MonitorErrors become one line and exit 1; Click keeps exit 2 for usage errors.

    Returns the exit code (the console script and ``python -m monitor`` exit with it), so tests
    can run a command in-process with an argv and get the same code and stderr as a user.
    """
    try:
        return _run(argv)
    finally:
        close_databases()


@functools.cache
def command() -> Callable[..., Any]:
    """The Click command typer builds from ``app``: once per process, not on every ``main`` call
    (it reads every command's signature, and tests call ``main`` hundreds of times)."""
    return typer.main.get_command(app)


def with_caret(error: QueryError) -> str:
    """The message with its column, then the query and a caret under that column."""
    if not error.query:
        return str(error)
    start = max(error.column - 40, 0)  # a long query shows the 80 characters around the column
    prefix, suffix = ("…" if start else ""), ("…" if start + 80 < len(error.query) else "")
    caret = " " * (len(prefix) + max(error.column - 1 - start, 0))
    return f"{error} (column {error.column})\n  {prefix}{error.query[start:start + 80]}{suffix}\n  {caret}^"


def _run(argv: Sequence[str] | None) -> int:
    try:
        require_safe_expat()
        code = command()(args=argv, prog_name="monitor", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except MonitorError as exc:
        message = with_caret(exc) if isinstance(exc, QueryError) else str(exc)
        err_console.print(f"error: {redact(message)}", markup=False)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `monitor … | head -1`: the reader left; what was done is committed
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1
    except typer.Abort:
        return 1
    except typer.TyperException as exc:  # Click's usage errors, as vendored by typer: one line, exit 2
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:  # bare `monitor`: its help, no error
            sys.stdout.write(ctx.get_help() + "\n")
            return 0
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        err_console.print(f"error: {redact(exc.format_message())}{hint}", markup=False)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, no traceback
        from sqlalchemy.exc import DBAPIError

        if isinstance(exc, DBAPIError):  # read-only, locked, full: the reason, never the statement
            err_console.print(f"error: {redact(database_refused(exc))}", markup=False)
            return 1
        err_console.print(f"error: internal error: {type(exc).__name__}: {redact(str(exc))}", markup=False)
        return 1
