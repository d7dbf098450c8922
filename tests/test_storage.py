"""Storage layer: migrations, upserts, versions, time zones, dedup lookups, reports, concurrency.

Most tests run twice through ``db_url``: on a SQLite file and on PostgreSQL (own schema).
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from storage.archive import Archive, content_hash, page_url
from storage.db import (
    MIGRATIONS,
    SCHEMA_HEAD,
    create_at_head,
    create_engine_for,
    normalise_url,
    schema_version,
    upgrade_with_alembic,
)
from storage.errors import DatabaseError
from storage.models import Base
from storage.records import ArticleRecord, CaptureRecord, Fetch, RelatedLink, WarcLocation
from storage.report import (
    EXPORT_KEYS,
    archive_status,
    export_articles,
    history,
    search_articles,
    write_export,
)
from storage.search import drop as drop_search
from storage.search import include_object
from tests.dbfixtures import db_url, pg_url, sqlite_url  # noqa: F401

WIB = timezone(timedelta(hours=7))
T0 = datetime(2025, 4, 28, 8, 0, tzinfo=UTC)
TABLES = {"sites", "pages", "article_versions", "captures", "crawl_runs", "extraction_errors"}


@pytest.fixture
def archive(db_url: str):  # noqa: F811
    arc = Archive.open(db_url)
    yield arc
    arc.close()


def article(text: str = "Paragraf pertama.\n\nParagraf kedua.", title: str = "Judul",
            **extra: object) -> ArticleRecord:
    return ArticleRecord(url="https://kudakyv.test/a/1", title=title, text=text, **extra)


def capture(url: str, record_id: str, *, at: datetime = T0, digest: str | None = "sha1:AAA",
            record_type: str = "response", run_id: int | None = None,
            warc_file: str = "arsip-1.warc.gz", offset: int = 0) -> CaptureRecord:
    return CaptureRecord(url=url, fetched_at=at, status=200, mime="text/html",
                         payload_digest=digest,
                         location=WarcLocation(warc_file, offset, 1234, record_id),
                         record_type=record_type, run_id=run_id)


def scalar(arc: Archive, sql: str, **params: object) -> object:
    with arc.read() as conn:
        return conn.execute(text(sql), params).scalar()


# --- opening and migrating ------------------------------------------------------------------------

def test_migrations_create_every_table_at_head(db_url: str) -> None:  # noqa: F811
    Archive.open(db_url).close()
    arc = Archive.open(db_url)  # a second open finds the schema current and changes nothing
    try:
        assert TABLES <= set(inspect(arc.engine).get_table_names())
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        with arc.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head
            # the migration and the models describe the same schema
            assert _model_differences(conn) == []
    finally:
        arc.close()


def _index_text(index: dict[str, object]) -> str:
    """An index as text; a partial index's WHERE clause by its SQL, not its object's address."""
    options = index.get("dialect_options") or {}
    return str({**index, "dialect_options": {k: str(v) for k, v in options.items()}})


def _model_differences(conn: Connection) -> list[object]:
    """What Alembic's autogenerate finds between the database and the models (the search
    index, which the models do not describe, left out as migrations' env.py does)."""
    context = MigrationContext.configure(conn, opts={"include_object": include_object})
    return compare_metadata(context, Base.metadata)  # type: ignore[no-any-return]


