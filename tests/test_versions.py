"""Article versions: a revert is a version, numbering, the 0002 upgrade of an existing archive,
and the word-level diff behind ``arsip history --diff``."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

from storage.archive import Archive, content_hash
from storage.db import MIGRATIONS, SCHEMA_HEAD, WRITE, create_engine_for, schema_version
from storage.records import ArticleRecord
from storage.report import export_articles, history, version_texts
from storage.search import search
from storage.textdiff import word_diff
from tests.dbfixtures import db_url, pg_url, sqlite_url  # noqa: F401

T0 = datetime(2025, 4, 28, 8, 0, tzinfo=UTC)
URL = "https://kudakyv.test/2025/04/28/berita/"


@contextmanager
def _writing(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        conn = conn.execution_options(**WRITE)
        with conn.begin():
            yield conn


@contextmanager
def _at_revision(engine: Engine, revision: str) -> Iterator[Connection]:
    """A database as an older arsip left it, open for writing what that arsip would have."""
    with _writing(engine) as conn:
        command.upgrade(_alembic(conn), revision)
        yield conn


def _downgrade(engine: Engine, revision: str) -> None:
    with _writing(engine) as conn:
        command.downgrade(_alembic(conn), revision)


def _alembic(conn: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def test_an_archive_at_0001_upgrades_and_gets_its_lost_revert_back(
        db_url: str) -> None:  # noqa: F811
    engine = create_engine_for(db_url)
    try:
        with _at_revision(engine, "0001") as conn:
            # what arsip before 0002 left after a page went A, B, then back to A: two rows,
            # and the page pointing at the first again
            site_id = conn.execute(text(
                "INSERT INTO sites (name, base_url, enabled, created_at) "
                "VALUES ('kudakyv.test', 'https://kudakyv.test/', true, :t) RETURNING id"),
                {"t": T0}).scalar()
            page_id = conn.execute(text(
                "INSERT INTO pages (url, site_id, kind, first_seen, last_fetched, "
                "content_hash, versions, checks, changes, last_changed_at) VALUES "
                "(:url, :site, 'article', :t0, :t2, :a, 2, 3, 2, :t2) RETURNING id"),
                {"url": URL, "site": site_id, "t0": T0, "t2": T0 + timedelta(hours=2),
                 "a": content_hash("Judul", "teks A")}).scalar()
            conn.execute(text(
                "INSERT INTO captures (url, fetched_at, status, warc_file, warc_offset, "
                "warc_length, warc_record_id, record_type) VALUES "
                "(:url, :t2, 200, 'arsip-1.warc.gz', 900, 100, '<urn:uuid:7>', "
                "'response')"), {"url": URL, "t2": T0 + timedelta(hours=2)})
            for hours, body in ((0, "teks A"), (1, "teks B")):
                conn.execute(text(
                    "INSERT INTO article_versions (page_id, fetched_at, title, authors, "
                    "published, tags, text, related, content_hash) VALUES "
                    "(:page, :at, 'Judul', '[]', :pub, '[]', :body, '[]', :hash)"),
                    {"page": page_id, "at": T0 + timedelta(hours=hours),
                     "pub": T0 - timedelta(days=1), "body": body,
                     "hash": content_hash("Judul", body)})
        arc = Archive.open(db_url)  # what the next crawl does: upgrade with Alembic
        try:
            with arc.engine.connect() as conn:
                assert schema_version(conn) == SCHEMA_HEAD
            versions = history(arc, URL)
            assert [v["version"] for v in versions] == [1, 2, 3]
            assert [v["current"] for v in versions] == [False, False, True]
            assert versions[2]["content_hash"] == versions[0]["content_hash"]
            # the revert is dated when it was seen, and linked to that capture
            assert versions[2]["fetched_at"] == (T0 + timedelta(hours=2)).isoformat()
            assert versions[2]["capture"]["record_id"] == "<urn:uuid:7>"
            [row] = list(export_articles(arc))
            assert (row["text"], row["versions"]) == ("teks A", 3)
            with arc.read() as conn:
                published = conn.execute(text("SELECT published FROM pages")).scalar()
            assert str(published).startswith(str((T0 - timedelta(days=1)).date()))
            # the archive goes on: B again is version 4, and full-text search still follows
            # (on SQLite, rebuilding article_versions dropped the search triggers on it)
            site = arc.ensure_site("kudakyv.test", "https://kudakyv.test/")
            assert arc.store_article(site_id=site, url=URL,
                                     article=ArticleRecord(URL, "Judul", "teks B sunting"),
                                     capture_id=None, fetched_at=T0 + timedelta(hours=3))
            assert [v["version"] for v in history(arc, URL)] == [1, 2, 3, 4]
            with arc.read() as conn:
                [hit] = search(conn, "sunting")
                assert hit.current and hit.url == URL
                assert search(conn, "teks A") == []  # version 3 (A) is no longer current
                assert len(search(conn, "teks", all_versions=True)) == 1
        finally:
            arc.close()
        _downgrade(engine, "0001")
        with _writing(engine) as conn:
            # one row per distinct text again, as the old constraint demands
            assert conn.execute(text("SELECT count(*) FROM article_versions")).scalar() == 3
    finally:
        engine.dispose()


def test_revert_is_a_third_version_with_texts_to_diff(db_url: str) -> None:  # noqa: F811
    arc = Archive.open(db_url)
    try:
        site = arc.ensure_site("kudakyv.test", "https://kudakyv.test/")
        texts = ["Gempa mengguncang Palu pagi ini.", "Gempa kuat mengguncang Palu pagi ini.",
                 "Gempa mengguncang Palu pagi ini."]
        stored = [arc.store_article(site_id=site, url=URL, article=ArticleRecord(URL, "J", body),
                                    capture_id=None, fetched_at=T0 + timedelta(hours=i))
                  for i, body in enumerate(texts)]
        assert stored == [True, True, True]
        got = version_texts(arc, URL, [1, 3, 9])
        assert sorted(got) == [1, 3]
        assert got[1]["text"] == got[3]["text"] == texts[0]
    finally:
        arc.close()


@pytest.mark.parametrize(
    ("old", "new", "ops"),
    [
        ("a b c", "a b c", [("equal", "a b c")]),
        ("a b c", "a x c", [("equal", "a "), ("delete", "b"), ("insert", "x"), ("equal", " c")]),
        ("a b", "a b c d", [("equal", "a b"), ("insert", " c d")]),
        ("satu dua tiga", "dua tiga", [("delete", "satu "), ("equal", "dua tiga")]),
    ],
)
def test_word_diff_marks_whole_words(old: str, new: str, ops: list[tuple[str, str]]) -> None:
    assert [(piece.op, piece.text) for piece in word_diff(old, new)] == ops


def test_word_diff_keeps_paragraphs() -> None:
    pieces = word_diff("Paragraf satu.\nParagraf dua.", "Paragraf satu.\nParagraf dua diubah.")
    joined_new = "".join(p.text for p in pieces if p.op != "delete")
    assert joined_new == "Paragraf satu.\nParagraf dua diubah."
    assert [p.text for p in pieces if p.op == "insert"] == [" diubah"]
    assert [p.text for p in pieces if p.op == "delete"] == []


@pytest.mark.parametrize("sep", ["\n", " "], ids=["paragraphs", "one-paragraph"])
def test_word_diff_of_a_long_live_blog_is_quick_and_marks_only_the_edits(sep: str) -> None:
    """Compared word by word as a whole, 5,000 words took 17 s (quadratic: the space token
    matches at every other place); only the sentences that changed are compared so now."""
    rng = random.Random(5)
    words = "yang di dan itu pemerintah warga banjir harga kata menurut sudah".split()
    sentences = [" ".join(rng.choice(words) for _ in range(12)) + "." for _ in range(420)]
    paragraphs = [" ".join(sentences[i:i + 6]) for i in range(0, len(sentences), 6)]
    old = sep.join(paragraphs)
    edited = sorted(rng.sample(range(len(sentences)), 20))
    new_sentences = list(sentences)
    for at in edited:
        new_sentences[at] = new_sentences[at].replace(" ", " DIUBAH ", 1)
    new = sep.join(" ".join(new_sentences[i:i + 6]) for i in range(0, len(sentences), 6))
    start = time.perf_counter()
    pieces = word_diff(old, new)
    assert time.perf_counter() - start < 3  # was 17 s
    assert "".join(p.text for p in pieces if p.op != "insert") == old
    assert "".join(p.text for p in pieces if p.op != "delete") == new
    assert [(p.op, p.text.strip()) for p in pieces if p.op != "equal"] == \
        [("insert", "DIUBAH")] * 20


def test_date_only_times_stay_dates_and_0008_upgrades_the_old_midnights(
        db_url: str) -> None:  # noqa: F811
    day = date(2025, 5, 3)
    engine = create_engine_for(db_url)
    try:
        with _at_revision(engine, "0007") as conn:
            # what arsip before 0008 stored for a page giving only a date: a naive midnight
            page_id = conn.execute(text(
                "INSERT INTO pages (url, kind, first_seen, last_fetched, content_hash, "
                "versions, checks, changes, published) VALUES (:url, 'article', :t, :t, "
                ":h, 1, 1, 0, :midnight) RETURNING id"),
                {"url": URL, "t": T0, "h": content_hash("Judul", "teks"),
                 "midnight": datetime(2025, 5, 3, tzinfo=UTC)}).scalar()
            conn.execute(text(
                "INSERT INTO article_versions (page_id, number, fetched_at, title, authors, "
                "published, published_raw, updated, updated_raw, tags, text, related, "
                "content_hash) VALUES (:page, 1, :t, 'Judul', '[]', :midnight, "
                "'2025-05-03T00:00:00', :zoned, '2025-05-04T09:30:00+07:00', '[]', 'teks', "
                "'[]', :h)"),
                {"page": page_id, "t": T0, "midnight": datetime(2025, 5, 3, tzinfo=UTC),
                 "zoned": datetime(2025, 5, 4, 2, 30, tzinfo=UTC),
                 "h": content_hash("Judul", "teks")})
        arc = Archive.open(db_url)
        try:
            [row] = list(export_articles(arc))
            assert row["published"] == "2025-05-03"
            assert row["updated"] == "2025-05-04T09:30:00+07:00"  # a real time is untouched
            # a new date-only article is stored the same way: the date as text, no instant
            site = arc.ensure_site("kudakyv.test", "https://kudakyv.test/")
            other = URL + "lain/"
            arc.store_article(site_id=site, url=other, capture_id=None, fetched_at=T0,
                              article=ArticleRecord(other, "Lain", "teks lain", published=day))
            with arc.read() as conn:
                rows = conn.execute(text(
                    "SELECT p.published, v.published, v.published_raw FROM pages AS p JOIN "
                    "article_versions AS v ON v.page_id = p.id ORDER BY p.id")).all()
            assert [tuple(r) for r in rows] == [(None, None, "2025-05-03")] * 2
        finally:
            arc.close()
        _downgrade(engine, "0007")
        with _writing(engine) as conn:
            raws = conn.execute(text(
                "SELECT published_raw FROM article_versions")).scalars().all()
            assert raws == ["2025-05-03T00:00:00"] * 2
            assert conn.execute(text(
                "SELECT count(*) FROM pages WHERE published IS NULL")).scalar() == 0
    finally:
        engine.dispose()
