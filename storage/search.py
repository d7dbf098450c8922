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


def checked_query(query: str) -> ParsedQuery:
    """The parsed query, or why it cannot be run: a query without a word to match would
    otherwise read as "nothing matches" when nothing was searched for."""
    parsed = parse_query(query)
    if parsed.all_of:
        return parsed
    if parsed.none_of:
        raise SearchQueryError("a search needs at least one word that must match, not only "
                               "excluded ones")
    raise SearchQueryError(f"a search needs at least one word (letters or digits), not "
                           f"{query.strip()!r}")


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
    parsed = checked_query(query)
    params: dict[str, Any] = {"limit": limit, "offset": offset, "site": site}
    site_only = "" if site is None else _SITE_ONLY
    if site is not None and conn.execute(text("SELECT id FROM sites WHERE name = :site"),
                                         params).first() is None:
        raise SearchQueryError(f"the archive holds no site called {site!r}")
    if conn.dialect.name == "sqlite":
        return _sqlite_search(conn, fts5_expression(parsed), params, all_versions, site_only)
    params["query"] = tsquery_text(parsed)
    sql = _PG_SEARCH.format(current="" if all_versions else _CURRENT_ONLY, site=site_only)
    if conn.in_transaction():
        # The planner prices a scan of article_versions by its heap, small because texts and
        # vectors live in TOAST, and never sees the cost of detoasting every vector to test
        # it: it picks a sequential scan that is 10-50 times slower than the GIN index.
        conn.execute(text("SET LOCAL enable_seqscan = off"))
    rows = conn.execute(text(sql), params).mappings().all()
    return [_hit(row) for row in rows]


def _sqlite_search(conn: Connection, match: str, params: dict[str, Any], all_versions: bool,
                   site_only: str) -> list[Hit]:
    """Three steps, so that no row of ``article_versions`` is read for a match that does not
    make the page of results: rank the matches with the versions' page ids from an index,
    then read the winners' rows, then their snippets (each costs a pass over a whole text)."""
    ranked = _SQLITE_ALL_VERSIONS if all_versions else _SQLITE_CURRENT
    ids = [row[0] for row in conn.execute(text(ranked.format(site=site_only)),
                                          {**params, "match": match})]
    if not ids:
        return []
    marks = ", ".join(str(int(i)) for i in ids)
    rows = {row["id"]: row for row in conn.execute(text(_SQLITE_ROWS.format(ids=marks)))
            .mappings()}
    snippets = dict(conn.execute(text(_SQLITE_SNIPPETS.format(ids=marks)),
                                 {"match": match}).all())
    return [_hit({**rows[i], "snippet": snippets.get(i), "rank": float(n)})
            for n, i in enumerate(ids) if i in rows]


def _hit(row: Any) -> Hit:
    from storage.models import as_utc as when

    return Hit(
        version_id=row["id"], page_id=row["page_id"], url=row["url"], title=row["title"],
        published=when(row["published"]), published_raw=row["published_raw"],
        fetched_at=when(row["fetched_at"]),  # type: ignore[arg-type]
        current=bool(row["current"]), snippet=row["snippet"] or "",
        capture_id=row["capture_id"], rank=float(row["rank"]),
    )


_CURRENT_ONLY = "AND m.number = p.versions"
_SITE_ONLY = "AND p.site_id = (SELECT id FROM sites WHERE name = :site)"


# bm25 is lower for better matches; the title column weighs ten times the text. Only indexes
# are read to rank: the FTS table, and the unique (page_id, number) index that finds each page's
# current version (versions' own rows hold their texts). Ties go to the newer version.
_SQLITE_MATCHES = """
WITH m AS MATERIALIZED (
  SELECT rowid AS id, bm25(""" + SQLITE_TABLE + """, 10.0, 1.0) AS rank
  FROM """ + SQLITE_TABLE + """ WHERE """ + SQLITE_TABLE + """ MATCH :match
)"""
# (only a version's page_id is read from its row: it sits before the text, which a row read
# would otherwise walk through; whether it is current comes from the unique index)
_SQLITE_CURRENT = _SQLITE_MATCHES + """
SELECT m.id FROM m JOIN article_versions av ON av.id = m.id JOIN pages p ON p.id = av.page_id
WHERE EXISTS (SELECT 1 FROM article_versions cv WHERE cv.page_id = p.id
              AND cv.number = p.versions AND cv.id = m.id) {site}
ORDER BY m.rank, m.id DESC LIMIT :limit OFFSET :offset
"""
_SQLITE_ALL_VERSIONS = _SQLITE_MATCHES + """, r AS (
  SELECT m.id, m.rank, row_number() OVER (PARTITION BY av.page_id ORDER BY m.rank, m.id DESC)
    AS n
  FROM m JOIN article_versions av ON av.id = m.id JOIN pages p ON p.id = av.page_id
  WHERE 1 = 1 {site}
)
SELECT id FROM r WHERE n = 1 ORDER BY rank, id DESC LIMIT :limit OFFSET :offset
"""
_SQLITE_ROWS = """
SELECT v.id, v.page_id, p.url, v.title, v.published, v.published_raw, v.fetched_at,
       v.capture_id, (v.number = p.versions) AS current
FROM article_versions v JOIN pages p ON p.id = v.page_id WHERE v.id IN ({ids})
"""
_SQLITE_SNIPPETS = """
SELECT rowid, snippet(""" + SQLITE_TABLE + """, 1, char(2), char(3), '""" + ELLIPSIS + """', 24)
FROM """ + SQLITE_TABLE + """ WHERE """ + SQLITE_TABLE + """ MATCH :match AND rowid IN ({ids})
"""

# Matches come from the GIN index in a materialized step, ranked there, and only then are joined
# to their pages; headlines are made for the page of results only.
_PG_SEARCH = """
WITH m AS MATERIALIZED (
  SELECT v.id, v.page_id, v.number, v.fetched_at,
         ts_rank_cd(v.""" + PG_COLUMN + """, websearch_to_tsquery('simple', :query)) AS score
  FROM article_versions v
  WHERE v.""" + PG_COLUMN + """ @@ websearch_to_tsquery('simple', :query)
), ranked AS (
  SELECT m.id, m.page_id, m.fetched_at, m.score, (m.number = p.versions) AS current,
         row_number() OVER (PARTITION BY m.page_id ORDER BY m.score DESC, m.fetched_at DESC)
           AS n
  FROM m JOIN pages p ON p.id = m.page_id
  WHERE 1 = 1 {current} {site}
), top AS (
  SELECT * FROM ranked WHERE n = 1 ORDER BY score DESC, fetched_at DESC, id
  LIMIT :limit OFFSET :offset
)
SELECT v.id, v.page_id, p.url, v.title, v.published, v.published_raw, v.fetched_at,
       v.capture_id, top.current, -top.score AS rank,
       ts_headline('simple', left(v.text, """ + str(PG_MAX_CHARS) + """),
                   websearch_to_tsquery('simple', :query),
                   'StartSel=' || chr(2) || ', StopSel=' || chr(3) || ', MaxWords=24, '
                   || 'MinWords=12, MaxFragments=2, FragmentDelimiter=""" + ELLIPSIS + """')
         AS snippet
FROM top JOIN article_versions v ON v.id = top.id JOIN pages p ON p.id = top.page_id
ORDER BY top.score DESC, top.fetched_at DESC, top.id
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