def _schema(conn: Connection) -> dict[str, object]:
    """Everything the database says about each table, in a comparable form, with the triggers
    and generated columns that no reflection of tables shows."""
    found = inspect(conn)
    if conn.dialect.name == "sqlite":
        extra = sorted(conn.exec_driver_sql(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('trigger', 'view')"
            " OR sql LIKE 'CREATE VIRTUAL%'").all())
    else:
        extra = sorted(conn.exec_driver_sql(
            "SELECT table_name, column_name, generation_expression, collation_name "
            "FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND (is_generated = 'ALWAYS' OR collation_name IS NOT NULL)").all())
    return {"extra": [tuple(row) for row in extra]} | {
        table: {
            # as a set: ALTER TABLE appends a column, so an upgraded archive has the columns of
            # later revisions (and PostgreSQL's generated search column) in another order
            "columns": sorted((c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                              for c in found.get_columns(table)),
            "primary key": found.get_pk_constraint(table),
            "foreign keys": sorted(map(str, found.get_foreign_keys(table))),
            "indexes": sorted(map(_index_text, found.get_indexes(table))),
            "unique": sorted(map(str, found.get_unique_constraints(table))),
            "checks": sorted(map(str, found.get_check_constraints(table))),
        }
        for table in sorted(found.get_table_names())
    }


def test_a_new_database_gets_exactly_the_schema_the_migrations_build(
        db_url: str) -> None:  # noqa: F811
    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:
            upgrade_with_alembic(conn)  # every migration, in order, as an old archive gets them
        with engine.connect() as conn:
            by_migrations = _schema(conn)
            assert _model_differences(conn) == []
        with engine.begin() as conn:
            drop_search(conn)
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE alembic_version"))
        with engine.begin() as conn:
            create_at_head(conn)  # what a first crawl does
        with engine.connect() as conn:
            assert _schema(conn) == by_migrations
            head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
            assert schema_version(conn) == SCHEMA_HEAD == head
            assert MigrationContext.configure(conn).get_current_revision() == head
    finally:
        engine.dispose()


def test_an_empty_version_table_is_a_new_database(db_url: str) -> None:  # noqa: F811
    engine = create_engine_for(db_url)
    try:
        with engine.begin() as conn:  # what `alembic downgrade base` leaves behind
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
    finally:
        engine.dispose()
    arc = Archive.open(db_url)
    try:
        with arc.engine.connect() as conn:
            assert schema_version(conn) == SCHEMA_HEAD
            assert TABLES <= set(inspect(conn).get_table_names())
    finally:
        arc.close()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    db = tmp_path / "new" / "folder" / "arsip.db"
    arc = Archive.open(f"sqlite:///{db}")
    try:
        assert db.exists()
        with arc.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30_000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        arc.close()


def test_postgresql_urls_use_psycopg3() -> None:
    for url in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"):
        assert normalise_url(url).drivername == "postgresql+psycopg"
    assert create_engine_for("postgresql://u@h/db").dialect.driver == "psycopg"


@pytest.mark.parametrize("url, message", [
    ("not a url", "bad database URL"),
    ("nosuchdb://x/y", "unsupported database URL"),
    ("mysql://u@127.0.0.1/x", "unsupported database URL"),
    ("postgresql://root@127.0.0.1:1/test", "cannot open database"),
])
def test_database_errors_are_one_clear_line(url: str, message: str) -> None:
    with pytest.raises(DatabaseError) as caught:
        Archive.open(url)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_sqlite_file_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseError, match="cannot create the database folder"):
        Archive.open(f"sqlite:///{blocker}/sub/arsip.db")
    # a folder where the database file should be (root ignores permissions, this it cannot)
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(DatabaseError, match="cannot open database"):
        Archive.open(f"sqlite:///{tmp_path / 'dir.db'}")


# --- sites, runs, pages ---------------------------------------------------------------------------

def test_ensure_site_upserts_by_name(archive: Archive) -> None:
    first = archive.ensure_site("kudakyv", "https://kudakyv.test/", "kudakyv.toml")
    again = archive.ensure_site("kudakyv", "https://www.kudakyv.test/")
    other = archive.ensure_site("lain", "https://lain.test/")
    assert first == again != other
    assert scalar(archive, "SELECT count(*) FROM sites") == 2
    assert scalar(archive, "SELECT base_url FROM sites WHERE id = :i", i=first) \
        == "https://www.kudakyv.test/"
    # a call without a profile keeps the one already known
    assert scalar(archive, "SELECT profile FROM sites WHERE id = :i", i=first) == "kudakyv.toml"


def test_runs_record_outcome_and_stats(archive: Archive) -> None:
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    run = archive.start_run(site, "cli")
    assert scalar(archive, "SELECT outcome FROM crawl_runs WHERE id = :i", i=run) == "running"
    archive.finish_run(run, "finished", {"response_received_count": 3, "start_time": T0,
                                         "arsip/articles_stored": 2})
    status = archive_status(archive)
    last = status["last_runs"][0]
    assert (last["id"], last["site"], last["outcome"], last["trigger"]) == \
        (run, "kudakyv", "finished", "cli")
    assert (last["pages"], last["articles"]) == (3, 2)
    assert last["stats"]["start_time"].startswith("2025-04-28")
    assert last["finished_at"] is not None


