"""Read-side library for the CLI: export, status, search and history over the archive database.

Every function takes an ``Archive`` or a bare SQLAlchemy ``Engine``. "The latest version" of an
article is its newest version (``pages.versions`` is its number); a page whose text went back to
an earlier wording has that wording as a new version.
"""

from __future__ import annotations

import csv
import difflib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Connection, Engine, and_, func, select
from sqlalchemy.exc import SQLAlchemyError

from storage.archive import Archive, page_url
from storage.db import reason
from storage.errors import DatabaseError
from storage.liveness import heartbeat_age, run_is_alive
from storage.models import (
    ArticleVersion,
    Capture,
    CrawlRun,
    ExtractionError,
    Page,
    Site,
    db_now,
)

# the export contract of DESIGN.md, in this order; extras follow them
EXPORT_KEYS = (
    "url", "title", "author", "published", "language", "text", "related", "versions",
    "first_seen", "last_fetched", "warc_file", "warc_offset",
)
EXTRA_KEYS = ("updated", "section", "tags", "description", "canonical_url", "site_name", "site",
              "version_fetched_at", "content_hash")

_pages = Page.__table__
_versions = ArticleVersion.__table__
_captures = Capture.__table__
_sites = Site.__table__
_runs = CrawlRun.__table__
_errors = ExtractionError.__table__


def _engine(source: Archive | Engine) -> Engine:
    return source.engine if isinstance(source, Archive) else source


@contextmanager
def _reading(source: Archive | Engine) -> Iterator[Connection]:
    try:
        with _engine(source).connect() as conn, conn.begin():
            yield conn
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot read the archive database: {reason(exc)}") from exc


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _current_versions() -> Any:
    """pages joined to their current version and the capture it was read from."""
    return (
        _pages.join(_versions, and_(_versions.c.page_id == _pages.c.id,
                                    _versions.c.number == _pages.c.versions))
        .outerjoin(_captures, _captures.c.id == _versions.c.capture_id)
        .outerjoin(_sites, _sites.c.id == _pages.c.site_id)
    )


def export_articles(source: Archive | Engine) -> Iterator[dict[str, Any]]:
    """One dict per article (its latest version), keys ``EXPORT_KEYS`` then ``EXTRA_KEYS``."""
    stmt = (
        select(
            _pages.c.url, _pages.c.versions, _pages.c.first_seen, _pages.c.last_fetched,
            _versions, _captures.c.warc_file, _captures.c.warc_offset,
            _sites.c.name.label("site"),
        )
        .select_from(_current_versions())
        .order_by(_pages.c.id)
    )
    with _reading(source) as conn:
        rows = conn.execution_options(yield_per=500).execute(stmt).mappings()
        for row in rows:
            yield export_row(row)


def export_row(row: Mapping[str, Any]) -> dict[str, Any]:
    published = row["published_raw"] or _iso(row["published"])
    return {
        "url": row["url"],
        "title": row["title"],
        "author": "; ".join(row["authors"] or ()) or None,
        "published": published,
        "language": row["language"],
        "text": row["text"],
        "related": list(row["related"] or ()),
        "versions": row["versions"],
        "first_seen": _iso(row["first_seen"]),
        "last_fetched": _iso(row["last_fetched"]),
        "warc_file": row["warc_file"],
        "warc_offset": row["warc_offset"],
        "updated": row["updated_raw"] or _iso(row["updated"]),
        "section": row["section"],
        "tags": list(row["tags"] or ()),
        "description": row["description"],
        "canonical_url": row["canonical_url"],
        "site_name": row["site_name"],
        "site": row["site"],
        "version_fetched_at": _iso(row["fetched_at"]),
        "content_hash": row["content_hash"],
    }


