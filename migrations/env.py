"""Alembic environment: uses the engine handed over by ``monitor.db.Database``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from monitor.db import database_url, include_name
from monitor.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    given = config.attributes.get("engine")
    engine = given or create_engine(database_url())
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # batch mode rebuilds a table (copy, drop, rename); with foreign keys on, dropping the old
            # table cascades into every row that refers to it. The pragma is a no-op inside a
            # transaction, so it is set before the migrations' own.
            connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
            connection.commit()
            # Python's sqlite3 runs DDL outside any transaction unless one is begun by hand: without
            # this, a migration failing midway (a full disk) left its first tables and no revision
            connection.exec_driver_sql("BEGIN")
        try:
            context.configure(connection=connection, target_metadata=target_metadata, include_name=include_name,
                              render_as_batch=sqlite)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()  # on SQLite the BEGIN's transaction (Alembic leaves one it did not begin)
        except BaseException:
            connection.rollback()
            raise
        finally:
            if sqlite:  # the pooled connection goes back as every other: foreign keys on
                connection.exec_driver_sql("PRAGMA foreign_keys = ON")
                connection.commit()
    if given is None:
        engine.dispose()


run_migrations_online()
