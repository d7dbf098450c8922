"""Engines and migrations: SQLite (WAL, busy timeout) by default, PostgreSQL through psycopg 3.

Transactions on SQLite: the driver's own transaction handling is switched off and we emit
``BEGIN`` ourselves, so a connection that will write can say ``BEGIN IMMEDIATE`` up front (see
``WRITE``). A deferred transaction that reads first and writes later can fail at once with
"database is locked" when another process committed in between, whatever the busy timeout; taking
the write lock at ``BEGIN`` makes writers queue on the busy timeout instead.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import (
    Column,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from storage.errors import DatabaseError

# a package resource, not a path beside this file: inside a Scrapyd egg (a zip) there is none
MIGRATIONS: Traversable = files("storage") / "migrations"

# execution option for connections that write: SQLite starts their transactions IMMEDIATE
WRITE = {"arsip_write": True}

SQLITE_BUSY_TIMEOUT_MS = 30_000
# any fixed number: one lock id that all arsip processes agree on for schema migrations
_PG_MIGRATION_LOCK = 0x61727369


def normalise_url(url: str | URL) -> URL:
    """Parse a database URL; ``postgresql://`` and ``postgres://`` mean psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"bad database URL {_safe(url)}: {one_line(exc)}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_engine_for(url: str | URL, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url`` with arsip's connection settings; nothing is connected yet.

    ``read_only``: the database is opened so that it cannot be written through this engine,
    and it needs no write access at all (an archive on a read-only volume, or one the user may
    only read).
    """
    parsed = normalise_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed, read_only=read_only, **kwargs)
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            # an unroutable host would otherwise hang the crawl's start for minutes
            kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", 10)
        engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
        if read_only and parsed.get_backend_name() == "postgresql":
            event.listen(engine, "connect", _pg_read_only)
        return engine
    except NoSuchModuleError as exc:
        raise DatabaseError(f"unsupported database URL {_safe(parsed)}: {one_line(exc)}") from None
    except ArgumentError as exc:
        raise DatabaseError(f"bad database URL {_safe(parsed)}: {one_line(exc)}") from None


def _sqlite_engine(url: URL, *, read_only: bool = False, **kwargs: Any) -> Engine:
    if read_only:
        url = _read_only_url(url)
    else:
        _make_folder(url)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # autocommit at the driver level: SQLAlchemy's "begin" event below emits BEGIN itself
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if read_only:
                cursor.execute("PRAGMA query_only = ON")
            else:
                _use_wal(cursor)
                # in WAL mode NORMAL loses at most the last commits on power loss, never
                # consistency
                cursor.execute("PRAGMA synchronous = NORMAL")
                cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("arsip_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _make_folder(url: URL) -> None:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().resolve().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"cannot create the database folder {folder}: "
                                f"{exc.strerror or exc}") from None


def _read_only_url(url: URL) -> URL:
    """The SQLite file opened read-only (``mode=ro``): no file is created, nothing written.

    A WAL database also needs its ``-shm`` index; where that file is missing and cannot be
    created (a read-only volume) the file is opened as immutable, which SQLite requires there:
    it then reads the database as it stands, without looking for other processes' writes.
    """
    path = Path(url.database or "").expanduser().resolve()
    if not path.is_file():  # opening it would not create it: say what is missing
        raise DatabaseError(f"no arsip archive in {_safe(url)}; run `arsip crawl` first")
    params = {"mode": "ro"}
    shm = path.with_name(path.name + "-shm")
    if not shm.exists() and not os.access(path.parent, os.W_OK):
        params["immutable"] = "1"
    return url.set(database=f"file:{quote(str(path))}?{urlencode(params)}",
                   query={"uri": "true"})


def _pg_read_only(dbapi_conn: Any, _record: Any) -> None:
    # every transaction of this connection is READ ONLY: the server refuses any write
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("SET default_transaction_read_only = on")
    finally:
        cursor.close()
    dbapi_conn.commit()


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (a lasting property of the file, so usually a no-op read).

    The switch needs an exclusive lock and SQLite does not always wait on the busy timeout for
    it: a process opening a fresh database while another creates its tables gets "database is
    locked" at once. So wait here, within the same timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() in ("wal", "memory"):
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


# The newest revision in storage/migrations/versions. Knowing it here lets a crawl check the
# schema with one query instead of loading Alembic (with Mako and Pygments, a third of a second
# of every crawl's start); tests/test_storage.py fails when a migration is added without it.
SCHEMA_HEAD = "0010"
# Alembic's own bookkeeping table, as ``alembic stamp`` creates it.
_VERSION_TABLE = Table(
    "alembic_version", MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (safe when several processes race).

    A database already at ``SCHEMA_HEAD`` is left alone; an empty one gets the tables of
    ``storage.models`` and is stamped at the head, as Alembic's cookbook recommends for new
    databases (a test keeps the models and the migrations identical); anything else is upgraded
    by Alembic.
    """
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(**WRITE)
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    # two crawls starting on an empty database must not both create the tables
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                 {"k": _PG_MIGRATION_LOCK})
                current = schema_version(conn)
                if current == SCHEMA_HEAD:
                    return
                if current is None and not _has_any_table(conn):
                    create_at_head(conn)
                    return
                upgrade_with_alembic(conn)
    except DatabaseError:
        raise
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"cannot open database {_safe(engine.url)}: {reason(exc)}"
        ) from None
    except OSError as exc:
        raise DatabaseError(f"cannot open database {_safe(engine.url)}: {exc}") from None


