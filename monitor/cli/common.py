"""What every command shares: the --db/--config/--json options, output helpers, error exits.

Exit codes: 0 success, 1 user error (bad config, unknown name, refused target), 2 usage error
(Click's own). Errors are one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand
from typer.models import CommandFunctionType

if TYPE_CHECKING:  # the commands import what they use when they run: `monitor --help` loads none of it
    from rich.console import Console
    from sqlalchemy.exc import DBAPIError

    from monitor.config import AppConfig
    from monitor.db import Database

DbOpt = Annotated[str | None, typer.Option("--db", metavar="URL",
                                           help="Database URL (default: MONITOR_DATABASE_URL or sqlite:///monitor.db).",
                                           show_default=False)]
ConfigOpt = Annotated[str | None, typer.Option("--config", "-c", metavar="FILE",
                                               help="Path to sources.yaml (default: MONITOR_CONFIG or ./sources.yaml).",
                                               show_default=False)]
MAX_ROWS = 1_000_000  # a --limit above this is a typo (and 10^20 would overflow the database's integer)
MAX_ID = 2**63 - 1  # the largest id either database stores

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


class PlainHelpCommand(TyperCommand):
    """A command whose help names each argument as its usage line does (NAME, IDENTITIES…):
    typer's plain help adds the Python type after it (`NAME <str>`, `IDENTITIES <list[str]>`)."""

    def format_options(self, ctx: Any, formatter: Any) -> None:  # typer's vendored Click types
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append((param.metavar or (param.name or "").upper(), record[1]))
            else:
                options.append(record)
        for title, records in (("Arguments", arguments), ("Options", options)):
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


class PlainTyper(typer.Typer):
    """A typer app whose commands are PlainHelpCommands unless one names another class."""

    def command(self, name: str | None = None, *, cls: type[TyperCommand] | None = PlainHelpCommand,
                **settings: Any) -> Callable[[CommandFunctionType], CommandFunctionType]:
        return super().command(name, cls=cls, **settings)


def between(low: int, high: int = MAX_ROWS) -> Callable[[int | None], int | None]:
    """The callback of a number that must lie in low..high. Typer's own min/max would print the
    bounds in the help as `[1<=x<=9223372036854775807]`; this says which bound was passed."""

    def check(value: int | None) -> int | None:
        if value is not None and value < low:
            raise typer.BadParameter(f"{value} is too small: at least {low:,}")
        if value is not None and value > high:
            raise typer.BadParameter(f"{value} is too large: at most {high:,}")
        return value

    return check


class LazyConsole:
    """A rich ``Console`` made on first use: importing rich is a noticeable part of a short
    command's start-up, and `run --once` prints plain text."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            # emoji off: ':ice:' in a key such as rss:ice:a1 is data, not 🧊
            self._console = Console(stderr=self._stderr, highlight=False, soft_wrap=True, emoji=False)
        return getattr(self._console, name)


console = LazyConsole()
err_console = LazyConsole(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, secrets masked (a provider's error may echo its key), and exit."""
    from monitor.redact import redact

    err_console.print(f"error: {redact(message)}", markup=False)
    raise typer.Exit(code)


_opened: list[Database] = []


NO_DATABASE = "no Remedy Monitor database here; run `monitor init`"


def database_at(db_url: str | None) -> Database:
    """A database handle that ``main`` closes when the command ends (no connection left to the
    garbage collector, which PostgreSQL sees as a dropped client)."""
    from monitor.db import Database

    database = Database(db_url)
    _opened.append(database)
    return database


def open_db(db_url: str | None, *, create: bool = True) -> Database:
    """The command's database, its schema brought up to date. ``create=False`` is for commands
    that only read, or only change what must already exist (a watchlist, a subscription, a
    delivery): they never create a database or its tables where they are pointed (a wrong
    ``--db`` or directory is an error, not a new empty ``monitor.db``)."""
    from monitor.db import sqlite_path

    database = database_at(db_url)
    path = sqlite_path(database.url)
    if not create and ((path is not None and not path.exists()) or database.current_revision() is None):
        fail(f"{NO_DATABASE} ({database.display_url})")
    database.ensure_schema()
    return database