def test_note_fetch_upserts_one_page_and_keeps_validators(archive: Archive) -> None:
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    url = "https://kudakyv.test/2025/04/28/berita"
    assert archive.validators(url) is None
    first = archive.note_fetch(url, site_id=site, kind="article", fetched_at=T0, status=200,
                               etag='"v1"', last_modified="Mon, 28 Apr 2025 07:05:00 GMT")
    assert archive.validators(url) == ('"v1"', "Mon, 28 Apr 2025 07:05:00 GMT")
    # the same page written differently is the same row
    same = archive.note_fetch("HTTPS://Kudakyv.test:443/2025/04/28/berita#komentar",
                              site_id=site, kind="hub", fetched_at=T0 + timedelta(hours=1),
                              status=304)
    assert same == first
    assert archive.validators(url) == ('"v1"', "Mon, 28 Apr 2025 07:05:00 GMT")
    # an article also linked as a hub stays an article
    assert _page(archive, url)["kind"] == "article"
    archive.note_fetch(url, site_id=site, kind="article", fetched_at=T0 + timedelta(hours=2),
                       status=503, error="HTTP 503")
    assert archive.validators(url) == ('"v1"', "Mon, 28 Apr 2025 07:05:00 GMT")
    row = _page(archive, url)
    assert row["kind"] == "article"
    assert (row["checks"], row["last_status"], row["last_error"]) == (3, 503, "HTTP 503")
    assert row["last_fetched"] == T0 + timedelta(hours=2)
    assert row["first_seen"] == T0
    archive.note_fetch(url, site_id=site, kind="article", fetched_at=T0 + timedelta(hours=3),
                       status=200, etag='"v2"')
    assert archive.validators(url) == ('"v2"', None)
    assert _page(archive, url)["last_error"] is None
    assert scalar(archive, "SELECT count(*) FROM pages") == 1


def _page(arc: Archive, url: str) -> dict[str, object]:
    from sqlalchemy import select

    from storage.models import Page

    with arc.read() as conn:
        row = conn.execute(select(Page.__table__).where(Page.__table__.c.url == page_url(url)))
        return dict(row.mappings().one())


def test_page_url_form() -> None:
    assert page_url("HTTPS://Example.COM:443/Path?q=A#x") == "https://example.com/Path?q=A"
    assert page_url("http://example.com:8080") == "http://example.com:8080/"
    assert page_url("http://[::1]:80/a") == "http://[::1]/a"


# --- articles and versions ------------------------------------------------------------------------

def test_new_version_only_when_text_changes(archive: Archive) -> None:
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    url = "https://kudakyv.test/a/1"
    cap1 = archive.record_capture(capture(url, "<urn:uuid:1>"))
    cap2 = archive.record_capture(capture(url, "<urn:uuid:2>", at=T0 + timedelta(days=1)))

    def store(art: ArticleRecord, cap: int, at: datetime) -> bool:
        return archive.store_article(site_id=site, url=url, article=art, capture_id=cap,
                                     fetched_at=at)

    assert store(article(), cap1, T0) is True
    assert store(article(), cap2, T0 + timedelta(hours=1)) is False
    # re-wrapped whitespace is the same text
    assert store(article("Paragraf   pertama.\n\n\nParagraf  kedua. "), cap2, T0) is False
    assert store(article("Paragraf pertama, diperbarui.\n\nParagraf kedua."), cap2,
                 T0 + timedelta(days=1)) is True
    # a changed title alone is a change too
    assert store(article("Paragraf pertama, diperbarui.\n\nParagraf kedua.", title="Judul baru"),
                 cap2, T0 + timedelta(days=2)) is True
    row = _page(archive, url)
    assert (row["versions"], row["changes"], row["kind"]) == (3, 2, "article")
    assert scalar(archive, "SELECT count(*) FROM article_versions") == 3
    # back to the first wording: a revert is a version of its own (A, B, C, A)
    assert store(article(), cap2, T0 + timedelta(days=3)) is True
    assert store(article(), cap2, T0 + timedelta(days=4)) is False
    row = _page(archive, url)
    assert (row["versions"], row["changes"]) == (4, 3)
    assert row["content_hash"] == content_hash("Judul", "Paragraf pertama. Paragraf kedua.")
    [exported] = list(export_articles(archive))
    assert exported["text"] == article().text
    assert exported["versions"] == 4
    assert exported["version_fetched_at"] == (T0 + timedelta(days=3)).isoformat()
    versions = history(archive, url)
    assert [v["version"] for v in versions] == [1, 2, 3, 4]
    assert [v["current"] for v in versions] == [False, False, False, True]
    assert versions[0]["content_hash"] == versions[3]["content_hash"]
    assert versions[0]["capture"]["record_id"] == "<urn:uuid:1>"
    assert versions[1]["capture"]["record_id"] == "<urn:uuid:2>"


