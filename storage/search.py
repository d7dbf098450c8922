"""Full-text search over article versions: SQLite FTS5, PostgreSQL ``tsvector``.

The index covers every version of every article, title and text, and the database keeps it
current itself: on SQLite an FTS5 table with ``article_versions`` as its external content, fed
by triggers; on PostgreSQL a stored generated ``tsvector`` column with a GIN index. Neither is
described by ``storage.models`` (their types exist on one backend only), so this module creates
them for a new database (``install``) and tells Alembic's comparison to leave them out
(``include_object``). Migration 0002 creates the same objects for archives that predate them.

Both backends tokenize without stemming (FTS5 ``unicode61``, PostgreSQL's ``simple``
configuration): arsip archives newsrooms in many languages, and a word should find that word.

Queries take the syntax people know from web search engines (PostgreSQL's
``websearch_to_tsquery``): every word must match, ``"quoted words"`` match as a phrase, ``OR``
between two terms accepts either, and ``-word`` excludes. Both backends read the same syntax;
for FTS5 it is translated here, every term quoted, so no user input is ever FTS5 syntax.
Results are ranked (BM25 on SQLite, ``ts_rank_cd`` on PostgreSQL; a title match weighs more)
and carry a snippet whose matching words are marked with ``MARK_START``/``MARK_END``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from storage.errors import StorageError

# Snippet markers: control characters cannot occur in extracted text, so a caller can escape
# the snippet for HTML (or a terminal) first and turn these into highlighting afterwards.
MARK_START, MARK_END = "\x02", "\x03"
ELLIPSIS = "…"

SQLITE_TABLE = "article_search"
PG_COLUMN = "search_vector"
PG_INDEX = "ix_article_versions_search_vector"
# Characters of an article's text the PostgreSQL vector covers: a tsvector is limited to 1 MB,
# and a freak page must never make an insert fail. News articles are far shorter.
PG_MAX_CHARS = 250_000

# The objects below, by the names Alembic reflects them under.
_SQLITE_OBJECTS = (SQLITE_TABLE, *(f"{SQLITE_TABLE}_{part}" for part in
                                   ("data", "idx", "content", "docsize", "config")))
_PG_OBJECTS = (PG_COLUMN, PG_INDEX)

SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE {SQLITE_TABLE} USING fts5(title, text, content='article_versions', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER {SQLITE_TABLE}_insert AFTER INSERT ON article_versions BEGIN "
    f"INSERT INTO {SQLITE_TABLE}(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    f"CREATE TRIGGER {SQLITE_TABLE}_delete AFTER DELETE ON article_versions BEGIN "
    f"INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
    f"CREATE TRIGGER {SQLITE_TABLE}_update AFTER UPDATE OF title, text ON article_versions BEGIN "
    f"INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    f"INSERT INTO {SQLITE_TABLE}(rowid, title, text) VALUES (new.id, new.title, new.text); END",
)
PG_DDL = (
    f"ALTER TABLE article_versions ADD COLUMN {PG_COLUMN} tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || "
    f"setweight(to_tsvector('simple'::regconfig, left(text, {PG_MAX_CHARS})), 'D')) STORED",
    f"CREATE INDEX {PG_INDEX} ON article_versions USING gin ({PG_COLUMN})",
)


class SearchQueryError(StorageError):
    """A search query that cannot be run (nothing in it must match)."""


def install(conn: Connection) -> None:
    """Create the search index of a new database (``storage.db.create_at_head`` calls this)."""
    for statement in SQLITE_DDL if conn.dialect.name == "sqlite" else PG_DDL:
        conn.exec_driver_sql(statement)


def drop(conn: Connection) -> None:
    """Remove the search index (tests that rebuild a schema by hand)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {SQLITE_TABLE}")
    else:
        conn.exec_driver_sql(f"ALTER TABLE article_versions DROP COLUMN IF EXISTS {PG_COLUMN}")


