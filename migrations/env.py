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
        context.configure(connection=connection, target_metadata=target_metadata, include_name=include_name,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    if given is None:
        engine.dispose()


run_migrations_online()