def write_export(rows: Iterable[Mapping[str, Any]], fmt: str, out: TextIO) -> int:
    """Write rows as JSON lines or CSV (lists and dicts as JSON text); returns the row count."""
    if fmt == "jsonl":
        count = 0
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
        return count
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r} (jsonl or csv)")
    writer: csv.DictWriter[str] | None = None
    count = 0
    for row in rows:
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(row), extrasaction="ignore")
            writer.writeheader()
        writer.writerow({key: _csv_cell(value) for key, value in row.items()})
        count += 1
    if writer is None:  # an empty archive still gets its header line
        csv.DictWriter(out, fieldnames=[*EXPORT_KEYS, *EXTRA_KEYS]).writeheader()
    return count


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def archive_status(source: Archive | Engine, warc_dir: Path | str | None = None,
                   runs: int = 5) -> dict[str, Any]:
    """Counts of what the archive holds, WARC files on disk, and the last crawl runs."""
    with _reading(source) as conn:
        def count(stmt: Any) -> int:
            return int(conn.execute(stmt).scalar_one() or 0)

        kinds = dict(conn.execute(
            select(_pages.c.kind, func.count()).group_by(_pages.c.kind)).all())
        records = dict(conn.execute(
            select(_captures.c.record_type, func.count()).group_by(_captures.c.record_type)
        ).all())
        report: dict[str, Any] = {
            "sites": count(select(func.count()).select_from(_sites)),
            "pages": {kind: int(kinds.get(kind, 0)) for kind in ("article", "hub", "other")},
            "articles": count(select(func.count()).select_from(_pages)
                              .where(_pages.c.versions > 0)),
            "versions": count(select(func.count()).select_from(_versions)),
            "captures": {"response": int(records.get("response", 0)),
                         "revisit": int(records.get("revisit", 0))},
            "extraction_errors": count(select(func.count()).select_from(_errors)),
        }
        recent = conn.execute(
            select(_runs, _sites.c.name.label("site"), db_now(conn.dialect.name).label("now"))
            .join(_sites, _sites.c.id == _runs.c.site_id)
            .order_by(_runs.c.started_at.desc(), _runs.c.id.desc())
            .limit(runs)
        ).mappings().all()
    if warc_dir is not None:
        report["warc"] = _warc_files(Path(warc_dir))
    report["last_runs"] = [_run_summary(run) for run in recent]
    return report


def _warc_files(folder: Path) -> dict[str, Any]:
    done = open_ = size = 0
    if folder.is_dir():
        for path in folder.iterdir():
            name = path.name
            if name.endswith((".warc.gz", ".warc")):
                done += 1
            elif name.endswith((".warc.gz.open", ".warc.open")):
                open_ += 1
            else:
                continue
            try:
                size += path.stat().st_size
            except OSError:  # rotated or recovered while we looked
                pass
    return {"folder": str(folder), "files": done, "open_files": open_, "bytes": size}


def _run_summary(run: Mapping[str, Any]) -> dict[str, Any]:
    stats = run["stats"] or {}
    outcome = run["outcome"]
    beat = heartbeat_age(run["now"], run["heartbeat_at"])
    if outcome == "running" and not run_is_alive(run["pid"], run["host"], run["process"], beat):
        # its process is gone; the next crawl records that (a report never writes)
        outcome = "killed"
    return {
        "id": run["id"],
        "site": run["site"],
        "started_at": _iso(run["started_at"]),
        "finished_at": _iso(run["finished_at"]),
        "trigger": run["trigger"],
        "outcome": outcome,
        "pages": stats.get("response_received_count", stats.get("arsip/captures", 0)),
        "articles": stats.get("arsip/articles_stored", 0),
        "pid": run["pid"],
        "host": run["host"],
        "heartbeat_at": _iso(run["heartbeat_at"]),
        "stats": stats,
    }


def search_articles(source: Archive | Engine, query: str, limit: int = 20, *,
                    all_versions: bool = False, site: str | None = None,
                    offset: int = 0) -> list[dict[str, Any]]:
    """Articles matching ``query`` (web-search syntax, see ``storage.search``), best first.

    Only the versions pages show now are searched unless ``all_versions``; ``snippet`` is plain
    text, ``marked`` the same with ``storage.search.MARK_START``/``MARK_END`` around matches.
    """
    from storage.search import plain, search

    with _reading(source) as conn:
        hits = search(conn, query, limit=limit, offset=offset, all_versions=all_versions,
                      site=site)
    return [
        {"url": hit.url, "title": hit.title,
         "published": hit.published_raw or _iso(hit.published),
         "snippet": plain(hit.snippet), "marked": hit.snippet,
         "current": hit.current, "version_fetched_at": _iso(hit.fetched_at),
         "version_id": hit.version_id, "capture_id": hit.capture_id}
        for hit in hits
    ]


def article_url(source: Archive | Engine, url: str) -> str | None:
    """The URL the archive keeps an article under, for ``url`` as a person may type it: with or
    without its trailing slash, ``http`` or ``https``, with or without ``www.``. The form typed
    wins when several exist."""
    forms = url_forms(url)
    with _reading(source) as conn:
        found = set(conn.execute(select(_pages.c.url).where(
            _pages.c.url.in_(forms), _pages.c.versions > 0)).scalars())
    return next((form for form in forms if form in found), None)