def test_published_keeps_its_offset(archive: Archive) -> None:
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    published = datetime(2025, 4, 28, 14, 5, tzinfo=WIB)
    updated = datetime(2025, 4, 28, 16, 30)  # naive: the page gave no zone
    archive.store_article(site_id=site, url="https://kudakyv.test/a/1",
                          article=article(published=published, updated=updated),
                          capture_id=None, fetched_at=T0)
    [row] = list(export_articles(archive))
    assert row["published"] == "2025-04-28T14:05:00+07:00"
    assert row["updated"] == "2025-04-28T16:30:00"
    assert row["first_seen"] == "2025-04-28T08:00:00+00:00"
    from sqlalchemy import select

    from storage.models import ArticleVersion

    with archive.read() as conn:
        stored = conn.execute(select(ArticleVersion.__table__.c.published)).scalar_one()
    # the column holds the instant, aware, in UTC
    assert stored == published and stored.utcoffset() == timedelta(0)


def test_times_come_back_aware_utc(archive: Archive) -> None:
    at = datetime(2025, 4, 28, 14, 5, 6, 789000, tzinfo=WIB)
    archive.record_capture(capture("https://kudakyv.test/", "<urn:uuid:t>", at=at))
    found = archive.find_original("sha1:AAA")
    assert found is not None
    assert found.fetched_at == at
    assert found.fetched_at.tzinfo is not None and found.fetched_at.utcoffset() == timedelta(0)


def test_export_rows_and_formats(archive: Archive) -> None:
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    url = "https://kudakyv.test/a/1"
    cap = archive.record_capture(capture(url, "<urn:uuid:e>", offset=4096))
    archive.store_article(
        site_id=site, url=url, capture_id=cap, fetched_at=T0,
        article=article(authors=("Ani", "Budi"), language="id", tags=("politik", "pemilu"),
                        section="Nasional",
                        related=(RelatedLink("Berita lain", "https://kudakyv.test/a/2"),)),
    )
    # a hub and a failed page are no articles
    archive.note_fetch("https://kudakyv.test/", site_id=site, kind="hub", fetched_at=T0,
                       status=200)
    archive.record_extraction_error(site_id=site, url="https://kudakyv.test/a/3",
                                    capture_id=cap, fetched_at=T0, error="NoContent")
    rows = list(export_articles(archive))
    assert len(rows) == 1
    row = rows[0]
    assert tuple(row)[: len(EXPORT_KEYS)] == EXPORT_KEYS
    assert row["author"] == "Ani; Budi"
    assert row["related"] == [{"title": "Berita lain", "url": "https://kudakyv.test/a/2"}]
    assert (row["warc_file"], row["warc_offset"], row["versions"]) == ("arsip-1.warc.gz", 4096, 1)
    assert (row["language"], row["section"], row["tags"]) == ("id", "Nasional",
                                                              ["politik", "pemilu"])

    out = io.StringIO()
    assert write_export(rows, "jsonl", out) == 1
    assert json.loads(out.getvalue().splitlines()[0]) == row
    out = io.StringIO()
    write_export(rows, "csv", out)
    [cells] = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(cells)[: len(EXPORT_KEYS)] == list(EXPORT_KEYS)
    assert json.loads(cells["related"]) == row["related"]
    assert json.loads(cells["tags"]) == ["politik", "pemilu"]
    assert cells["warc_offset"] == "4096"
    empty = io.StringIO()
    write_export([], "csv", empty)
    assert empty.getvalue().startswith("url,title,author,published")


def test_extraction_error_kept_with_capture(archive: Archive) -> None:
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    url = "https://kudakyv.test/a/9"
    cap = archive.record_capture(capture(url, "<urn:uuid:x>"))
    archive.record_extraction_error(site_id=site, url=url, capture_id=cap, fetched_at=T0,
                                    error="NoContent: menu only")
    assert _page(archive, url)["last_error"] == "NoContent: menu only"
    with archive.read() as conn:
        row = conn.execute(text("SELECT capture_id, error FROM extraction_errors")).one()
    assert tuple(row) == (cap, "NoContent: menu only")
    assert archive_status(archive)["extraction_errors"] == 1


# --- captures -------------------------------------------------------------------------------------

