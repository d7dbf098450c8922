"""``Archive``: the one object the crawler talks to for everything it keeps in the database.

Commit policy: by default every method runs in its own short transaction and has committed when
it returns. A crawl calls ``batch()`` instead: writes then share one transaction that ``commit()``
ends (the crawler commits a few times a second and at close), because per-call transactions cost
more than the statements themselves at crawl rates. A process killed mid-batch loses at most the
uncommitted rows of the index, never a WARC record; the database itself stays consistent.
Writers on SQLite take the write lock at ``BEGIN`` (see ``storage.db``).

Concurrency: every write is an INSERT .. ON CONFLICT against a unique constraint (pages.url,
sites.name, captures.warc_record_id, article_versions(page_id, number)) or a single UPDATE
whose new values are computed from the row itself, never read-then-write in Python. Two crawls of
one site, in two processes, therefore cannot create duplicate pages or versions.

Only SQLite and PostgreSQL are supported: the upserts use their ``ON CONFLICT`` dialects.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Text,
    bindparam,
    case,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from storage.db import WRITE, normalise_url, open_engine, reason
from storage.errors import DatabaseError, SiteBusyError
from storage.index import surt_key
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
from storage.records import ArticleRecord, CaptureRecord, Fetch, RunOwner, WarcLocation
from storage.revisit import RevisitPolicy, schedule_pages, schedule_statements
from storage.urls import page_url

_SPACE = re.compile(r"\s+")


def content_hash(title: str | None, text: str) -> str:
    """sha256 of the whitespace-collapsed title and text: re-wrapped lines are no new version."""
    norm_title = _SPACE.sub(" ", title or "").strip()
    norm_text = _SPACE.sub(" ", text).strip()
    return hashlib.sha256(f"{norm_title}\n{norm_text}".encode()).hexdigest()


def iso_or_none(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def instant_or_none(value: datetime | date | None) -> datetime | None:
    """The instant for a timestamp column: a date alone names no instant, so none is made up
    (its ``*_raw`` text keeps the date)."""
    return value if isinstance(value, datetime) else None


def jsonable(value: Any) -> Any:
    """``value`` with anything JSON cannot hold (datetimes, sets, objects) turned into text."""
    return json.loads(json.dumps(value, default=str))


def _later(new: Any, old: Any) -> Any:
    """SQL for whichever of two timestamps is later (NULL-safe); GREATEST is not portable."""
    return case((old.is_(None), new), (new > old, new), else_=old)


@dataclass(frozen=True)
class StoredText:
    """A page's text as the archive holds it when a new one arrives (what ``store_article``
    hands its ``prepare``): its number of versions, and the current one's hash and text (None
    before the first)."""

    versions: int
    content_hash: str | None
    text: str | None


@dataclass(frozen=True)
class RunningRun:
    """A run recorded as running, and whether the process that owns it is still there."""

    id: int
    site_id: int
    site: str
    pid: int | None
    host: str | None
    started_at: datetime
    heartbeat_at: datetime | None
    alive: bool


class Archive:
    """The archive database; create with ``Archive.open(db_url)``; use from one thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            raise DatabaseError(f"unsupported database {self.dialect!r}: arsip needs SQLite "
                                "or PostgreSQL")
        self._insert = insert
        self._batch: Connection | None = None
        self._batching = False
        # every write of an article's fetch sets its next_due, so a run's plan loads only what
        # is due (storage.revisit); a crawl's recorder sets the crawl's ladder
        self.revisits: RevisitPolicy = RevisitPolicy()
        # statements are built once: building them costs more than running them on SQLite
        self._prepare()

    def _prepare(self) -> None:
        pages = Page.__table__
        stmt = self._insert(pages)
        new = stmt.excluded
        fresh = new.last_status.between(200, 299)
        self._note_fetch = stmt.on_conflict_do_update(
            index_elements=[pages.c.url],
            set_={
                "site_id": func.coalesce(new.site_id, pages.c.site_id),
                "kind": case((pages.c.kind == "article", "article"), else_=new.kind),
                "last_fetched": _later(new.last_fetched, pages.c.last_fetched),
                "last_status": new.last_status,
                "etag": case((fresh, new.etag), else_=pages.c.etag),
                "last_modified": case((fresh, new.last_modified), else_=pages.c.last_modified),
                "last_error": new.last_error,
                "checks": pages.c.checks + 1,
            },
        ).returning(pages.c.id)
        article_set: dict[str, Any] = {
            "site_id": func.coalesce(new.site_id, pages.c.site_id),
            "kind": "article",
            "last_fetched": _later(new.last_fetched, pages.c.last_fetched),
        }
        self._article_page = stmt.on_conflict_do_update(
            index_elements=[pages.c.url], set_=article_set
        ).returning(pages.c.id)
        self._failed_page = stmt.on_conflict_do_update(
            index_elements=[pages.c.url], set_={**article_set, "last_error": new.last_error}
        ).returning(pages.c.id)
        # the same upserts handing back the page's stored text too (``StoredText``), so a
        # caller that prepares the text against it needs no query of its own; written out, as
        # SQLAlchemy does not correlate a subquery in RETURNING with the table written
        stored = (pages.c.versions, pages.c.content_hash, literal_column(
            "(SELECT article_versions.text FROM article_versions WHERE article_versions.page_id"
            " = pages.id AND article_versions.number = pages.versions)", Text))
        self._with_text = {self._note_fetch: self._note_fetch.returning(*stored),
                           self._article_page: self._article_page.returning(*stored)}

        captures = Capture.__table__
        capture = self._insert(captures)
        # an update rather than DO NOTHING, so RETURNING yields the existing id too; it also
        # gives a SURT key to a row that a process without them indexed (reindex heals it)
        self._capture = capture.on_conflict_do_update(
            index_elements=[captures.c.warc_record_id],
            set_={"urlkey": func.coalesce(captures.c.urlkey, capture.excluded.urlkey)},
        ).returning(captures.c.id)
        same_url = case((captures.c.url == bindparam("same_url"), 0), else_=1)
        self._original = (
            select(captures)
            .where(captures.c.payload_digest == bindparam("digest"),
                   captures.c.record_type == "response")
            .order_by(same_url, captures.c.fetched_at, captures.c.id)
            .limit(1)
        )

        self._latest = (
            select(captures)
            .where(captures.c.url == bindparam("url"), captures.c.record_type == "response")
            .order_by(captures.c.fetched_at.desc(), captures.c.id.desc())
            .limit(1)
        )

        self._scheduling = schedule_statements()

        versions = ArticleVersion.__table__
        self._new_version = self._insert(versions)
        self._known_text = select(versions.c.id).where(
            versions.c.page_id == bindparam("page_id"),
            versions.c.content_hash == bindparam("digest")).limit(1)
        # A page's text moves on only when it differs from the current one; the row's own lock
        # serialises two writers of one page (the second re-reads the row and finds the text
        # already current), and RETURNING hands back the number the new version gets.
        digest = bindparam("digest", type_=versions.c.content_hash.type)
        self._page_text = (
            update(pages)
            .where(pages.c.id == bindparam("page_id"),
                   pages.c.content_hash.is_(None) | (pages.c.content_hash != digest))
            .values(
                content_hash=digest,
                versions=pages.c.versions + 1,
                # SET expressions read the row as it was: a first text is not a change
                changes=pages.c.changes + case((pages.c.content_hash.is_not(None), 1), else_=0),
                last_changed_at=bindparam("fetched_at", type_=pages.c.last_changed_at.type),
                published=bindparam("published", type_=pages.c.published.type),
            )
            .returning(pages.c.versions)
        )

    @classmethod
    def open(cls, db_url: str, *, read_only: bool = False, migrated: bool = False) -> Archive:
        """Connect, create or migrate the schema (or, ``read_only``, require it), and return
        the archive."""
        if normalise_url(db_url).get_backend_name() not in ("sqlite", "postgresql"):
            raise DatabaseError(f"unsupported database URL {db_url!r}: arsip needs SQLite "
                                "or PostgreSQL")
        return cls(open_engine(db_url, read_only=read_only, migrated=migrated))

    def close(self) -> None:
        self.commit()
        self._batching = False
        self.engine.dispose()

    def batch(self) -> None:
        """From now on, writes share one transaction until ``commit()`` (see the module docs)."""
        self._batching = True

    def commit(self) -> None:
        """End the batch transaction, if one is open; the next write starts a new one."""
        conn, self._batch = self._batch, None
        if conn is None:
            return
        try:
            conn.commit()
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot commit to the archive database: {reason(exc)}") from exc
        finally:
            conn.close()

    @contextmanager
    def batched(self) -> Iterator[None]:
        """The writes in the block share one transaction, committed at its end (dropped on an
        error); after it, writes are batched or not as they were before."""
        was, self._batching = self._batching, True
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        else:
            self.commit()
        finally:
            self._batching = was

    def rollback(self) -> None:
        """Drop the batch transaction, if one is open (after a failure)."""
        conn, self._batch = self._batch, None
        if conn is not None:
            try:
                conn.rollback()
            finally:
                conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- transactions ---------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        if self._batching:
            yield from self._in_batch()
            return
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(**WRITE)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot write to the archive database: {reason(exc)}") from exc

    def _in_batch(self) -> Iterator[Connection]:
        try:
            if self._batch is None:
                conn = self.engine.connect().execution_options(**WRITE)
                try:
                    conn.begin()
                except SQLAlchemyError:
                    conn.close()
                    raise
                self._batch = conn
            yield self._batch
        except SQLAlchemyError as exc:
            # the transaction is unusable now: drop it, so the next write starts clean
            conn, self._batch = self._batch, None
            if conn is not None:
                conn.rollback()
                conn.close()
            raise DatabaseError(f"cannot write to the archive database: {reason(exc)}") from exc

    def write(self) -> AbstractContextManager[Connection]:
        """A write transaction (the batch's, in batch mode) for the modules that keep their own
        statements over these tables (``storage.sites``, ``storage.revisit``)."""
        return self._write()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection (one consistent snapshot) for queries and reports."""
        if self._batching:
            # reads must see this batch's own uncommitted rows (revisit lookups, validators)
            yield from self._in_batch()
            return
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot read the archive database: {reason(exc)}") from exc

    # --- sites and runs -------------------------------------------------------------------------

    def ensure_site(self, name: str, base_url: str, profile: str | None = None) -> int:
        """The id of the site called ``name``, created or updated with this base URL/profile."""
        table = Site.__table__
        stmt = self._insert(table).values(
            name=name, base_url=base_url, profile=profile, enabled=True,
            created_at=datetime.now(UTC),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.name],
            set_={
                "base_url": stmt.excluded.base_url,
                "profile": func.coalesce(stmt.excluded.profile, table.c.profile),
            },
        ).returning(table.c.id)
        with self._write() as conn:
            return int(conn.execute(stmt).scalar_one())

    def start_run(self, site_id: int, trigger: str, owner: RunOwner | None = None) -> int:
        """Start a run of the site, owned by ``owner``; ``SiteBusyError`` while another live run
        of the site exists. One crawl per site at a time is enforced by the database (a unique
        index over running runs), so two processes starting at once cannot both get a run. A
        run whose owner is gone is marked ``killed`` first and no longer blocks. Not in a batch.
        """
        table = CrawlRun.__table__
        failure: DatabaseError | None = None
        for _attempt in range(3):
            now = datetime.now(UTC)
            try:
                with self._write() as conn:
                    run_id = conn.execute(
                        self._insert(table).values(
                            site_id=site_id, started_at=now, trigger=trigger, outcome="running",
                            pid=owner.pid if owner else None, host=owner.host if owner else None,
                            process=owner.identity if owner else None, heartbeat_at=self._now(),
                        ).returning(table.c.id)
                    ).scalar_one()
                    # the insert may have waited for another run of the site to write its end
                    # (SQLite's write lock, PostgreSQL's unique index): this run starts after
                    # that, so no two runs of a site ever overlap in the record either
                    now = datetime.now(UTC)
                    conn.execute(update(table).where(table.c.id == run_id)
                                 .values(started_at=now, heartbeat_at=self._now()))
                    conn.execute(update(Site.__table__).where(Site.__table__.c.id == site_id)
                                 .values(last_run_at=now))
                return int(run_id)
            except DatabaseError as exc:
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
                failure = exc  # the lock, or something else (a site that does not exist)
            holder = self.running_run(site_id)
            if holder is None:
                continue  # it ended meanwhile, or the insert failed for another reason
            if holder.alive:
                raise SiteBusyError(holder.site, holder.id, holder.pid, holder.host)
            self.mark_killed(holder.id)
        assert failure is not None
        raise failure

    def running_run(self, site_id: int) -> RunningRun | None:
        """The site's running run, if it has one (alive or not)."""
        runs = self.running_runs(site_id)
        return runs[0] if runs else None

    def running_runs(self, site_id: int | None = None) -> list[RunningRun]:
        """Runs recorded as running (of one site, or all), each with whether its owner lives."""
        runs, sites = CrawlRun.__table__, Site.__table__
        stmt = (select(runs.c.id, runs.c.site_id, sites.c.name, runs.c.pid, runs.c.host,
                       runs.c.process, runs.c.started_at, runs.c.heartbeat_at,
                       self._now().label("now"))
                .join(sites, sites.c.id == runs.c.site_id)
                .where(runs.c.outcome == "running").order_by(runs.c.id))
        if site_id is not None:
            stmt = stmt.where(runs.c.site_id == site_id)
        with self.read() as conn:
            rows = conn.execute(stmt).all()
        return [RunningRun(row.id, row.site_id, row.name, row.pid, row.host, row.started_at,
                           row.heartbeat_at,
                           run_is_alive(row.pid, row.host, row.process,
                                        heartbeat_age(row.now, row.heartbeat_at)))
                for row in rows]

    def reap_dead_runs(self) -> list[int]:
        """Mark every running run whose owner is gone as ``killed``; their ids."""
        dead = [run.id for run in self.running_runs() if not run.alive]
        for run_id in dead:
            self.mark_killed(run_id)
        return dead

    def mark_killed(self, run_id: int) -> None:
        """Record a run whose process died as ``killed``, with what it had stored by then (if
        it is still recorded as running: its own recorder may have finished it meanwhile)."""
        runs, captures, versions = CrawlRun.__table__, Capture.__table__, ArticleVersion.__table__
        with self._write() as conn:
            row = conn.execute(select(runs.c.stats, runs.c.started_at, runs.c.heartbeat_at)
                               .where(runs.c.id == run_id, runs.c.outcome == "running")).first()
            if row is None:
                return
            found = conn.execute(
                select(func.count(), func.max(captures.c.fetched_at))
                .where(captures.c.run_id == run_id)).one()
            articles = conn.execute(
                select(func.count()).select_from(versions)
                .join(captures, captures.c.id == versions.c.capture_id)
                .where(captures.c.run_id == run_id)).scalar_one()
            stats = {**(row.stats or {}), "arsip/captures": int(found[0]),
                     "arsip/articles_stored": int(articles)}
            # it died some time after its last sign of life: its last heartbeat or capture
            last = max(t for t in (row.started_at, row.heartbeat_at, found[1]) if t is not None)
            conn.execute(update(runs).where(runs.c.id == run_id, runs.c.outcome == "running")
                         .values(outcome="killed", finished_at=last, stats=jsonable(stats)))

    def heartbeat(self, run_id: int, stats: Mapping[str, object]) -> None:
        """The run's owner is alive; its figures so far (kept if it dies before finishing)."""
        table = CrawlRun.__table__
        with self._write() as conn:
            conn.execute(update(table).where(table.c.id == run_id, table.c.outcome == "running")
                         .values(heartbeat_at=self._now(), stats=jsonable(dict(stats))))

    def _now(self) -> Any:
        return db_now(self.dialect)

    def finish_run(self, run_id: int, outcome: str, stats: Mapping[str, object]) -> None:
        table = CrawlRun.__table__
        with self._write() as conn:
            conn.execute(
                update(table).where(table.c.id == run_id).values(
                    finished_at=datetime.now(UTC), outcome=outcome, stats=jsonable(dict(stats)),
                )
            )

    # --- captures -------------------------------------------------------------------------------

    def record_capture(self, rec: CaptureRecord) -> int:
        """Index one WARC record; recording the same record id twice returns the same row."""
        loc = rec.location
        params = {
            "url": rec.url, "urlkey": surt_key(rec.url), "fetched_at": rec.fetched_at,
            "status": rec.status, "mime": rec.mime,
            "payload_digest": rec.payload_digest, "warc_file": loc.warc_file,
            "warc_offset": loc.offset, "warc_length": loc.length, "warc_record_id": loc.record_id,
            "record_type": rec.record_type, "refers_to": rec.refers_to, "run_id": rec.run_id,
        }
        with self._write() as conn:
            return int(conn.execute(self._capture, params).scalar_one())

    def find_original(self, payload_digest: str, url: str | None = None) -> CaptureRecord | None:
        """The earliest ``response`` capture with this payload digest, one of ``url`` first:
        what a revisit record should refer to."""
        with self.read() as conn:
            row = conn.execute(
                self._original, {"digest": payload_digest, "same_url": url or ""}
            ).mappings().first()
        return capture_record(row) if row else None

    # --- pages ----------------------------------------------------------------------------------

    def latest_response(self, url: str) -> CaptureRecord | None:
        """The newest full ``response`` capture of exactly this URL (what a 304 refers to)."""
        with self.read() as conn:
            row = conn.execute(self._latest, {"url": url}).mappings().first()
        return capture_record(row) if row else None

    def has_captures(self, site_id: int, *, before_run: int | None = None) -> bool:
        """Whether an earlier crawl run of the site captured anything (a re-crawl)."""
        captures, runs = Capture.__table__, CrawlRun.__table__
        stmt = (
            select(captures.c.id)
            .join(runs, runs.c.id == captures.c.run_id)
            .where(runs.c.site_id == site_id)
            .limit(1)
        )
        if before_run is not None:
            stmt = stmt.where(runs.c.id < before_run)
        with self.read() as conn:
            return conn.execute(stmt).first() is not None

    def has_validators(self, site_id: int) -> bool:
        """Whether any page of the site carries an ETag or Last-Modified (a re-crawl, not a
        first one): lets a first crawl skip a lookup per request."""
        table = Page.__table__
        stmt = select(table.c.id).where(
            table.c.site_id == site_id,
            table.c.etag.is_not(None) | table.c.last_modified.is_not(None),
        ).limit(1)
        with self.read() as conn:
            return conn.execute(stmt).first() is not None

    def validators(self, url: str) -> tuple[str | None, str | None] | None:
        """``(etag, last_modified)`` last seen for ``url``, or None for a page never fetched."""
        table = Page.__table__
        with self.read() as conn:
            row = conn.execute(
                select(table.c.etag, table.c.last_modified).where(table.c.url == page_url(url))
            ).first()
        return (row.etag, row.last_modified) if row else None

    def note_fetch(self, url: str, *, site_id: int | None, kind: str, fetched_at: datetime,
                   status: int, etag: str | None = None, last_modified: str | None = None,
                   error: str | None = None) -> int:
        """Record one fetch of a page (any status); returns the page id.

        Validators are replaced only by a 2xx answer: a 304 or an error keeps the ones that
        still describe the copy we hold. A page once seen as an article stays an article.
        """
        params = {
            "url": page_url(url), "site_id": site_id, "kind": kind, "first_seen": fetched_at,
            "last_fetched": fetched_at, "last_status": status, "etag": etag,
            "last_modified": last_modified, "last_error": error, "checks": 1, "versions": 0,
            "changes": 0,
        }
        with self._write() as conn:
            page_id = int(conn.execute(self._note_fetch, params).scalar_one())
            if kind == "article":
                self._schedule(conn, page_id, fetched_at, status)
            return page_id

    def _schedule(self, conn: Connection, page_id: int, fetched_at: datetime,
                  status: int | None) -> None:
        schedule_pages(conn, (page_id,), self.revisits, fetched_at, status, self._scheduling)

    def _upsert_article_page(self, conn: Connection, url: str, site_id: int | None,
                             fetched_at: datetime, error: str | None = None,
                             fetch: Fetch | None = None, *, with_text: bool = False
                             ) -> tuple[int, StoredText | None]:
        """The page's id, and with ``with_text`` its ``StoredText`` (in the same statement)."""
        params = {
            "url": page_url(url), "site_id": site_id, "kind": "article",
            "first_seen": fetched_at, "last_fetched": fetched_at, "last_error": error,
            "checks": 1, "versions": 0, "changes": 0,
        }
        if fetch is not None:
            # the fetch itself is noted in the same statement (see note_fetch)
            params.update(last_status=fetch.status, etag=fetch.etag,
                          last_modified=fetch.last_modified)
            stmt = self._note_fetch
        else:
            stmt = self._article_page if error is None else self._failed_page
        if not with_text:
            return int(conn.execute(stmt, params).scalar_one()), None
        row = conn.execute(self._with_text[stmt], params).one()
        return int(row[0]), StoredText(int(row[1]), row[2], row[3])

    def store_article(self, *, site_id: int | None, url: str, article: ArticleRecord,
                      capture_id: int | None, fetched_at: datetime,
                      fetch: Fetch | None = None, skip_known_text: bool = False,
                      prepare: Callable[[ArticleRecord, StoredText], ArticleRecord] | None = None
                      ) -> bool:
        """Keep an extracted article; True when it is a new version of the page.

        A version is stored whenever the text differs from the page's current one, so a page
        that goes back to an earlier text gets a new version too (A, B, A is three versions).
        ``skip_known_text`` stores nothing for a text any version of the page already has:
        re-extracting captures the archive has processed before must not replay its history.
        With ``fetch``, the page's status and validators are updated as ``note_fetch`` would.
        ``prepare(article, stored)`` gives the article as it is to be stored, against the
        page's ``StoredText`` (read by the same statement that upserts the page; the site's
        boilerplate is stripped so); it runs inside the write and must not write itself.
        """
        with self._write() as conn:
            page_id, stored = self._upsert_article_page(conn, url, site_id, fetched_at,
                                                        fetch=fetch, with_text=prepare is not None)
            if prepare is not None:
                assert stored is not None
                article = prepare(article, stored)
            digest = content_hash(article.title, article.text)
            if skip_known_text and conn.execute(self._known_text, {
                    "page_id": page_id, "digest": digest}).first() is not None:
                return False
            number = conn.execute(self._page_text, {
                "page_id": page_id, "digest": digest, "fetched_at": fetched_at,
                "published": instant_or_none(article.published),
            }).scalar()
            self._schedule(conn, page_id, fetched_at, fetch.status if fetch else None)
            if number is None:
                return False
            conn.execute(self._new_version, {
                "page_id": page_id, "number": number, "content_hash": digest,
                **version_values(article), "fetched_at": fetched_at, "capture_id": capture_id,
            })
        return True

    def record_extraction_error(self, *, site_id: int | None, url: str, capture_id: int | None,
                                fetched_at: datetime, error: str,
                                fetch: Fetch | None = None) -> None:
        """Keep a page that yielded no article, with the error and the capture it came from.
        With ``fetch``, the page's status and validators are updated as ``note_fetch`` would."""
        with self._write() as conn:
            page_id, _ = self._upsert_article_page(conn, url, site_id, fetched_at, error=error,
                                                   fetch=fetch)
            conn.execute(self._insert(ExtractionError.__table__).values(
                page_id=page_id, capture_id=capture_id, fetched_at=fetched_at, error=error,
            ))
            self._schedule(conn, page_id, fetched_at, fetch.status if fetch else None)


def capture_record(row: Mapping[str, Any]) -> CaptureRecord:
    """A ``captures`` row as the record the crawler and replay work with."""
    return CaptureRecord(
        url=row["url"],
        fetched_at=row["fetched_at"],
        status=row["status"],
        mime=row["mime"],
        payload_digest=row["payload_digest"],
        location=WarcLocation(row["warc_file"], row["warc_offset"], row["warc_length"],
                              row["warc_record_id"]),
        record_type=row["record_type"],
        refers_to=row["refers_to"],
        run_id=row["run_id"],
    )


def version_values(article: ArticleRecord) -> dict[str, Any]:
    """The ``article_versions`` columns that come from the article itself."""
    return {
        "title": article.title,
        "authors": list(article.authors),
        # the instant for sorting and filtering, the text for the offset the page gave
        "published": instant_or_none(article.published),
        "published_raw": iso_or_none(article.published),
        "updated": instant_or_none(article.updated),
        "updated_raw": iso_or_none(article.updated),
        "language": article.language,
        "section": article.section,
        "tags": list(article.tags),
        "text": article.text,
        "related": [{"title": link.title, "url": link.url} for link in article.related],
        "canonical_url": article.canonical_url,
        "site_name": article.site_name,
        "description": article.description,
    }
