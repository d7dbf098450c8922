"""The recorder: one process that owns a crawl's WARC file and its database writes.

A crawl process spends its one thread on the network; compressing WARC records and running SQL
there slows every fetch. So the crawl sends each capture, article and page note down a pipe, in
order, and this process does the writing: WARC record, ``captures`` row, article version linked to
that capture, revisits against the payloads it knows. Order on the pipe is what links an article
to its capture: the crawl names each capture with a key, and the article message carries it.

It also owns the crawl's database connection from the start: its first message, ``open``, has it
open the archive (creating or migrating the schema), register the site and start the run, and it
answers with the run before the crawl fetches anything.

Nothing here imports Scrapy. ``RecorderClient`` is the crawl's side: ``wait_opened`` returns the
run or raises why there is none, ``send`` never waits for an answer, ``replies`` collects what
came back (fatal errors, notes, counters), ``close`` drains the pipe, commits and waits for the
process. If the crawl process is killed, the recorder sees the
pipe close and still commits and closes its WARC file; if both are killed, the next crawl's
``recover_open_files`` repairs the WARC and the database has lost at most one uncommitted batch.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from storage.errors import DatabaseError, DiskFullError, StorageError, WarcError
from storage.records import ArticleRecord, CaptureRecord, Fetch
from storage.reindex import bare_mime, index_file
from storage.revisit import DEFAULT_LADDER, RevisitPolicy
from storage.warc import (
    Exchange,
    RevisitOf,
    WarcWriter,
    WarcWriterConfig,
    payload_digest,
    recover_open_files,
)

# Commit the batch transaction this often while messages keep coming, and whenever the pipe is
# quiet for this long.
COMMIT_SECONDS = 0.5
# Payload digests of this run kept in memory for revisits (about 150 bytes each).
MAX_REMEMBERED_PAYLOADS = 200_000
# Capture ids kept for articles still being extracted: at crawl rates (hundreds of pages a
# second) this is minutes of slack, far more than extraction ever lags.
MAX_PENDING_CAPTURES = 50_000
# How long a recorder that never finished opening the archive gets to stop by itself.
UNOPENED_GRACE_SECONDS = 5.0
# Messages are sent as they come; replies are few (the opening, errors, notes, the counters).
OPENED, FATAL, NOTE, CLOSED = "opened", "fatal", "note", "closed"

if TYPE_CHECKING:
    from storage.archive import Archive


@dataclass(frozen=True)
class RecorderConfig:
    """What the recorder process needs to know; picklable."""

    db_url: str
    warc: WarcWriterConfig
    site: str  # the site's name, base URL and profile source, as ``Archive.ensure_site`` takes
    base_url: str
    profile: str | None = None
    trigger: str = "cli"
    revisit_ladder: str = DEFAULT_LADDER  # when articles are due again (storage.revisit)


@dataclass(frozen=True)
class Opened:
    """The recorder's answer to ``open``: the run it records into."""

    site_id: int
    run_id: int
    revalidate: bool  # the site's pages carry validators: a re-crawl can send conditional GETs


