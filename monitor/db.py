"""Engine, sessions and schema upgrades for SQLite (default) and PostgreSQL.

The schema belongs to Alembic: ``upgrade()`` brings any database to the latest migration,
and every command that touches the database calls ``ensure_schema()`` first, so a newcomer
never has to remember ``monitor init``. The migrations ship inside the wheel and are found
through ``importlib.resources``, not the working directory. A current schema is recognised by
its stored revision alone (``HEAD``; a test holds it to Alembic's own head), so Alembic loads
only for an upgrade, not on every command.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, column, create_engine, event, inspect, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from monitor.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from alembic.runtime.environment import NameFilterParentNames, NameFilterType

HEAD = "0006"  # the newest migration in migrations/versions
_MIGRATE_LOCK = 7_246_003  # pg advisory lock key, beside monitor.drivers.workers' 7_246_001 and 7_246_002
_VERSION = table("alembic_version", column("version_num"))
DEFAULT_DB = "sqlite:///monitor.db"
SQLITE_BUSY_MS = 30_000


def database_url(explicit: str | None = None) -> str:
    """``--db`` beats ``MONITOR_DATABASE_URL`` beats ``sqlite:///monitor.db``; plain
    ``postgresql://`` is taken to mean the psycopg 3 driver we ship."""
    url = explicit or os.environ.get("MONITOR_DATABASE_URL") or DEFAULT_DB
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError("the database URL is malformed "
                          "(expected e.g. sqlite:///monitor.db or postgresql+psycopg://user@host/db)") from None
    if parsed.drivername in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def include_name(name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames) -> bool:
    """For Alembic: procrastinate's queue tables share the database but are procrastinate's schema."""
    owner = name if type_ == "table" else parent_names.get("table_name")
    return not (owner or "").startswith("procrastinate")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def make_engine(url: str | None = None) -> Engine:
    url = database_url(url)
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise ConfigError(f"the database directory {path.parent} does not exist (database URL {url})")
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except NoSuchModuleError:
        raise ConfigError(f"unsupported database URL scheme {make_url(url).drivername!r} (expected sqlite:///FILE "
                          "or postgresql+psycopg://user@host/db)") from None
    except ImportError as exc:  # a scheme SQLAlchemy knows, its driver not installed (`pip install .` alone)
        raise ConfigError(f"the database URL needs the Python module {exc.name!r}, which is not installed; "
                          "PostgreSQL needs the postgres extra: pip install 'remedy-monitor[postgres]' "
                          "(or '.[postgres]' from a clone)") from None


class Database:
    """One engine and its session factory; ``session()`` is a transaction that commits or rolls back."""

    def __init__(self, url: str | None = None) -> None:
        self.url = database_url(url)
        self.engine = make_engine(self.url)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def display_url(self) -> str:
        """The URL without its password, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.Session() as session, session.begin():
            yield session

    def alembic_config(self) -> AlembicConfig:
        from alembic.config import Config  # Alembic loads only to change or inspect the schema

        cfg = Config()
        cfg.set_main_option("script_location", str(files("migrations")))
        cfg.attributes["engine"] = self.engine
        return cfg

    def current_revision(self) -> str | None:
        """The revision Alembic last stored here (None: no schema yet). Every command reads it
        first, so a server that is not there, or a file that is no database, is one ConfigError
        naming the URL and the driver's reason here."""
        try:
            with self.engine.connect() as conn:
                if not inspect(conn).has_table("alembic_version"):
                    return None
                return conn.scalar(select(_VERSION.c.version_num))
        except DBAPIError as exc:
            reason = " ".join(str(exc.orig).split())
            raise ConfigError(f"cannot open the database {self.display_url}: {reason}") from None

    def upgrade(self) -> tuple[str | None, str | None]:
        """Upgrade to the latest migration; returns (before, after) revisions."""
        from alembic import command
        from alembic.script import ScriptDirectory

        before = self.current_revision()
        config = self.alembic_config()
        known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
        if before is not None and before not in known:
            raise ConfigError(f"the database {self.display_url} has schema revision {before}, which this version of "
                              f"Remedy Monitor does not know (its newest is {HEAD}): a newer version upgraded it; "
                              "run that version, or point at another database")
        command.upgrade(config, "head")
        return before, self.current_revision()

    def ensure_schema(self) -> None:
        """Upgrade a database that is behind; a current one is left as it is. On PostgreSQL one process
        at a time: after an upgrade every worker starts at once, and two running one migration collide."""
        if self.current_revision() == HEAD:
            return
        if not self.is_postgres:
            self.upgrade()
            return
        with self.engine.begin() as conn:  # the lock is held until this transaction ends
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
            if self.current_revision() != HEAD:  # not done meanwhile by the process that held the lock
                self.upgrade()

    def dispose(self) -> None:
        self.engine.dispose()
