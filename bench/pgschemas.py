"""PostgreSQL schemas for benchmarks: each side of a round gets an empty one, all dropped at
the end (a schema, not a database: the server is shared, and nothing else is touched)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def pg_schemas(server_url: str, prefix: str) -> Iterator[Callable[[], str]]:
    """A function that creates an empty schema and returns a database URL whose
    ``search_path`` is that schema; every schema it made is dropped on leaving."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(server_url).set(drivername="postgresql+psycopg")
    admin = create_engine(server)
    made: list[str] = []

    def new_schema() -> str:
        schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        made.append(schema)
        return server.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)

    try:
        yield new_schema
    finally:
        with admin.begin() as conn:
            for schema in made:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