class Recorder:
    """Applies crawl messages to the WARC writer and the archive (runs in its own process).

    Opening it opens the archive (creating or migrating the schema), registers the site and
    starts the run: the crawl process itself never needs the database on a first crawl.
    """

    def __init__(self, config: RecorderConfig, reply: Any) -> None:
        from storage.archive import Archive  # in the recorder process only
        from storage.sites import resolve_for_crawl

        self.reply = reply
        self.archive: Archive = Archive.open(config.db_url)
        self.archive.revisits = RevisitPolicy.from_text(config.revisit_ladder)
        try:
            # the registered site this crawl belongs to, by name or by URL (one identity)
            self.site_id = resolve_for_crawl(self.archive, name=config.site,
                                             url=config.base_url, profile=config.profile)
            self.run_id = self.archive.start_run(self.site_id, config.trigger)
            self.opened = Opened(self.site_id, self.run_id,
                                 revalidate=self.archive.has_validators(self.site_id))
            # on a first crawl of a site the database holds nothing to refer to: only this
            # run's own payloads are looked up; a re-crawl asks the database too
            self.recrawl = self.archive.has_captures(self.site_id, before_run=self.run_id)
        except BaseException:
            self.archive.close()
            raise
        self.archive.batch()
        self.writer = WarcWriter(replace(config.warc,
                                         is_part_of=f"{config.site}/run-{self.run_id}"))
        self.seen: dict[str, RevisitOf] = {}
        # capture key -> row id, until the article of that page arrives; most captures never
        # get one (listing pages, sitemaps, errors), so only the newest are kept
        self.captures: OrderedDict[int, int] = OrderedDict()
        self.counts: Counter[str] = Counter()
        self.failed: str | None = None

    def recover(self) -> None:
        """Repair WARC files a killed crawl left open, and index their records: the rows of
        the batch that crawl never committed would otherwise be missing from ``captures``."""
        for path in recover_open_files(self.writer.config.directory):
            indexed = index_file(self.archive, path)
            self.archive.commit()
            self.reply((NOTE, f"Recovered WARC file left open by an earlier crawl: {path.name} "
                              f"({indexed} captures indexed)"))

    def handle(self, message: tuple[Any, ...]) -> None:
        kind, *args = message
        getattr(self, f"on_{kind}")(*args)

    # --- messages -------------------------------------------------------------------------------

    def on_capture(self, key: int, exchange: Exchange) -> None:
        if self.failed:
            return
        try:
            self.captures[key] = self._capture(exchange)
            if len(self.captures) > MAX_PENDING_CAPTURES:
                self.captures.popitem(last=False)
        except DiskFullError as exc:
            self._fail(f"disk full: {exc}", "disk_full")
        except WarcError as exc:
            self._fail(f"cannot write WARC: {exc}", "warc_error")

    def on_article(self, key: int | None, url: str, article: ArticleRecord,
                   fetched_at: datetime, fetch: Fetch) -> None:
        if self.failed and key not in self.captures:
            return  # its capture could not be archived: an article must link to a capture
        new = self.archive.store_article(
            site_id=self.site_id, url=url, article=article,
            capture_id=self.captures.pop(key, None), fetched_at=fetched_at, fetch=fetch,
        )
        self.counts["arsip/articles_stored" if new else "arsip/articles_unchanged"] += 1

    def on_extraction_error(self, key: int | None, url: str, fetched_at: datetime, status: int,
                            error: str) -> None:
        # no validators: a page we could not read must be fetched whole next time
        self.archive.record_extraction_error(
            site_id=self.site_id, url=url, capture_id=self.captures.pop(key, None),
            fetched_at=fetched_at, error=error, fetch=Fetch(status),
        )

    def on_fetch(self, url: str, kind: str, fetched_at: datetime, status: int) -> None:
        self.archive.note_fetch(url, site_id=self.site_id, kind=kind,
                                fetched_at=fetched_at, status=status)

    def on_finish(self, outcome: str, stats: dict[str, Any]) -> None:
        self.archive.finish_run(self.run_id, self.failed or outcome,
                                {**stats, **self.counts})

    # --- work -----------------------------------------------------------------------------------

    def _capture(self, ex: Exchange) -> int:
        digest: str | None = payload_digest(ex.body)
        refers_to = None
        if ex.status == 304:
            earlier = self.archive.latest_response(ex.url) if self.recrawl else None
            target = (RevisitOf(earlier.location.record_id, earlier.url, earlier.fetched_at)
                      if earlier else None)
            location, _ = self.writer.write_not_modified(ex, target)
            record_type, digest = "revisit", None  # an empty block has no payload to digest
            refers_to = target.record_id if target else None
        else:
            dedup = 200 <= ex.status < 300 and bool(ex.body)
            revisit = self._original(digest, ex.url) if dedup else None
            location, _ = self.writer.write_exchange(ex, revisit)
            record_type = "revisit" if revisit else "response"
            refers_to = revisit.record_id if revisit else None
            if dedup and revisit is None and len(self.seen) < MAX_REMEMBERED_PAYLOADS:
                self.seen[digest] = RevisitOf(location.record_id, ex.url, ex.fetched_at)
        self.counts[f"arsip/warc_{record_type}_records"] += 1
        return self.archive.record_capture(CaptureRecord(
            url=ex.url, fetched_at=ex.fetched_at, status=ex.status, mime=_mime(ex),
            payload_digest=digest, location=location, record_type=record_type,
            refers_to=refers_to, run_id=self.run_id,
        ))

    def _original(self, digest: str, url: str) -> RevisitOf | None:
        known = self.seen.get(digest)
        if known is not None or not self.recrawl:
            return known
        original = self.archive.find_original(digest, url)
        if original is None:
            return None
        return RevisitOf(original.location.record_id, original.url, original.fetched_at)

    def _fail(self, message: str, outcome: str) -> None:
        # nothing may be fetched that cannot be archived: the crawl is told to stop
        self.failed = outcome
        self.reply((FATAL, message, outcome))

    def close(self) -> None:
        try:
            self.writer.close()
        finally:
            self.archive.close()


