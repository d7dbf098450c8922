"""The replay index: SURT keys, closest captures, CDX queries, full-text search, and the
migration that brings an older archive up to them. Database tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from storage.archive import Archive
from storage.db import MIGRATIONS, SCHEMA_HEAD, create_engine_for, migrate, schema_version
from storage.index import (
    MAX_CDX_LIMIT,
    CaptureIndex,
    CdxFilter,
    CdxQuery,
    CdxQueryError,
    format_cdx,
    parse_timestamp,
    search_range,
    site_range,
    surt_key,
)
from storage.records import ArticleRecord, CaptureRecord, WarcLocation
from storage.report import search_articles
from storage.search import (
    MARK_END,
    MARK_START,
    SearchQueryError,
    fts5_expression,
    parse_query,
)
from tests.dbfixtures import db_url, pg_url, sqlite_url  # noqa: F401

T0 = datetime(2025, 4, 28, 7, 5, 30, 123456, tzinfo=UTC)


@pytest.fixture
def archive(db_url: str):  # noqa: F811
    arc = Archive.open(db_url)
    yield arc
    arc.close()


def add_capture(arc: Archive, url: str, n: int, *, at: datetime = T0, status: int = 200,
                record_type: str = "response", digest: str | None = "sha1:AAAA",
                refers_to: str | None = None, mime: str | None = "text/html") -> int:
    return arc.record_capture(CaptureRecord(
        url=url, fetched_at=at, status=status, mime=mime, payload_digest=digest,
        location=WarcLocation("arsip-1.warc.gz", n * 1000, 900, f"<urn:uuid:{n:08d}>"),
        record_type=record_type, refers_to=refers_to))


def add_article(arc: Archive, url: str, title: str, body: str, *, at: datetime = T0,
                site_id: int | None = None) -> bool:
    return arc.store_article(site_id=site_id, url=url, fetched_at=at, capture_id=None,
                             article=ArticleRecord(url=url, title=title, text=body))


# --- SURT keys and ranges (pywb's documented examples) -----------------------------------------

def test_surt_keys_and_search_ranges_match_pywb() -> None:
    assert surt_key("https://www.Kudakyv.com/a/b?y=2&x=1#top") == "com,kudakyv)/a/b?x=1&y=2"
    assert surt_key("http://kudakyv.com/a/b?x=1&y=2") == "com,kudakyv)/a/b?x=1&y=2"
    assert surt_key("http://127.0.0.1:8080/x/") == "1,0,0,127:8080)/x"
    url = "http://example.com/path/file.html"
    assert search_range(url, "exact") == ("com,example)/path/file.html",
                                          "com,example)/path/file.html!")
    assert search_range(url, "prefix") == ("com,example)/path/file.html",
                                           "com,example)/path/file.htmm")
    assert search_range("http://example.com/path/", "prefix") == ("com,example)/path/",
                                                                   "com,example)/path0")
    assert search_range(url, "host") == ("com,example)/", "com,example*")
    assert search_range(url, "domain") == ("com,example)/", "com,example-")
    assert search_range("com", "domain") == ("com,", "com-")
    # a site's own range takes in its host even without a dot (pywb's domain match does not)
    assert site_range("http://localhost:8080/x") == ("localhost:8080)", "localhost:8080-")
    start, end = site_range("https://www.kudakyv.com/")
    assert start <= "com,kudakyv)/a" < end and start <= "com,kudakyv,cdn)/x" < end
    assert not start <= "com,kudakyv-lain)/" < end


def test_partial_timestamps() -> None:
    assert parse_timestamp("2025") == datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_timestamp("202502") == datetime(2025, 2, 28, 23, 59, 59, tzinfo=UTC)
    assert parse_timestamp("2025", pad="down") == datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_timestamp("20250428070530") == datetime(2025, 4, 28, 7, 5, 30, tzinfo=UTC)
    for bad in ("", "20x5", "123", "2025042807053012"):
        with pytest.raises(CdxQueryError):
            parse_timestamp(bad)


# --- closest capture and CDX -----------------------------------------------------------------

@pytest.fixture
def indexed(archive: Archive) -> CaptureIndex:
    base = "https://kudakyv.test"
    add_capture(archive, f"{base}/a/", 1, at=T0)
    add_capture(archive, f"{base}/a/", 2, at=T0 + timedelta(days=10), record_type="revisit",
                refers_to="<urn:uuid:00000001>")
    add_capture(archive, "http://www.kudakyv.test/a/", 3, at=T0 + timedelta(days=20),
                digest="sha1:BBBB")
    add_capture(archive, f"{base}/a/", 4, at=T0 + timedelta(days=30), status=304,
                record_type="revisit", digest=None, refers_to="<urn:uuid:00000003>")
    add_capture(archive, f"{base}/a/b/", 5, at=T0 + timedelta(days=1), status=404)
    add_capture(archive, f"{base}/style.css", 6, mime="text/css", digest="sha1:CSS")
    add_capture(archive, "https://cdn.kudakyv.test/logo.png", 7, mime="image/png",
                digest="sha1:PNG")
    add_capture(archive, "https://kudakyv-other.test/", 8)
    return CaptureIndex(archive.engine)


def cdx(index: CaptureIndex, **params: str | list[str]) -> list[str]:
    query = CdxQuery.parse({k: v if isinstance(v, list) else [v] for k, v in params.items()})
    return [format_cdx(row, query) for row in index.cdx(query)]


def test_closest_capture_by_surt_key(indexed: CaptureIndex) -> None:
    url = "https://kudakyv.test/a/"
    assert indexed.closest(url, T0 - timedelta(days=5)).warc_offset == 1000
    assert indexed.closest(url, T0 + timedelta(days=4)).warc_offset == 1000
    assert indexed.closest(url, T0 + timedelta(days=6)).warc_offset == 2000
    # http://www. is the same page by its key
    assert indexed.closest("http://kudakyv.test/a", T0 + timedelta(days=19)).warc_offset == 3000
    assert indexed.closest(url, parse_timestamp("2030")).warc_offset == 4000
    assert indexed.closest("https://kudakyv.test/never/", T0) is None
    assert [r.warc_offset for r in indexed.captures_of(url)] == [1000, 2000, 3000, 4000]
    revisit = indexed.captures_of(url)[1]
    assert indexed.original_of(revisit).warc_offset == 1000
    not_modified = indexed.captures_of(url)[3]
    assert not_modified.not_modified and indexed.original_of(not_modified).warc_offset == 3000


def test_a_revisit_without_its_record_resolves_to_its_own_url_first(archive: Archive) -> None:
    # the same bytes under two URLs (the second one later); a revisit of the first URL whose
    # refers-to record is gone (or was never written) finds its payload by digest
    add_capture(archive, "https://kudakyv.test/x/", 11, at=T0, digest="sha1:SAME")
    add_capture(archive, "https://kudakyv.test/y/", 12, at=T0 + timedelta(days=1),
                digest="sha1:SAME")
    add_capture(archive, "https://kudakyv.test/y/", 13, at=T0 + timedelta(days=3),
                record_type="revisit", digest="sha1:SAME", refers_to="<urn:uuid:gone>")
    add_capture(archive, "https://kudakyv.test/z/", 14, at=T0 + timedelta(days=3),
                record_type="revisit", digest="sha1:SAME")
    index = CaptureIndex(archive.engine)
    revisit = index.captures_of("https://kudakyv.test/y/")[-1]
    assert index.original_of(revisit).warc_offset == 12000  # not /x/, the earliest
    elsewhere = index.captures_of("https://kudakyv.test/z/")[-1]
    assert index.original_of(elsewhere).warc_offset == 11000  # no capture of its own: any


def test_cdx_fields_match_types_and_order(indexed: CaptureIndex) -> None:
    lines = cdx(indexed, url="https://kudakyv.test/a/", output="json")
    assert len(lines) == 4
    assert lines[0] == (
        '{"urlkey": "test,kudakyv)/a", "timestamp": "20250428070530", '
        '"url": "https://kudakyv.test/a/", "mime": "text/html", "status": "200", '
        '"digest": "sha1:AAAA", "length": "900", "offset": "1000", '
        '"filename": "arsip-1.warc.gz"}')
    # a revisit is warc/revisit; a 304 revisit has no status and no digest (as cdxj-indexer)
    assert '"mime": "warc/revisit", "status": "200"' in lines[1]
    assert '"status"' not in lines[3] and '"digest"' not in lines[3]
    cdxj = cdx(indexed, url="kudakyv.test/a/")
    assert cdxj[0].startswith('test,kudakyv)/a 20250428070530 {"url": ')
    # as pywb: a trailing slash stays part of the prefix
    assert len(cdx(indexed, url="kudakyv.test/a*")) == 5
    assert len(cdx(indexed, url="kudakyv.test/a/*")) == 1
    assert len(cdx(indexed, url="kudakyv.test/a", matchType="prefix")) == 5
    assert len(cdx(indexed, url="https://kudakyv.test/zzz", matchType="host")) == 6
    assert len(cdx(indexed, url="*.kudakyv.test")) == 7  # not kudakyv-other.test
    assert len(cdx(indexed, url="kudakyv.test", matchType="domain")) == 7
    assert cdx(indexed, url="https://kudakyv.test/none/") == []


def test_cdx_time_range_limit_sort_filters_fields(indexed: CaptureIndex) -> None:
    url = "https://kudakyv.test/a/"
    assert len(cdx(indexed, url=url, **{"from": "20250508"})) == 3
    assert len(cdx(indexed, url=url, to="20250428070530")) == 1  # inclusive to the second
    assert len(cdx(indexed, url=url, **{"from": "2025", "to": "2025"})) == 4
    assert cdx(indexed, url=url, limit="2", fl="offset", output="text") == ["1000", "2000"]
    assert cdx(indexed, url=url, sort="reverse", limit="2", fl="offset", output="text") == \
        ["4000", "3000"]
    assert cdx(indexed, url=url, sort="closest", closest="20250520", limit="2", fl="offset",
               output="text") == ["3000", "4000"]
    assert cdx(indexed, url=url, filter="=mime:warc/revisit", fl="offset", output="text") == \
        ["2000", "4000"]
    assert cdx(indexed, url=url, filter=["!=mime:warc/revisit", "~url:http://"], fl="offset",
               output="text") == ["3000"]
    assert cdx(indexed, url="kudakyv.test/*", filter="status:404", fl="url,status",
               output="json") == ['{"url": "https://kudakyv.test/a/b/", "status": "404"}']


@pytest.mark.parametrize("params, message", [
    ({}, "url= parameter"),
    ({"url": "x.test", "matchType": "nearby"}, "matchType"),
    ({"url": "x.test", "limit": "many"}, "limit"),
    ({"url": "x.test", "limit": "0"}, "positive"),
    ({"url": "x.test", "from": "yesterday"}, "timestamp"),
    ({"url": "x.test", "sort": "closest"}, "closest="),
    ({"url": "x.test", "sort": "random"}, "sort"),
    ({"url": "x.test", "output": "xml"}, "output"),
    ({"url": "x.test", "filter": "~url:("}, "regular expression"),
])
def test_cdx_bad_queries_are_clear_errors(params: dict[str, str], message: str) -> None:
    with pytest.raises(CdxQueryError, match=message):
        CdxQuery.parse({k: [v] for k, v in params.items()})


def test_cdx_fields_limits_and_filters_as_pywb_reads_them(indexed: CaptureIndex) -> None:
    url = "https://kudakyv.test/a/"
    # fields= wins over fl= (pywb's order); a field no capture has is "-" in text, left out
    # of JSON and CDXJ
    assert cdx(indexed, url=url, fields="offset", fl="url", output="text", limit="1") == ["1000"]
    assert cdx(indexed, url=url, fl="offset,size", output="text", limit="1") == ["1000 -"]
    assert cdx(indexed, url=url, fl="offset,size", output="json", limit="1") == \
        ['{"offset": "1000"}']
    # a limit no database integer holds is no limit
    assert len(cdx(indexed, url=url, limit="9" * 30)) == 4
    assert CdxQuery.parse({"url": [url], "limit": ["9" * 30]}).limit == MAX_CDX_LIMIT


def test_a_filter_regex_that_backtracks_without_end_is_stopped() -> None:
    endless = CdxFilter.parse("~url:(a|a)+$")
    with pytest.raises(CdxQueryError, match="took over"):
        endless({"url": "a" * 30 + "!"}, "")
    assert CdxFilter.parse("~url:(a|a)+!$")({"url": "aaa!"}, "")


# --- full-text search --------------------------------------------------------------------------

def test_query_syntax_never_reaches_fts5_unquoted() -> None:
    assert fts5_expression(parse_query('banjir "jalan tol" OR tol -jakarta')) == \
        '(("banjir") AND ("jalan tol" OR "tol")) NOT "jakarta"'
    for nasty in ('a"b', "NEAR(a b)", "title:x", "^a", "a*", "(", "AND", 'x OR', '"'):
        # outside its quoted strings, an expression holds only our own operators
        outside = re.sub(r'"(?:[^"]|"")*"', "", fts5_expression(parse_query(nasty + " ok")))
        assert re.fullmatch(r"[() ]*(?:(?:AND|OR|NOT)[() ]*)*", outside), nasty


def test_search_ranks_filters_and_marks(archive: Archive) -> None:
    site = archive.ensure_site("kudakyv", "https://kudakyv.test/")
    other = archive.ensure_site("lain", "https://lain.test/")
    add_article(archive, "https://kudakyv.test/1", "Banjir di Jakarta",
                "Air naik setinggi satu meter di jalan tol.", site_id=site)
    add_article(archive, "https://kudakyv.test/2", "Harga cabai",
                "Setelah banjir, harga cabai di Jakarta naik.", site_id=site)
    add_article(archive, "https://lain.test/3", "Gempa", "Gempa terasa, tidak ada banjir.",
                site_id=other)
    urls = [h["url"] for h in search_articles(archive, "banjir")]
    assert urls[0] == "https://kudakyv.test/1"  # in the title: ranked first
    assert set(urls) == {"https://kudakyv.test/1", "https://kudakyv.test/2",
                         "https://lain.test/3"}
    assert [h["url"] for h in search_articles(archive, "banjir -jakarta")] == \
        ["https://lain.test/3"]
    assert [h["url"] for h in search_articles(archive, '"jalan tol"')] == \
        ["https://kudakyv.test/1"]
    assert search_articles(archive, '"tol jalan"') == []
    assert {h["url"] for h in search_articles(archive, "gempa OR cabai")} == \
        {"https://kudakyv.test/2", "https://lain.test/3"}
    assert [h["url"] for h in search_articles(archive, "banjir", site="lain")] == \
        ["https://lain.test/3"]
    assert len(search_articles(archive, "banjir", limit=1)) == 1
    assert len(search_articles(archive, "banjir", limit=2, offset=2)) == 1
    hit = search_articles(archive, "cabai")[0]
    assert f"{MARK_START}cabai{MARK_END}" in hit["marked"].lower()
    assert MARK_START not in hit["snippet"] and "cabai" in hit["snippet"]
    for odd in ('a"b', "NEAR(a b)", "title:x", "^a", "a*", "AND"):
        search_articles(archive, odd)  # never a syntax error
    for wordless in ("(", ")", '"', "*", "OR"):  # nothing to search for: said so
        with pytest.raises(SearchQueryError, match="at least one word"):
            search_articles(archive, wordless)
    with pytest.raises(SearchQueryError):
        search_articles(archive, "-banjir")
    with pytest.raises(SearchQueryError, match="no site called 'nope'"):
        search_articles(archive, "banjir", site="nope")


def test_search_finds_words_an_article_held_before_it_was_edited(archive: Archive) -> None:
    url = "https://kudakyv.test/ralat"
    add_article(archive, url, "Menteri mundur", "Menteri X mengundurkan diri hari ini.")
    add_article(archive, url, "Menteri membantah mundur", "Menteri X membantah kabar itu.",
                at=T0 + timedelta(hours=2))
    assert search_articles(archive, "mengundurkan") == []  # the page no longer says it
    [hit] = search_articles(archive, "mengundurkan", all_versions=True)
    assert (hit["url"], hit["current"], hit["title"]) == (url, False, "Menteri mundur")
    [hit] = search_articles(archive, "membantah", all_versions=True)
    assert hit["current"] is True
    [hit] = search_articles(archive, "menteri", all_versions=True)  # one result per page
    assert hit["url"] == url


# --- an archive from before replay ------------------------------------------------------------

def test_an_archive_from_0001_upgrades_with_keys_and_search(db_url: str) -> None:  # noqa: F811
    engine = create_engine_for(db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
            assert schema_version(conn) == "0001"
            page = conn.execute(text(
                "INSERT INTO pages (url, kind, first_seen, versions, checks, changes, "
                "content_hash) VALUES ('https://www.kudakyv.test/a/?b=1&a=2', 'article', "
                ":t, 1, 1, 0, 'h1') RETURNING id"), {"t": T0.replace(tzinfo=None)}).scalar()
            conn.execute(text(
                "INSERT INTO article_versions (page_id, fetched_at, title, authors, tags, "
                "text, related, content_hash) VALUES (:p, :t, 'Banjir bandang', '[]', '[]', "
                "'Sungai meluap di Garut.', '[]', 'h1')"),
                {"p": page, "t": T0.replace(tzinfo=None)})
            for n in range(3):
                conn.execute(text(
                    "INSERT INTO captures (url, fetched_at, status, warc_file, warc_offset, "
                    "warc_length, warc_record_id, record_type) VALUES (:u, :t, 200, 'f', :n, "
                    "1, :r, 'response')"),
                    {"u": f"https://www.kudakyv.test/a/?b=1&a={n}", "t": T0.replace(tzinfo=None),
                     "n": n, "r": f"<urn:uuid:{n}>"})
        migrate(engine)
        with engine.connect() as conn:
            assert schema_version(conn) == SCHEMA_HEAD
            keys = conn.execute(text("SELECT urlkey FROM captures ORDER BY id")).scalars().all()
        assert keys == [f"test,kudakyv)/a?a={n}&b=1" for n in range(3)]
        arc = Archive(engine)
        [hit] = search_articles(arc, "garut")
        assert hit["title"] == "Banjir bandang"
        # and the index stays current after the upgrade
        add_article(arc, "https://kudakyv.test/b", "Longsor", "Jalan di Garut tertutup.")
        assert len(search_articles(arc, "garut")) == 2
        assert CaptureIndex(engine).closest("http://kudakyv.test/a/?a=1&b=1", T0) is not None
    finally:
        engine.dispose()