def schema_version(conn: Connection) -> str | None:
    """The revision the database is stamped with, or None for no arsip schema at all."""
    if not inspect(conn).has_table(_VERSION_TABLE.name):
        return None
    versions = conn.execute(select(_VERSION_TABLE.c.version_num)).scalars().all()
    # arsip's history is linear: more than one row is not a state this code wrote
    return versions[0] if len(versions) == 1 else ",".join(sorted(versions)) or None


def _has_any_table(conn: Connection) -> bool:
    from storage.models import Base

    found = inspect(conn)
    return any(found.has_table(name) for name in Base.metadata.tables)


def create_at_head(conn: Connection) -> None:
    """Create the newest schema from the models in an empty database and stamp it."""
    from storage.models import Base
    from storage.search import install as install_search

    Base.metadata.create_all(conn)
    install_search(conn)  # the search index is not in the models (see storage.search)
    # ``alembic downgrade base`` leaves the version table behind, empty
    _VERSION_TABLE.create(conn, checkfirst=True)
    conn.execute(_VERSION_TABLE.insert().values(version_num=SCHEMA_HEAD))


def upgrade_with_alembic(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.util.exc import CommandError

    config = Config()
    config.attributes["connection"] = conn
    try:
        with migration_scripts() as folder:
            config.set_main_option("script_location", str(folder))
            command.upgrade(config, "head")
    except CommandError as exc:
        # typically a revision this arsip does not know: a newer arsip wrote the archive
        raise DatabaseError(f"cannot upgrade the archive schema ({schema_version(conn)}): "
                            f"{one_line(exc)}; is it from a newer arsip?") from None


@contextmanager
def migration_scripts() -> Iterator[Path]:
    """The migration scripts as a folder Alembic can read: the package's own, or a temporary
    copy when arsip runs from a zip (a Scrapyd egg), whose files Alembic cannot open."""
    if isinstance(MIGRATIONS, Path):
        yield MIGRATIONS
        return
    with tempfile.TemporaryDirectory(prefix="arsip-migrations-") as tmp:
        folder = Path(tmp) / "migrations"
        _copy_tree(MIGRATIONS, folder)
        yield folder


def _copy_tree(source: Traversable, target: Path) -> None:
    target.mkdir()
    for item in source.iterdir():
        if item.is_dir():
            if item.name != "__pycache__":
                _copy_tree(item, target / item.name)
        else:
            (target / item.name).write_bytes(item.read_bytes())


def open_engine(url: str | URL, *, read_only: bool = False, migrated: bool = False) -> Engine:
    """An engine for ``url`` with its schema migrated to the newest revision; ``read_only``
    checks the schema is there and current instead (no DDL, so a read-only user can report);
    ``migrated`` trusts a caller that has just migrated it (a crawl's recorder process)."""
    engine = create_engine_for(url, read_only=read_only)
    try:
        if read_only:
            require_current_schema(engine, url)
        elif not migrated:
            migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def require_current_schema(engine: Engine, url: str | URL | None = None) -> None:
    """``DatabaseError`` unless the database holds an arsip archive at the newest revision
    (``url``: the database as the user named it, for the message)."""
    shown = _safe(url if url is not None else engine.url)
    try:
        with engine.connect() as conn:
            current = schema_version(conn)
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot open database {shown}: {reason(exc)}") from None
    if current is None:
        raise DatabaseError(f"no arsip archive in {shown}; run `arsip crawl` first")
    if current != SCHEMA_HEAD:
        raise DatabaseError(f"the archive in {shown} is at schema {current}, this "
                            f"arsip needs {SCHEMA_HEAD}; run `arsip crawl` once to upgrade it")


def reason(exc: BaseException) -> str:
    """The driver's message when there is one (it names the real cause), on one line."""
    orig = getattr(exc, "orig", None)
    return one_line(orig if orig is not None else exc)


def one_line(exc: object) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # psycopg puts the useful part ("Connection refused", "database ... does not exist") last
    # on connection failures and first elsewhere; SQLAlchemy appends a background link
    lines = [line for line in lines if not line.startswith("(Background on this error")]
    if not lines:
        return type(exc).__name__
    return "; ".join(lines)[:500]


def _safe(url: str | URL) -> str:
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)