def _mime(ex: Exchange) -> str | None:
    for name, value in ex.response_headers:
        if name.lower() == b"content-type":
            return bare_mime(value.decode("latin-1"))
    return None


def _exit_if_orphaned_while(opening: threading.Event, parent_sentinel: int) -> None:
    wait([parent_sentinel])
    if opening.is_set():
        os._exit(0)


def _why(exc: Exception) -> str:
    """One line for the user: a storage error says it all, anything else is named."""
    if isinstance(exc, StorageError):
        return str(exc)
    return f"the recorder could not start: {type(exc).__name__}: {exc}"


def serve(conn: Connection) -> None:
    """The recorder process: wait for its ``("open", config)``, then apply messages until
    ``None`` or the crawl's end of the pipe."""
    # Ctrl-C reaches the whole process group; the crawl decides when the recorder stops
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Started before the crawl has its site and run (see RecorderClient): by the time they
    # arrive this process has done its imports.
    try:
        first = conn.recv()
    except EOFError:
        return
    if first is None:
        conn.send((CLOSED, {}))
        return
    _, config = first
    # Opening can block for long (a migration, another crawl's migration lock). If the crawl
    # process dies meanwhile there is nothing to save, and nobody left to wait for: go too.
    opening = threading.Event()
    opening.set()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_if_orphaned_while, args=(opening, parent.sentinel),
                         daemon=True, name="arsip-parent-watch").start()
    try:
        recorder = Recorder(config, conn.send)
    except Exception as exc:  # whatever it is, the crawl must hear why it cannot start
        conn.send((FATAL, _why(exc), "failed"))
        return
    finally:
        opening.clear()
    conn.send((OPENED, recorder.opened))
    try:
        recorder.recover()
    except Exception as exc:
        recorder.close()
        conn.send((FATAL, _why(exc), "failed"))
        return
    last_commit = time.monotonic()
    try:
        while True:
            if conn.poll(COMMIT_SECONDS):
                try:
                    message = conn.recv()
                except EOFError:  # the crawl process died: keep what we have
                    break
                if message is None:
                    break
                recorder.handle(message)
            else:
                recorder.writer.check_idle()
            if time.monotonic() - last_commit >= COMMIT_SECONDS:
                recorder.archive.commit()
                last_commit = time.monotonic()
    except StorageError as exc:
        recorder.reply((FATAL, str(exc), "failed"))
    finally:
        recorder.close()
    try:
        conn.send((CLOSED, dict(recorder.counts)))
    except OSError:
        pass


