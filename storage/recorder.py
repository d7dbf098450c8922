"""The recorder: one process that owns a crawl's WARC file and its database writes.

A crawl process spends its one thread on the network; compressing WARC records and running SQL
there slows every fetch. So the crawl sends each capture, article and page note down a pipe, in
order, and this process does the writing: WARC record, ``captures`` row, article version linked to
that capture, revisits against the payloads it knows. What travels on the pipe, and in which
order, is ``storage.protocol``.

It owns the crawl's database connection from the start: its first message, ``Open``, has it open
the archive (creating or migrating the schema), register the site and start the run under the
site's run lock, and it answers ``Opened`` before the crawl fetches anything. While the run goes
on it renews the run's heartbeat. Whatever happens to the crawl process, the run gets an outcome:
the one the crawl sends in ``Finish``; ``interrupted`` when told to close without one; ``killed``
when the crawl process dies (the pipe breaks) -- the recorder still writes out, commits and closes
its WARC file. If both die, the next crawl's ``recover_open_files`` repairs the WARC, the run is
marked ``killed`` by whoever next opens the archive, and the database has lost at most one
uncommitted batch of the index, which ``recover`` puts back from the WARC.

Nothing here imports Scrapy. ``RecorderClient`` is the crawl's side.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import threading
import time
import traceback
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from storage.errors import DatabaseError, DiskFullError, SiteBusyError, StorageError, WarcError
from storage.journal import Journal, batch_was_dropped, while_dropped
from storage.liveness import HEARTBEAT_SECONDS
from storage.processes import become_helper, helper_context
from storage.protocol import (
    JOB_STAT,
    Article,
    Capture,
    Close,
    Closed,
    ExtractionFailed,
    Fatal,
    FetchNoted,
    Finish,
    FromRecorder,
    Note,
    Open,
    Opened,
    RecorderConfig,
    ToRecorder,
)
from storage.records import ArticleRecord, CaptureRecord, Fetch
from storage.reindex import bare_mime, index_file
from storage.revisit import RevisitPlan, RevisitPolicy, load_plan
from storage.urls import page_url
from storage.warc import (
    Exchange,
    RevisitOf,
    WarcWriter,
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
# Pages of one run whose texts are stripped again at its end, when the run learned a line of the
# site's boilerplate after storing them (storage.boilerplate); past it, older runs' rule holds.
MAX_RESTRIPPED_PAGES = 200_000
# How often a crawl told to --wait looks again whether the site's other run has ended.
WAIT_POLL_SECONDS = 1.0
# How long opening the archive and starting the run is tried again when PostgreSQL drops the
# connection (a restart, a failover, ``pg_terminate_backend``): a crawl that gives up there
# has no run, and its site waits for the daemon's retry (scheduler.daemon).
OPEN_RETRY_SECONDS = 60.0
# How long a recorder that never finished opening the archive gets to stop by itself.
UNOPENED_GRACE_SECONDS = 5.0

if TYPE_CHECKING:
    from storage.archive import Archive, StoredText
    from storage.boilerplate import SiteBoilerplate


class Recorder:
    """Applies crawl messages to the WARC writer and the archive (runs in its own process).

    Opening it opens the archive (creating or migrating the schema), marks runs whose process
    died as killed, registers the site and starts the run under the site's run lock: the crawl
    process itself never needs the database on a first crawl.
    """

    def __init__(self, config: RecorderConfig, reply: Callable[[FromRecorder], None]) -> None:
        from storage.archive import Archive  # in the recorder process only
        from storage.boilerplate import SiteBoilerplate
        from storage.sites import registered_site, resolve_for_crawl

        self.reply = reply
        # every step of opening is a read, or a write that can be made twice (the run's start
        # is told apart: ``_start_run``), so each is made again when the connection drops
        again = partial(_again, reply)
        self.archive: Archive = again(partial(Archive.open, config.db_url))
        self.archive.revisits = RevisitPolicy.from_text(config.revisit_ladder)
        try:
            again(self.archive.reap_dead_runs)
            # the registered site this crawl belongs to: the one it named (by id, or by a name
            # the registry holds, whatever profile has that name too), else by name or URL
            site = again(partial(registered_site, self.archive, site_id=config.site_id,
                                 name=config.named))
            registered = site is not None
            if site is None:
                site = again(partial(resolve_for_crawl, self.archive, name=config.site,
                                     url=config.base_url or None, profile=config.profile))
            self.site_id = site.id
            self.run_id = self._start_run(config)
            # on a first crawl of a site the database holds nothing to refer to: only this
            # run's own payloads are looked up; a re-crawl asks the database too
            self.recrawl = again(partial(self.archive.has_captures, self.site_id,
                                         before_run=self.run_id))
            # what the run fetches of what the archive knows: its hubs, the articles due, and
            # the validators of every known article (the crawl process reads no database)
            plan = (again(partial(load_plan, self.archive, self.site_id,
                                  revisit_all=config.revisit_all)) if self.recrawl
                    else RevisitPlan(revisit_all=config.revisit_all))
            self.opened = Opened(self.site_id, self.run_id,
                                 revalidate=again(partial(self.archive.has_validators,
                                                          self.site_id)),
                                 site=site.name, base_url=site.base_url, profile=site.profile,
                                 recrawl=self.recrawl, plan=plan, registered=registered)
            # the site's boilerplate, learned and stripped here: this process owns the database
            self.boilerplate: SiteBoilerplate | None = (
                again(partial(SiteBoilerplate.load, self.archive, self.site_id,
                              config.boilerplate))
                if config.boilerplate.enabled else None)
            # the pages this run stored a text of (up to a bound): stripped again at its end
            # when the run learned a line after storing some of them
            self.stored_urls: set[str] = set()
        except BaseException:
            self.archive.close()
            raise
        self.archive.batch()
        # the batch's writes, made again when PostgreSQL drops the batch (storage.journal)
        self.journal = Journal(self.archive)
        self.writer = WarcWriter(replace(config.warc,
                                         is_part_of=f"{site.name}/run-{self.run_id}"))
        self.seen: dict[str, RevisitOf] = {}
        # capture key -> row id, until the article of that page arrives; most captures never
        # get one (listing pages, sitemaps, errors), so only the newest are kept
        self.captures: OrderedDict[int, int] = OrderedDict()
        self.counts: Counter[str] = Counter()
        self.failed: str | None = None
        self.finished = False
        self.last_heartbeat = time.monotonic()
        # kept in the run's figures from its start: which node job it is (scheduler.nodes)
        self.tags: dict[str, str] = {JOB_STAT: config.job} if config.job else {}
        if self.tags:
            self.journal.write(partial(self.archive.heartbeat, self.run_id, self.tags))

    def _start_run(self, config: RecorderConfig) -> int:
        """Start the site's run; with ``config.wait``, wait while another live run of the site
        goes on (``SiteBusyError`` otherwise: one crawl per site at a time)."""
        told = False
        dropped = False
        deadline = time.monotonic() + OPEN_RETRY_SECONDS
        while True:
            try:
                return self.archive.start_run(self.site_id, config.trigger, config.owner)
            except DatabaseError as exc:
                if not batch_was_dropped(exc) or time.monotonic() >= deadline:
                    raise
                # the run may have been written before the connection went: found below
                dropped = True
                _again(self.reply, partial(self.archive.running_run, self.site_id))
                continue
            except SiteBusyError as exc:
                owner = config.owner
                if dropped and owner is not None and (exc.pid, exc.host) == (owner.pid,
                                                                             owner.host):
                    return exc.run_id  # this process's own run, started as the line dropped
                if not config.wait:
                    raise
                if not told:
                    self.reply(Note(f"Waiting: {exc}"))
                    told = True
                time.sleep(WAIT_POLL_SECONDS)

    def recover(self) -> None:
        """Repair WARC files a killed crawl left open, and index their records: the rows of
        the batch that crawl never committed would otherwise be missing from ``captures``."""
        for path in recover_open_files(self.writer.config.directory,
                                          self.writer.config.hostname):
            # through the journal: indexing a file again keeps the rows it wrote (keyed by
            # record id), so a batch the database drops is simply written again
            indexed = self.journal.write(partial(index_file, self.archive, path))
            self.journal.commit()
            self.reply(Note(f"Recovered WARC file left open by an earlier crawl: {path.name} "
                            f"({indexed} captures indexed)"))

    def handle(self, message: ToRecorder) -> None:
        """Apply one message (see ``storage.protocol``); ``Open`` and ``Close`` are the
        process's own business (``serve``)."""
        match message:
            case Capture():
                self.on_capture(message)
            case Article():
                self.on_article(message)
            case ExtractionFailed():
                self.on_extraction_failed(message)
            case FetchNoted():
                self.on_fetch(message)
            case Finish():
                self.on_finish(message)
            case _:
                raise TypeError(f"the recorder has no handler for {type(message).__name__}")

    # --- messages -------------------------------------------------------------------------------

    def on_capture(self, message: Capture) -> None:
        if self.failed:
            return
        try:
            self.captures[message.key] = self._capture(message.exchange)
            if len(self.captures) > MAX_PENDING_CAPTURES:
                self.captures.popitem(last=False)
        except DiskFullError as exc:
            self._fail(f"disk full: {exc}", "disk_full")
        except WarcError as exc:
            self._fail(f"cannot write WARC: {exc}", "warc_error")

    def on_article(self, message: Article) -> None:
        if self.failed and message.key not in self.captures:
            return  # its capture could not be archived: an article must link to a capture
        boilerplate = self.boilerplate
        judging = boilerplate is not None and not boilerplate.judged
        if boilerplate is not None and len(self.stored_urls) < MAX_RESTRIPPED_PAGES:
            self.stored_urls.add(page_url(message.url))
        capture_id = self.captures.pop(message.key, None)
        prepared = 0

        def prepare(article: ArticleRecord, stored: StoredText) -> ArticleRecord:
            # made again when the journal writes the batch again: counted the first time only
            nonlocal prepared
            prepared += 1
            assert boilerplate is not None
            return boilerplate.prepare(article, stored, first=False if prepared > 1 else None)

        def store() -> bool:
            # stripped against the page's text as the same statement reads it: no query of
            # its own
            return self.archive.store_article(
                site_id=self.site_id, url=message.url, article=message.article,
                capture_id=self.journal.capture_id(capture_id), fetched_at=message.fetched_at,
                fetch=message.fetch, prepare=prepare if boilerplate is not None else None,
            )

        new = self.journal.write(store)
        self.counts["arsip/articles_stored" if new else "arsip/articles_unchanged"] += 1
        if judging and boilerplate is not None and boilerplate.judged and boilerplate.learned:
            from storage.boilerplate import restrip

            # this article made the site judged: the texts stored before it lose its lines too
            self.journal.write(partial(restrip, self.archive, boilerplate, self.site_id))

    def on_extraction_failed(self, message: ExtractionFailed) -> None:
        capture_id = self.captures.pop(message.key, None)

        def record() -> None:
            # no validators: a page we could not read must be fetched whole next time
            self.archive.record_extraction_error(
                site_id=self.site_id, url=message.url,
                capture_id=self.journal.capture_id(capture_id), fetched_at=message.fetched_at,
                error=message.error, fetch=Fetch(message.status),
            )

        self.journal.write(record)

    def on_fetch(self, message: FetchNoted) -> None:
        self.journal.write(partial(
            self.archive.note_fetch, message.url, site_id=self.site_id, kind=message.kind,
            fetched_at=message.fetched_at, status=message.status))

    def on_finish(self, message: Finish) -> None:
        self.finish(message.outcome, message.stats)

    def finish(self, outcome: str, stats: dict[str, Any] | None = None) -> None:
        """Record the run's end (once): a failure the recorder met wins over what it is told."""
        if self.finished:
            return
        self.finished = True
        if self.boilerplate is not None:
            if self.boilerplate.newly_learned:
                from storage.boilerplate import restrip

                # a line learned during the run: the texts it stored before then lose it too
                self.journal.write(partial(restrip, self.archive, self.boilerplate,
                                           self.site_id, self.stored_urls))
            self.boilerplate.flush(self.archive, final=True, through=self.journal.write)
            for name, value in (("stripped", self.boilerplate.stripped),
                                ("learned", len(self.boilerplate.learned))):
                if value:  # a small site learns nothing, and its figures say nothing of it
                    self.counts[f"arsip/boilerplate_lines_{name}"] = value
        if self.journal.replays:
            self.counts["arsip/db_batches_replayed"] = self.journal.replays
        self.journal.write(partial(self.archive.finish_run, self.run_id, self.failed or outcome,
                                   {**(stats or {}), **self.counts, **self.tags}))

    def commit(self) -> None:
        """Commit the batch, with the boilerplate counts that changed since the last one."""
        if self.boilerplate is not None:
            self.boilerplate.flush(self.archive, through=self.journal.write)
        self.journal.commit()

    def heartbeat(self) -> None:
        """Renew the run's sign of life (with the figures so far) now and then."""
        if self.finished or time.monotonic() - self.last_heartbeat < HEARTBEAT_SECONDS:
            return
        self.last_heartbeat = time.monotonic()
        self.journal.write(partial(self.archive.heartbeat, self.run_id,
                                   {**self.counts, **self.tags}))

    # --- work -----------------------------------------------------------------------------------

    def _capture(self, ex: Exchange) -> int:
        digest: str | None = payload_digest(ex.body)
        refers_to = None
        if ex.status == 304:
            earlier = (self.journal.read(partial(self.archive.latest_response, ex.url))
                       if self.recrawl else None)
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
        return self.journal.write(partial(self.archive.record_capture, CaptureRecord(
            url=ex.url, fetched_at=ex.fetched_at, status=ex.status, mime=_mime(ex),
            payload_digest=digest, location=location, record_type=record_type,
            refers_to=refers_to, run_id=self.run_id,
        )), capture=True)

    def _original(self, digest: str, url: str) -> RevisitOf | None:
        known = self.seen.get(digest)
        if known is not None or not self.recrawl:
            return known
        original = self.journal.read(partial(self.archive.find_original, digest, url))
        if original is None:
            return None
        return RevisitOf(original.location.record_id, original.url, original.fetched_at)

    def _fail(self, message: str, outcome: str) -> None:
        # nothing may be fetched that cannot be archived: the crawl is told to stop
        self.failed = outcome
        self.reply(Fatal(message, outcome))

    def close(self) -> None:
        try:
            self.writer.close()
        finally:
            try:
                # the last batch (the run's end) through the journal: a batch the database
                # drops as it commits is written again, not lost with the run's outcome
                self.journal.commit()
            finally:
                self.archive.close()

    def give_up(self, exc: Exception) -> None:
        """The recorder cannot go on (a database that fails mid-run, a bug): the crawl hears
        why at once, and what can be kept is kept. The WARC file is left open and recovered as
        the next crawl would recover it -- torn tail cut, every record indexed again, since the
        batch that failed may have lost its rows -- and the run is recorded as failed. Whatever
        of that fails too (the database is gone) the next crawl does."""
        detail = "" if isinstance(exc, StorageError) else traceback.format_exc()
        with contextlib.suppress(OSError, ValueError):  # the crawl process may be gone
            self.reply(Fatal(_why(exc, "failed"), self.failed or "failed", detail))
        self.failed = self.failed or "failed"
        try:
            self.archive.commit()  # what the batch holds is good, if the database takes it
        except Exception:
            with contextlib.suppress(Exception):
                self.archive.rollback()
        with contextlib.suppress(Exception):
            self.writer.abandon()
            for path in recover_open_files(self.writer.config.directory,
                                           self.writer.config.hostname):
                index_file(self.archive, path)
                self.archive.commit()
        self.finished = False  # its end may have been in the batch that failed
        with contextlib.suppress(Exception):
            self.finish("failed")
            self.archive.commit()
        with contextlib.suppress(Exception):
            self.archive.close()