def database_refused(exc: DBAPIError) -> str:
    """The driver's reason, first line only: the statement's parameters (and PostgreSQL's DETAIL
    of a key) may hold a subscription's secret, so they never reach the terminal."""
    reason = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
    where = f"the database {_opened[-1].display_url}" if _opened else "the database"
    return f"{where} refused the change: {reason}"


def close_databases() -> None:
    """Close what the command opened: PostgreSQL sees a clean goodbye, in-process callers no leak."""
    while _opened:
        _opened.pop().dispose()


def open_config(path: str | None) -> AppConfig:
    from monitor.config import load_config

    return load_config(path)


LogFormatOpt = Annotated[str, typer.Option("--log-format", metavar="text|json", envvar="MONITOR_LOG_FORMAT",
                                           help="Log lines as text, or as one JSON object per line.")]


class JsonFormatter(logging.Formatter):
    """One JSON object per line (time, level, logger, message, exception) for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            from monitor.redact import redact

            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class RedactingFilter(logging.Filter):
    """Rewrites every record's message, and its traceback, through ``monitor.redact`` before any
    handler sees it (a formatter uses the traceback text cached in ``exc_text`` when it is set)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from monitor.redact import redact

        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def setup_logging(verbose: bool = False, log_format: str = "text") -> None:
    if log_format not in ("text", "json"):
        raise typer.BadParameter(f"--log-format {log_format!r}: expected text or json")
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    logging.getLogger("httpx").setLevel(logging.INFO if verbose else logging.WARNING)  # URLs redacted below
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    root = logging.getLogger()
    for holder in (root, *root.handlers):  # on the handlers too: records of child loggers reach only them
        if not any(isinstance(f, RedactingFilter) for f in holder.filters):
            holder.addFilter(RedactingFilter())


def _default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_default, indent=2, ensure_ascii=False) + "\n")


def print_table(columns: list[str], rows: list[list[Any]], *, title: str | None = None) -> None:
    """A table on a terminal (columns cut with "…" to fit its width, never wrapped to a few
    characters a line); tab-separated lines with a header when piped, for grep, cut and awk."""
    cells = [["" if v is None else (v.strftime("%Y-%m-%d %H:%M") if isinstance(v, dt.datetime) else str(v))
              for v in row] for row in rows]
    if not console.is_terminal:
        lines = ([f"# {title}"] if title else []) + ["\t".join(columns)]
        lines += ["\t".join(" ".join(cell.split()) for cell in row) for row in cells]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    cells = [[" ".join(cell.split()) for cell in row] for row in cells]
    natural = [max([cell_len(column), *(cell_len(row[n]) for row in cells)]) for n, column in enumerate(columns)]
    # each column adds a space either side and a rule, plus the table's left edge
    cap = fair_cap(natural, console.width - 3 * len(columns) - 1)
    table = Table(title=Text(title) if title else None, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="ellipsis", no_wrap=True, max_width=cap)
    for row in cells:
        table.add_row(*map(Text, row))  # text as written: "[sealed]" in a title is no markup
    console.print(table)


def status_said(view: dict[str, Any], missing: str = "—") -> str:
    """An item's status in words on its action date (``happened``), else as stored, marked when
    a list row's latest action was all it was read from: a bill followed in full may stand further."""
    from alerts.base import status_label

    only = " (latest action only)" if view["latest_action_only"] else ""
    return (view["happened"] or (status_label(view["status"]) if view["status"] else missing)) + only


def fair_cap(widths: list[int], room: int) -> int | None:
    """The widest a column may be so that all fit in ``room``: the widest columns are cut first
    and short ones keep their width (rich, left alone, cuts every column by the same amount and
    squeezes a short one such as a table's outcome to nothing). None when everything fits."""
    if sum(widths) <= room:
        return None
    ordered = sorted(widths)
    for n, width in enumerate(ordered):
        left = len(ordered) - n
        if width * left > room:
            return max(room // left, 1)
        room -= width
    return None


def parse_since(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO date or datetime "
                                 "(e.g. 2026-01-31 or 2026-01-31T08:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