def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                   compare_to: Any) -> bool:
    """Alembic's ``include_object`` hook: the search objects are not in the models."""
    if reflected and compare_to is None and name in (*_SQLITE_OBJECTS, *_PG_OBJECTS):
        return False
    return True


# --- queries ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    words: str  # one word, or a phrase
    phrase: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """``all_of`` groups (each matches if any of its terms does) and terms to exclude."""

    all_of: tuple[tuple[Term, ...], ...]
    none_of: tuple[Term, ...]


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse_query(query: str) -> ParsedQuery:
    """Read web-search syntax (see the module docs) the way ``websearch_to_tsquery`` does."""
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    join_next = False
    for match in _TOKEN.finditer(query):
        negate, quoted, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None:
            if bare == "OR":
                join_next = bool(groups)
                continue
            negate = "-" if bare.startswith("-") and len(bare) > 1 else ""
            bare = bare[1:] if negate else bare
        words = " ".join((quoted if quoted is not None else bare).split())
        if not _has_word(words):
            continue
        term = Term(words, phrase=quoted is not None)
        if negate:
            excluded.append(term)
        elif join_next and groups:
            groups[-1].append(term)
        else:
            groups.append([term])
        join_next = False
    return ParsedQuery(tuple(tuple(group) for group in groups), tuple(excluded))


def _has_word(words: str) -> bool:
    return any(ch.isalnum() for ch in words)


def _fts5_string(term: Term) -> str:
    # an FTS5 string: the tokenizer splits it, so several words form a phrase
    return '"' + term.words.replace('"', '""') + '"'


def fts5_expression(parsed: ParsedQuery) -> str:
    """The FTS5 MATCH expression for a parsed query; every term is a quoted string."""
    groups = ["(" + " OR ".join(_fts5_string(t) for t in group) + ")" for group in parsed.all_of]
    expression = "(" + " AND ".join(groups) + ")"
    for term in parsed.none_of:
        expression += " NOT " + _fts5_string(term)
    return expression


def tsquery_text(parsed: ParsedQuery) -> str:
    """The query again as ``websearch_to_tsquery`` text, normalised (unbalanced quotes closed)."""
    groups = [" OR ".join(f'"{t.words}"' if t.phrase else t.words for t in group)
              for group in parsed.all_of]
    excluded = [f'-"{t.words}"' for t in parsed.none_of]
    return " ".join([*groups, *excluded])


@dataclass(frozen=True)
class Hit:
    """One matching article version."""

    version_id: int
    page_id: int
    url: str
    title: str | None
    published: datetime | None
    published_raw: str | None
    fetched_at: datetime
    current: bool  # the version the page shows now
    snippet: str  # with MARK_START / MARK_END around matching words
    capture_id: int | None
    rank: float


def search(conn: Connection, query: str, *, limit: int = 20, offset: int = 0,
           all_versions: bool = False, site: str | None = None) -> list[Hit]:
    """The best-ranked versions matching ``query``, at most one per page.

    By default only the versions pages show now are searched; ``all_versions`` also finds words
    an article held before it was edited (the best-ranked version of each page is returned).
    """
    parsed = parse_query(query)
    if not parsed.all_of:
        if parsed.none_of:
            raise SearchQueryError("a search needs at least one word that must match, "
                                   "not only excluded ones")
        return []
    params: dict[str, Any] = {"limit": limit, "offset": offset, "site": site}
    if conn.dialect.name == "sqlite":
        params["match"] = fts5_expression(parsed)
        sql = _SQLITE_SEARCH
    else:
        params["query"] = tsquery_text(parsed)
        sql = _PG_SEARCH
    sql = sql.format(current="" if all_versions else _CURRENT_ONLY,
                     site="" if site is None else _SITE_ONLY)
    rows = conn.execute(text(sql), params).mappings().all()
    return [_hit(row) for row in rows]