def test_record_capture_is_idempotent_per_record_id(archive: Archive) -> None:
    rec = capture("https://kudakyv.test/", "<urn:uuid:same>")
    assert archive.record_capture(rec) == archive.record_capture(rec)
    assert scalar(archive, "SELECT count(*) FROM captures") == 1
    # a row indexed without a SURT key (by an arsip before replay) gets it when seen again
    with archive.engine.begin() as conn:
        conn.execute(text("UPDATE captures SET urlkey = NULL"))
    archive.record_capture(rec)
    assert scalar(archive, "SELECT urlkey FROM captures") == "test,kudakyv)/"


def test_find_original_prefers_earliest_response_of_the_same_url(archive: Archive) -> None:
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    run = archive.start_run(site, "cli")
    a, b = "https://kudakyv.test/a", "https://kudakyv.test/b"
    archive.record_capture(capture(b, "<urn:uuid:b1>", at=T0, run_id=run))
    archive.record_capture(capture(a, "<urn:uuid:a2>", at=T0 + timedelta(hours=2)))
    archive.record_capture(capture(a, "<urn:uuid:a1>", at=T0 + timedelta(hours=1),
                                   offset=77, warc_file="arsip-2.warc.gz"))
    archive.record_capture(capture(a, "<urn:uuid:r>", at=T0, record_type="revisit"))
    found = archive.find_original("sha1:AAA", a)
    assert found is not None
    assert found.location == WarcLocation("arsip-2.warc.gz", 77, 1234, "<urn:uuid:a1>")
    assert (found.url, found.record_type, found.status, found.mime) == \
        (a, "response", 200, "text/html")
    earliest = archive.find_original("sha1:AAA", "https://kudakyv.test/other")
    assert earliest is not None and earliest.location.record_id == "<urn:uuid:b1>"
    assert earliest.run_id == run
    assert archive.find_original("sha1:AAA") == earliest
    assert archive.find_original("sha1:NONE", a) is None


# --- reports --------------------------------------------------------------------------------------

def test_status_search_and_history(archive: Archive, tmp_path: Path) -> None:
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    archive.record_capture(capture("https://kudakyv.test/", "<urn:uuid:s1>"))
    archive.record_capture(capture("https://kudakyv.test/", "<urn:uuid:s2>",
                                   record_type="revisit"))
    for n, words in enumerate(("Banjir di Jakarta", "Harga cabai naik", "Banjir 100% surut")):
        archive.store_article(site_id=site, url=f"https://kudakyv.test/a/{n}",
                              article=article(f"{words}. Isi berita {n}.", title=words),
                              capture_id=None, fetched_at=T0)
    warc = tmp_path / "warc"
    warc.mkdir()
    (warc / "arsip-1.warc.gz").write_bytes(b"x" * 100)
    (warc / "arsip-2.warc.gz.open").write_bytes(b"x" * 10)
    (warc / "notes.txt").write_text("ignored")
    status = archive_status(archive, warc)
    assert status["sites"] == 1
    assert status["pages"] == {"article": 3, "hub": 0, "other": 0}
    assert (status["articles"], status["versions"]) == (3, 3)
    assert status["captures"] == {"response": 1, "revisit": 1}
    assert (status["warc"]["files"], status["warc"]["open_files"], status["warc"]["bytes"]) == \
        (1, 1, 110)

    hits = search_articles(archive, "banjir")
    assert {hit["url"] for hit in hits} == {"https://kudakyv.test/a/0", "https://kudakyv.test/a/2"}
    assert [hit["url"] for hit in search_articles(archive, "100%")] == \
        ["https://kudakyv.test/a/2"]
    assert search_articles(archive, "banjir jakarta", limit=5)[0]["title"] == "Banjir di Jakarta"
    assert search_articles(archive, "tidak-ada") == []
    assert len(history(archive, "https://kudakyv.test/a/1")) == 1
    assert history(archive, "https://kudakyv.test/none") == []


# --- concurrency and speed ------------------------------------------------------------------------

def _crawl_worker(url: str, barrier: object, rounds: int, queue: object) -> None:
    try:
        barrier.wait()  # type: ignore[attr-defined]
        arc = Archive.open(url)  # both processes migrate a fresh database at the same moment
        try:
            site = arc.ensure_site("kudakyv", "https://kudakyv.test/")
            new = 0
            for i in range(rounds):
                page = f"https://kudakyv.test/a/{i % 10}"
                arc.note_fetch(page, site_id=site, kind="article", fetched_at=T0, status=200)
                new += arc.store_article(site_id=site, url=page, fetched_at=T0,
                                         article=article(f"Teks {i % 10}."), capture_id=None)
            queue.put(("ok", new))  # type: ignore[attr-defined]
        finally:
            arc.close()
    except BaseException as exc:
        queue.put(("error", repr(exc)))  # type: ignore[attr-defined]
        raise