def _again(reply: Callable[[FromRecorder], None], call: Callable[[], Any], *,
           seconds: float = OPEN_RETRY_SECONDS) -> Any:
    """``call()``, made again while the database drops the connection (see
    ``OPEN_RETRY_SECONDS``); the crawl's log says so once."""
    told = False

    def dropped(exc: DatabaseError) -> None:
        nonlocal told
        if not told:
            reply(Note(f"The database dropped the connection while the run opened ({exc}); "
                       "trying again"))
            told = True

    return while_dropped(call, seconds=seconds, on_drop=dropped)


def _mime(ex: Exchange) -> str | None:
    for name, value in ex.response_headers:
        if name.lower() == b"content-type":
            return bare_mime(value.decode("latin-1"))
    return None


def _exit_if_orphaned_while(opening: threading.Event, parent_sentinel: int) -> None:
    wait([parent_sentinel])
    if opening.is_set():
        os._exit(0)


def _why(exc: Exception, doing: str = "could not start") -> str:
    """One line for the user: a storage error says it all, anything else is named."""
    if isinstance(exc, StorageError):
        return str(exc)
    return f"the recorder {doing}: {type(exc).__name__}: {exc}"


def serve(conn: Connection) -> None:
    """The recorder process: wait for ``Open``, then apply messages until ``Close`` or the
    crawl's end of the pipe (see ``storage.protocol``). Its last word is always ``Closed``."""
    become_helper()  # the crawl process decides when the recorder stops
    counts: dict[str, int] = {}
    try:
        counts = _serve(conn)
    except Exception as exc:  # a bug: one line for the crawl, the traceback for its log
        with contextlib.suppress(OSError, ValueError):
            conn.send(Fatal(_why(exc, "failed"), detail=traceback.format_exc()))
    finally:
        try:
            conn.send(Closed(counts))
        except OSError:
            pass  # the crawl process is gone