class RecorderClient:
    """The crawl's end of the recorder: start it, open it, send it messages, collect replies.

    The process starts when this is built, so that its imports overlap the crawl's own set-up;
    ``open`` then has it open the archive and start the run, and ``wait_opened`` returns that
    run (or raises the ``StorageError`` that prevented it) before anything is fetched.
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        # daemon: a crawl that dies before closing must not hang on its recorder at exit
        self.process = context.Process(target=serve, args=(child,), name="arsip-recorder",
                                       daemon=True)
        self.process.start()
        child.close()
        self.opened = False
        self.run: Opened | None = None
        self._pending: list[tuple[Any, ...]] = []  # errors and notes not yet collected
        self.broken = False
        self.finished = False
        self.closed = False
        self.final: dict[str, int] | None = None
        # A forced shutdown (a second Ctrl-C) stops the reactor without Scrapy's close signals:
        # the recorder is still told to finish, write out and commit as the process exits.
        atexit.register(self._at_exit)

    def open(self, config: RecorderConfig) -> None:
        """Start recording into ``config``'s WARC folder and database (once, first)."""
        self.send(("open", config))
        self.opened = True

    def poll_opened(self) -> Opened | None:
        """The run once the recorder has opened it, else None (never blocks).

        Raises ``DatabaseError`` with the recorder's own message when it could not open the
        archive (a bad database URL, a server that is down, a schema from a newer arsip).
        """
        while self.run is None:
            reply = self._next_reply(time.monotonic(), 0)
            if reply is None:
                if not self.process.is_alive():
                    self.process.join(1)
                    raise DatabaseError(
                        f"the recorder process stopped before opening the archive "
                        f"(exit code {self.process.exitcode})")
                return None
            if reply[0] == FATAL:
                self.final = {}
                raise DatabaseError(reply[1])
            self._take(reply)
        return self.run

    def wait_opened(self, poll: float = 0.05) -> Opened:
        """Block until ``poll_opened`` has an answer. There is no time limit: migrating a
        big archive, or waiting for another crawl's migration, takes as long as it takes."""
        while (run := self.poll_opened()) is None:
            self.conn.poll(poll)
        return run

    def _at_exit(self) -> None:
        if self.opened and not self.finished:
            self.send(("finish", "interrupted", {}))
        if not self.closed:
            self.close()

    def send(self, message: tuple[Any, ...]) -> None:
        """Queue one message; a recorder that has gone away is reported by ``replies``."""
        if self.broken or self.closed:
            return
        if message is not None and message[0] == "finish":
            self.finished = True
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            self.broken = True

    def replies(self) -> list[tuple[Any, ...]]:
        """Everything the recorder said since the last call (never blocks)."""
        while (reply := self._next_reply(time.monotonic(), 0)) is not None:
            self._take(reply)
        if self.final is None and not self.process.is_alive():
            self._pending.append((FATAL, "the recorder process stopped unexpectedly", "failed"))
            self.final = {}
        out, self._pending = self._pending, []
        return out

    def _take(self, reply: tuple[Any, ...]) -> None:
        """Keep what a reply says: the opened run, the final counters, or a reply the crawl
        should act on (errors, notes), for ``replies``."""
        if reply[0] == OPENED:
            self.run = reply[1]
        elif reply[0] == CLOSED:
            self.final = reply[1]
        else:
            self._pending.append(reply)

    def _next_reply(self, deadline: float, poll: float) -> tuple[Any, ...] | None:
        """The recorder's next reply; None once ``deadline`` passes, or the process or its
        end of the pipe is gone."""
        while True:
            try:
                if self.conn.poll(poll):
                    return self.conn.recv()  # type: ignore[no-any-return]
                if not self.process.is_alive():
                    # it may have replied and exited since the poll: read what is left
                    return self.conn.recv() if self.conn.poll(0) else None  # type: ignore[no-any-return]
            except (EOFError, OSError):
                return None
            if time.monotonic() >= deadline:
                return None

    def close(self, timeout: float = 120.0) -> list[tuple[Any, ...]]:
        """Let the recorder write out everything sent, commit and close; the replies not yet
        collected."""
        if self.closed:
            return []
        self.send(None)  # type: ignore[arg-type]
        self.closed = True
        atexit.unregister(self._at_exit)
        if self.opened and self.run is None and self.final is None:
            # stopped while the recorder was still opening the archive (Ctrl-C during a long
            # migration or a lock wait): nothing was fetched, so nothing waits to be written,
            # and its transaction rolls back if it has to be stopped
            timeout = min(timeout, UNOPENED_GRACE_SECONDS)
        deadline = time.monotonic() + timeout
        while self.final is None and (reply := self._next_reply(deadline, 0.2)) is not None:
            self._take(reply)
        self.process.join(max(0.0, deadline - time.monotonic()))
        if self.process.is_alive():
            self.process.terminate()
        self.conn.close()
        out, self._pending = self._pending, []
        return out
