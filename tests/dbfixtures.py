"""Database fixtures: ``db_url`` runs a test on SQLite (a temp file) and on PostgreSQL.

PostgreSQL comes from ``ARSIP_TEST_PG_URL`` (default: the local test server). Each test gets a
schema of its own, named in the URL's ``search_path``, so Alembic's version table and every
table live there and are dropped after the test. An unreachable server skips the PostgreSQL
half, except under ``CI=true``, where it fails: CI must not go green by skipping it.

Import into conftest.py: ``from tests.dbfixtures import db_url, pg_url  # noqa: F401``
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.db import reason

DEFAULT_PG_URL = "postgresql+psycopg://root@127.0.0.1:5432/test"


def pg_server_url() -> str:
    url = make_url(os.environ.get("ARSIP_TEST_PG_URL") or DEFAULT_PG_URL)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def _unavailable(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose ``search_path`` is a fresh, empty schema (dropped afterwards)."""
    server = pg_server_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, connect_args={"connect_timeout": 5})
    try:
        try:
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:  # any failure to reach the server means "not available"
            _unavailable(f"PostgreSQL not reachable at "
                         f"{make_url(server).render_as_string(hide_password=True)}: "
                         f"{reason(exc)}")
        url = make_url(server).update_query_dict(
            # application_name tags this test's sessions so teardown can end leftovers
            {"options": f"-csearch_path={schema}", "application_name": schema}
        ).render_as_string(hide_password=False)
        try:
            yield url
        finally:
            with admin.begin() as conn:
                # a failed test may leave sessions open; they must not block the drop
                conn.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE pid <> pg_backend_pid() AND application_name = :name"
                ), {"name": schema})
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'arsip.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL with nothing in it yet, on each backend arsip supports."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))