def _serve(conn: Connection) -> dict[str, int]:
    # Started before the crawl has its site and run (see RecorderClient): by the time they
    # arrive this process has done its imports.
    try:
        first = conn.recv()
    except EOFError:
        return {}
    if not isinstance(first, Open):
        return {}
    # Opening can block for long (a migration, another crawl's migration lock). If the crawl
    # process dies meanwhile there is nothing to save, and nobody left to wait for: go too.
    opening = threading.Event()
    opening.set()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_if_orphaned_while, args=(opening, parent.sentinel),
                         daemon=True, name="arsip-parent-watch").start()
    try:
        recorder = Recorder(first.config, conn.send)
    except Exception as exc:  # whatever it is, the crawl must hear why it cannot start
        conn.send(Fatal(_why(exc)))
        return {}
    finally:
        opening.clear()
    conn.send(recorder.opened)
    try:
        recorder.recover()
    except Exception as exc:
        recorder.give_up(exc)
        return dict(recorder.counts)
    _record(conn, recorder)
    return dict(recorder.counts)


def _record(conn: Connection, recorder: Recorder) -> None:
    last_commit = time.monotonic()
    outcome = "killed"  # what the run is, if the crawl process's end of the pipe just breaks
    try:
        while True:
            if conn.poll(COMMIT_SECONDS):
                try:
                    message = conn.recv()
                except EOFError:  # the crawl process died: keep what we have
                    break
                if isinstance(message, Close):
                    outcome = "interrupted"  # unless a Finish came first
                    break
                recorder.handle(message)
            else:
                recorder.writer.check_idle()
            recorder.heartbeat()
            if time.monotonic() - last_commit >= COMMIT_SECONDS:
                recorder.commit()
                last_commit = time.monotonic()
        recorder.finish(outcome)
        recorder.close()
    except Exception as exc:  # whatever it is, the crawl stops at once and hears why
        recorder.give_up(exc)


