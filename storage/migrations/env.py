"""Alembic environment: run by ``storage.db.migrate`` (which hands over its connection) or by
the ``alembic`` command with ``-c storage/alembic.ini`` (URL from ``-x db=...`` or ARSIP_DB_URL).
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy.engine import Connection

from storage.models import Base
from storage.search import include_object

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # the caller owns the transaction (and on PostgreSQL holds the migration lock)
        _configure(connection)
        context.run_migrations()
        return
    from storage.db import WRITE, create_engine_for

    url = (context.get_x_argument(as_dictionary=True).get("db")
           or os.environ.get("ARSIP_DB_URL")
           or config.get_main_option("sqlalchemy.url"))
    if not url:
        raise SystemExit("give the database URL: alembic -x db=URL ... or ARSIP_DB_URL")
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(**WRITE)
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; give a database URL")
run_online()
