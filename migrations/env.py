"""Alembic environment: the models' metadata, batch mode on SQLite."""
from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, event, pool

from incidents.kernel.db import Base, make_engine, normalise_url
from incidents import models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or normalise_url(os.environ["DATABASE_URL"])


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=_url().startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    url = _url()
    if url.startswith("sqlite"):
        # Batch migrations copy and recreate tables; with foreign keys on, dropping a table
        # that others point at fails. The pragma only works outside a transaction, so it is
        # set on connect, and integrity is checked once the migration is done.
        engine = create_engine(url, poolclass=pool.NullPool)
        event.listen(engine, "connect", lambda conn, _rec: conn.execute("PRAGMA foreign_keys=OFF"))
        with engine.connect() as connection:
            _run(connection)
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows with broken foreign keys: {broken[:5]}")
    else:
        engine = make_engine(url, poolclass=pool.NullPool)
        with engine.connect() as connection:
            _run(connection)
    engine.dispose()


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