class RecorderClient:
    """The crawl's end of the recorder: start it, open it, send it messages, read its replies.

    The process starts when this is built, so that its imports overlap the crawl's own set-up;
    ``open`` then has it open the archive and start the run. ``pump`` is the one reader of the
    replies: it keeps what they say (``run``, ``fatal``, ``final``) and hands them back for the
    caller to act on; nothing else reads the pipe.
    """

    def __init__(self) -> None:
        ctx = helper_context()
        self.conn, child = ctx.Pipe()
        # daemon: a crawl that dies before closing must not hang on its recorder at exit
        self.process = ctx.Process(target=serve, args=(child,), name="arsip-recorder",
                                   daemon=True)
        self.process.start()
        child.close()
        self.opened = False
        self.run: Opened | None = None
        self.fatal: Fatal | None = None
        self.final: dict[str, int] | None = None  # the counters of ``Closed``
        self.broken = False
        self.finished = False
        self.closed = False
        # A forced shutdown outside ``arsip crawl`` (a second Ctrl-C under ``scrapy crawl``)
        # stops the reactor without Scrapy's close signals: the recorder is still told to
        # finish, write out and commit as the process exits.
        atexit.register(self._at_exit)

    def fileno(self) -> int:
        """The reply pipe, for an event loop to watch."""
        return self.conn.fileno()

    def open(self, config: RecorderConfig) -> None:
        """Start recording into ``config``'s WARC folder and database (once, first)."""
        self.send(Open(config))
        self.opened = True

    def send(self, message: ToRecorder) -> None:
        """Queue one message; a recorder that has gone away is reported by ``pump``."""
        if self.broken or self.closed:
            return
        if isinstance(message, Finish):
            if self.finished:
                return
            self.finished = True
        try:
            self.conn.send(message)
        except (OSError, ValueError):
            self.broken = True

    def finish(self, outcome: str, stats: dict[str, Any] | None = None) -> None:
        """Send the run's outcome, unless it was sent already."""
        self.send(Finish(outcome, stats or {}))

    def pump(self, timeout: float = 0.0) -> list[FromRecorder]:
        """Every reply the recorder has sent (waiting up to ``timeout`` for the first), after
        keeping what each says. A recorder that died without a word is a ``Fatal``."""
        replies: list[FromRecorder] = []
        wait_for = timeout
        while self.final is None:
            try:
                if not self.conn.poll(wait_for):
                    if self.process.is_alive():
                        break
                    # it may have replied and exited since the poll: read what is left
                    if not self.conn.poll(0):
                        raise EOFError
                reply = self.conn.recv()
            except (EOFError, OSError):
                self.process.join(1)
                reply = self._died()
            replies.append(reply)
            self._take(reply)
            if isinstance(reply, Closed) and not self.closed and self.fatal is None:
                # it ended by itself, without a word of why: the crawl must stop all the same
                replies.append(gone := Fatal(f"the recorder process stopped unexpectedly "
                                             f"(exit code {self.process.exitcode})"))
                self._take(gone)
            wait_for = 0.0
        return replies

    def _died(self) -> FromRecorder:
        self.broken = True
        self.final = {}
        if self.run is None and self.fatal is None:
            return Fatal(f"the recorder process stopped before opening the archive "
                         f"(exit code {self.process.exitcode})")
        return Fatal(f"the recorder process stopped unexpectedly "
                     f"(exit code {self.process.exitcode})")

    def _take(self, reply: FromRecorder) -> None:
        match reply:
            case Opened():
                self.run = reply
            case Fatal():
                self.fatal = self.fatal or reply
            case Closed():
                self.final = reply.counts
            case Note():
                pass
            case _:
                raise TypeError(f"the crawl has no handler for {type(reply).__name__}")

    def wait_opened(self) -> Opened:
        """Block until the run is open; ``DatabaseError`` with the recorder's own message when
        it could not open the archive. No time limit: migrating a big archive, or waiting for
        another crawl's migration, takes as long as it takes."""
        while self.run is None and self.fatal is None:
            self.pump(0.05)
        if self.run is None:
            assert self.fatal is not None
            raise DatabaseError(self.fatal.message)
        return self.run

    def _at_exit(self) -> None:
        if self.opened:
            self.finish("interrupted")
        self.close()

    def close(self, timeout: float = 120.0) -> list[FromRecorder]:
        """Let the recorder write out everything sent, commit and close; the replies read
        meanwhile. A recorder that does not stop in time is killed (its WARC file is repaired
        by the next crawl)."""
        if self.closed:
            return []
        self.send(Close())
        self.closed = True
        atexit.unregister(self._at_exit)
        if self.opened and self.run is None and self.fatal is None:
            # stopped while the recorder was still opening the archive (Ctrl-C during a long
            # migration or a lock wait): nothing was fetched, so nothing waits to be written,
            # and its transaction rolls back if it has to be stopped
            timeout = min(timeout, UNOPENED_GRACE_SECONDS)
        deadline = time.monotonic() + timeout
        replies: list[FromRecorder] = []
        while self.final is None and (left := deadline - time.monotonic()) > 0:
            replies += self.pump(min(left, 0.2))
        self.process.join(max(0.0, min(5.0, deadline - time.monotonic())))
        if self.process.is_alive():
            self.process.kill()  # it ignores SIGTERM, as every helper does
            self.process.join(5)
        self.conn.close()
        return replies