def _hit(row: Any) -> Hit:
    from storage.models import UTCDateTime  # result rows of raw SQL hold text on SQLite

    def when(value: Any) -> datetime | None:
        return UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type]

    return Hit(
        version_id=row["id"], page_id=row["page_id"], url=row["url"], title=row["title"],
        published=when(row["published"]), published_raw=row["published_raw"],
        fetched_at=when(row["fetched_at"]),  # type: ignore[arg-type]
        current=bool(row["current"]), snippet=row["snippet"] or "",
        capture_id=row["capture_id"], rank=float(row["rank"]),
    )


_CURRENT_ONLY = "AND v.number = p.versions"
_SITE_ONLY = "AND p.site_id = (SELECT id FROM sites WHERE name = :site)"

# bm25 is lower for better matches; the title column weighs ten times the text. One row per
# page: the best-ranked of its matching versions (ties: the newest).
_SQLITE_SEARCH = """
WITH matched AS (
  SELECT v.id, v.page_id, p.url, v.title, v.published, v.published_raw, v.fetched_at,
         v.capture_id, (v.number = p.versions) AS current,
         bm25(""" + SQLITE_TABLE + """, 10.0, 1.0) AS rank,
         snippet(""" + SQLITE_TABLE + """, 1, char(2), char(3), '""" + ELLIPSIS + """', 24)
           AS snippet
  FROM """ + SQLITE_TABLE + """ JOIN article_versions v ON v.id = """ + SQLITE_TABLE + """.rowid
  JOIN pages p ON p.id = v.page_id
  WHERE """ + SQLITE_TABLE + """ MATCH :match {current} {site}
), ranked AS (
  SELECT *, row_number() OVER (PARTITION BY page_id ORDER BY rank, fetched_at DESC) AS n
  FROM matched
)
SELECT * FROM ranked WHERE n = 1 ORDER BY rank, fetched_at DESC, id LIMIT :limit OFFSET :offset
"""

_PG_SEARCH = """
WITH q AS (SELECT websearch_to_tsquery('simple', :query) AS query),
matched AS (
  SELECT v.id, v.page_id, p.url, v.title, v.published, v.published_raw, v.fetched_at,
         v.capture_id, v.text, (v.number = p.versions) AS current,
         ts_rank_cd(v.""" + PG_COLUMN + """, q.query) AS score
  FROM article_versions v JOIN pages p ON p.id = v.page_id, q
  WHERE v.""" + PG_COLUMN + """ @@ q.query {current} {site}
), ranked AS (
  SELECT *, row_number() OVER (PARTITION BY page_id ORDER BY score DESC, fetched_at DESC) AS n
  FROM matched
), top AS (
  SELECT * FROM ranked WHERE n = 1 ORDER BY score DESC, fetched_at DESC, id
  LIMIT :limit OFFSET :offset
)
SELECT top.id, top.page_id, top.url, top.title, top.published, top.published_raw,
       top.fetched_at, top.capture_id, top.current, -top.score AS rank,
       ts_headline('simple', left(top.text, """ + str(PG_MAX_CHARS) + """), q.query,
                   'StartSel=' || chr(2) || ', StopSel=' || chr(3) || ', MaxWords=24, '
                   || 'MinWords=12, MaxFragments=2, FragmentDelimiter=""" + ELLIPSIS + """')
         AS snippet
FROM top, q ORDER BY top.score DESC, top.fetched_at DESC, top.id
"""


def highlight(snippet: str, escape: Any, start: str, end: str) -> str:
    """``snippet`` escaped by ``escape`` with its match markers replaced by ``start``/``end``."""
    return escape(snippet).replace(MARK_START, start).replace(MARK_END, end)


def plain(snippet: str) -> str:
    """A snippet without match markers, on one line."""
    return " ".join(snippet.replace(MARK_START, "").replace(MARK_END, "").split())


def terms_of(query: str) -> Sequence[str]:
    """The words a query looks for (for highlighting elsewhere)."""
    parsed = parse_query(query)
    return [t.words for group in parsed.all_of for t in group]