def test_two_crawls_at_once_store_one_page_and_one_version(db_url: str) -> None:  # noqa: F811
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_crawl_worker, args=(db_url, barrier, 60, queue))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert all(kind == "ok" for kind, _ in results), results
    # ten pages, each stored once across both processes
    assert sum(new for _, new in results) == 10
    arc = Archive.open(db_url)
    try:
        assert scalar(arc, "SELECT count(*) FROM sites") == 1
        assert scalar(arc, "SELECT count(*) FROM pages") == 10
        assert scalar(arc, "SELECT count(*) FROM article_versions") == 10
        assert scalar(arc, "SELECT sum(versions) FROM pages") == 10
        assert scalar(arc, "SELECT sum(checks) FROM pages") == 120
    finally:
        arc.close()


def test_batch_mode_commits_on_commit_and_reads_its_own_writes(db_url: str) -> None:  # noqa: F811
    arc = Archive.open(db_url)
    other = Archive.open(db_url)
    try:
        site = arc.ensure_site("kudakyv", "https://kudakyv.test/")
        arc.batch()
        for i in range(50):
            arc.store_article(site_id=site, url=f"https://kudakyv.test/a/{i}", fetched_at=T0,
                              article=article(f"Teks berita nomor {i}. " * 40), capture_id=None)
        cap = arc.record_capture(capture("https://kudakyv.test/a/1", "<urn:uuid:b1>",
                                         digest="sha1:BATCH"))
        # this archive sees its own uncommitted rows; another connection does not yet
        assert scalar(arc, "SELECT count(*) FROM article_versions") == 50
        found = arc.find_original("sha1:BATCH")
        assert found is not None and found.location.record_id == "<urn:uuid:b1>"
        assert scalar(other, "SELECT count(*) FROM article_versions") == 0
        arc.commit()
        assert scalar(other, "SELECT count(*) FROM article_versions") == 50
        assert scalar(other, "SELECT count(*) FROM captures WHERE id = :i", i=cap) == 1
        # a failed write drops the open batch and says so; the committed rows stay
        arc.store_article(site_id=site, url="https://kudakyv.test/a/x", fetched_at=T0,
                          article=article("Tidak jadi."), capture_id=None)
        with pytest.raises(DatabaseError):
            arc.start_run(424242, "cli")
        arc.close()
        assert scalar(other, "SELECT count(*) FROM article_versions") == 50
    finally:
        other.close()


def test_write_failures_are_database_errors(archive: Archive) -> None:
    # foreign keys are enforced on SQLite too: a run for a site that does not exist is refused
    with pytest.raises(DatabaseError, match="cannot write to the archive database"):
        archive.start_run(424242, "cli")
    assert scalar(archive, "SELECT count(*) FROM crawl_runs") == 0


def test_store_article_notes_the_fetch_in_one_go(archive: Archive) -> None:
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    url = "https://kudakyv.test/a/1"
    archive.store_article(site_id=site, url=url, article=article(), capture_id=None,
                          fetched_at=T0, fetch=Fetch(200, '"v1"', "Mon, 28 Apr 2025 07:05:00 GMT"))
    assert archive.validators(url) == ('"v1"', "Mon, 28 Apr 2025 07:05:00 GMT")
    assert scalar(archive, "SELECT last_status FROM pages") == 200
    assert scalar(archive, "SELECT kind FROM pages") == "article"


def test_read_only_open_needs_an_archive_and_creates_nothing(db_url: str) -> None:  # noqa: F811
    with pytest.raises(DatabaseError, match="no arsip archive in"):
        Archive.open(db_url, read_only=True)
    engine = create_engine_for(db_url)
    try:
        assert not inspect(engine).get_table_names()
    finally:
        engine.dispose()
    Archive.open(db_url).close()  # a crawl creates it; then reading works
    Archive.open(db_url, read_only=True).close()


def test_a_read_only_archive_refuses_writes(db_url: str) -> None:  # noqa: F811
    Archive.open(db_url).close()
    reader = Archive.open(db_url, read_only=True)
    try:
        with pytest.raises(DatabaseError):
            reader.ensure_site("kudakyv", "https://kudakyv.test/")
        assert scalar(reader, "SELECT count(*) FROM sites") == 0
    finally:
        reader.close()