def url_forms(url: str) -> list[str]:
    """``url`` in ``pages`` form, then each other way of writing the same page."""
    first = page_url(url)
    parts = urlsplit(first)
    host = parts.netloc.removeprefix("www.")
    path = parts.path
    paths = [path, path.rstrip("/") if path.endswith("/") and path != "/" else path + "/"]
    forms = [first]
    for scheme in (parts.scheme, "https" if parts.scheme == "http" else "http"):
        for netloc in (parts.netloc, host if parts.netloc != host else "www." + host):
            for each in paths:
                form = urlunsplit((scheme, netloc, each, parts.query, ""))
                if form not in forms:
                    forms.append(form)
    return forms


def similar_article_urls(source: Archive | Engine, url: str, limit: int = 3) -> list[str]:
    """Articles of the same host whose URLs are closest to ``url`` (a mistyped one)."""
    def key(text: str) -> str:  # the part a person types differently: scheme, www., slash
        parts = urlsplit(text)
        return parts.netloc.removeprefix("www.") + parts.path.rstrip("/") + parts.query

    host = urlsplit(page_url(url)).netloc.removeprefix("www.")
    with _reading(source) as conn:
        urls = list(conn.execute(select(_pages.c.url).where(
            _pages.c.versions > 0,
            _pages.c.url.like(f"%://{host}/%") | _pages.c.url.like(f"%://www.{host}/%"),
        )).scalars())
    keyed = {key(u): u for u in urls}
    return [keyed[k] for k in difflib.get_close_matches(key(url), keyed, n=limit, cutoff=0.6)]


def history(source: Archive | Engine, url: str) -> list[dict[str, Any]]:
    """Every stored version of one page, oldest first, with the capture each came from.

    A capture can be a revisit record, which has no body: the page answered the same payload
    as an earlier capture (a revert to an earlier text, A then B then A again). Its
    ``refers_to`` is the response record that holds that payload (WARC-Refers-To), with where
    it is when this archive indexes it."""
    original = _captures.alias("original")
    stmt = (
        select(_versions.c.number, _versions.c.fetched_at, _versions.c.content_hash,
               _versions.c.title, func.length(_versions.c.text).label("text_length"),
               (_versions.c.number == _pages.c.versions).label("current"),
               _captures.c.warc_file, _captures.c.warc_offset, _captures.c.warc_record_id,
               _captures.c.fetched_at.label("captured_at"), _captures.c.record_type,
               _captures.c.refers_to, original.c.warc_file.label("original_file"),
               original.c.warc_offset.label("original_offset"),
               original.c.fetched_at.label("original_at"))
        .select_from(
            _pages.join(_versions, _versions.c.page_id == _pages.c.id)
            .outerjoin(_captures, _captures.c.id == _versions.c.capture_id)
            .outerjoin(original, (_captures.c.record_type == "revisit")
                       & (original.c.warc_record_id == _captures.c.refers_to))
        )
        .where(_pages.c.url == page_url(url))
        .order_by(_versions.c.number)
    )
    with _reading(source) as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        {"version": row["number"], "fetched_at": _iso(row["fetched_at"]),
         "content_hash": row["content_hash"], "title": row["title"],
         "text_length": row["text_length"], "current": bool(row["current"]),
         "capture": None if row["warc_file"] is None else {
             "warc_file": row["warc_file"], "warc_offset": row["warc_offset"],
             "record_id": row["warc_record_id"], "fetched_at": _iso(row["captured_at"]),
             "record_type": row["record_type"] or "response",
             "refers_to": _refers_to(row)}}
        for row in rows
    ]


def _refers_to(row: Any) -> dict[str, Any] | None:
    """The response record a revisit capture refers to (None for a response)."""
    if row["record_type"] != "revisit" or not row["refers_to"]:
        return None
    return {"record_id": row["refers_to"], "warc_file": row["original_file"],
            "warc_offset": row["original_offset"], "fetched_at": _iso(row["original_at"])}


def version_texts(source: Archive | Engine, url: str, numbers: Iterable[int]
                  ) -> dict[int, dict[str, Any]]:
    """Title, text and fetch time of the given version numbers of one page (those that exist)."""
    wanted = sorted(set(numbers))
    stmt = (
        select(_versions.c.number, _versions.c.title, _versions.c.text,
               _versions.c.fetched_at)
        .select_from(_pages.join(_versions, _versions.c.page_id == _pages.c.id))
        .where(_pages.c.url == page_url(url), _versions.c.number.in_(wanted))
    )
    with _reading(source) as conn:
        rows = conn.execute(stmt).mappings().all()
    return {row["number"]: {"title": row["title"], "text": row["text"],
                            "fetched_at": _iso(row["fetched_at"])} for row in rows}
