"""The crawl process's runtime: the states of a crawl, the one place that decides when and how it
stops, and the one reader of the recorder's replies.

States (``CrawlState``), in order; every crawl ends in CLOSED or FAILED:

    STARTING -> OPENED -> CRAWLING -> STOPPING -> CLOSED
        \\__________\\___________\\______/       \\-> FAILED

- STARTING: the extraction workers and the recorder start, the recorder opens the archive and
  takes the site's run lock. Nothing is fetched.
- OPENED: the run is open; the crawl waits for the site's first answer.
- CRAWLING: the site answers; every response is archived as it arrives.
- STOPPING: no new requests. Requests in flight finish, pages in extraction are stored, the
  recorder writes out and commits. Entered for every reason a crawl ends: done, ``--max-pages``,
  a signal, a fatal error.
- CLOSED: everything fetched is archived and committed and the run has its outcome.
- FAILED: the same, for a crawl that could not start or could not go on.

Signals. SIGINT, SIGTERM and SIGHUP, to this process or its whole group, are handled here and
nowhere else: the helper processes ignore them from birth (``storage.processes``) and are told.
The first stops gracefully, the second stops now (requests in flight are dropped; what was
fetched is still written out), a third abandons the recorder (the next crawl repairs its WARC
file). Once CLOSED or FAILED, a signal only ends the process at once, with the exit code already
decided. The exit code is the outcome's: 0 done, 1 failed, 128 + the signal's number for a crawl
a signal stopped (130 SIGINT, 143 SIGTERM, 129 SIGHUP).

States are reported as they change: in the crawl log, and as JSON lines appended to
``ARSIP_STATE_FILE`` when set, which is how a supervisor (or a test) waits for one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.processes import SHUTDOWN_SIGNALS, handle_shutdown_signal

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.internet.defer import Deferred

    from crawler.context import CrawlContext
    from storage.protocol import Fatal

logger = logging.getLogger(__name__)


# how long a repeated signal to a daemon's crawl waits to see whether the daemon is dying
DAEMON_DYING_WAIT = 1.0


class CrawlState(StrEnum):
    """Where a crawl is; see the module docs."""

    STARTING = "starting"
    OPENED = "opened"
    CRAWLING = "crawling"
    STOPPING = "stopping"
    CLOSED = "closed"
    FAILED = "failed"


# Every transition a crawl can make.
NEXT: dict[CrawlState, frozenset[CrawlState]] = {
    CrawlState.STARTING: frozenset({CrawlState.OPENED, CrawlState.STOPPING}),
    CrawlState.OPENED: frozenset({CrawlState.CRAWLING, CrawlState.STOPPING}),
    CrawlState.CRAWLING: frozenset({CrawlState.STOPPING}),
    CrawlState.STOPPING: frozenset({CrawlState.CLOSED, CrawlState.FAILED}),
    CrawlState.CLOSED: frozenset(),
    CrawlState.FAILED: frozenset(),
}
ENDED = frozenset({CrawlState.CLOSED, CrawlState.FAILED})

EXIT_OK = 0
EXIT_FAILED = 1

# Why a crawl stops (``CrawlRuntime.stop_reason``).
STOP_DONE = "finished"  # the engine ran out of work
STOP_SIGNAL = "signal"
STOP_FATAL = "fatal"  # the recorder cannot go on (disk full, database gone)


class TransitionError(RuntimeError):
    """A state change the crawl's state machine does not allow (a bug)."""


def signal_name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


class CrawlRuntime:
    """Owns a crawl's state, its shutdown and the recorder's reply stream (module docs).

    Built first thing by ``arsip crawl`` (``install_signal_handlers=True``), so that a signal is
    handled the same way from the first moment; ``scrapy crawl news`` builds one without, and
    leaves signals to Scrapy.
    """

    def __init__(self, *, install_signal_handlers: bool = False,
                 state_file: str | os.PathLike[str] | None = None,
                 daemon_pid: int | None = None) -> None:
        self.state = CrawlState.STARTING
        self.daemon_pid = daemon_pid  # started by `arsip daemon` (scheduler.child)
        self.signals: list[int] = []
        self.stop_reason: str | None = None
        self.stop_signal: int | None = None
        self.fatal: Fatal | None = None
        self.outcome: str | None = None
        self.scrapy_reason: str | None = None  # the reason Scrapy closed the spider with
        self.responded = False
        self.forced = False
        self.state_file = Path(state_file) if state_file else None
        self.ctx: CrawlContext | None = None
        self._crawler: Crawler | None = None
        self._reactor: Any = None  # while it runs: where signals are acted on
        self._reader: _ReplyReader | None = None
        self._waiting: list[Deferred[bool]] = []
        self._watchers: list[Callable[[CrawlRuntime], None]] = []
        self._handling = install_signal_handlers
        if install_signal_handlers:
            for signum in SHUTDOWN_SIGNALS:
                handle_shutdown_signal(signum, self._on_signal)
        self._report()

    def take_signals(self, received: list[int]) -> None:
        """Act on signals received before this runtime existed (``crawler.launch`` held them)
        as if they came now. Call after building it: one arriving meanwhile is its own."""
        for signum in list(received):
            self._on_signal(signum, None)

    # --- states ---------------------------------------------------------------------------------

    def _enter(self, state: CrawlState) -> None:
        if state not in NEXT[self.state]:
            raise TransitionError(f"a crawl cannot go from {self.state} to {state}")
        self.state = state
        logger.info("Crawl state: %s", state)
        self._report()
        for watcher in list(self._watchers):
            watcher(self)

    def _report(self) -> None:
        if self.state_file is None:
            return
        run = self.ctx.recorder.run if self.ctx is not None else None
        line = json.dumps({"state": str(self.state), "pid": os.getpid(),
                           "run_id": run.run_id if run else None,
                           "at": datetime.now(UTC).isoformat(timespec="milliseconds")})
        try:
            with self.state_file.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError as exc:  # a report that cannot be written must not stop the crawl
            logger.warning("Cannot write the crawl state to %s: %s", self.state_file, exc)

    def watch(self, watcher: Callable[[CrawlRuntime], None]) -> None:
        """Call ``watcher(runtime)`` after every state change (the progress line uses it)."""
        self._watchers.append(watcher)

    # --- set-up ---------------------------------------------------------------------------------

    def attach(self, crawler: Crawler, ctx: CrawlContext) -> None:
        """Take charge of a crawl whose helpers ``ctx`` has started (from the spider's
        ``from_crawler``)."""
        from scrapy import signals

        self._crawler, self.ctx = crawler, ctx
        crawler.signals.connect(self._engine_started, signal=signals.engine_started)
        crawler.signals.connect(self._first_response, signal=signals.response_downloaded)
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self._engine_stopped, signal=signals.engine_stopped)

    def _engine_started(self) -> None:
        # imported here: Scrapy installs its reactor first, importing it earlier would install
        # Twisted's default one
        from twisted.internet import reactor

        self._reactor = reactor
        if self.ctx is not None:
            self._reader = _ReplyReader(self)
            reactor.addReader(self._reader)
        for count, signum in enumerate(self.signals, start=1):  # signalled during set-up
            self._signalled(signum, count)

    def reactor_stopped(self) -> None:
        """The reactor is gone: the close is under way, and a signal from now on is only
        counted (a third one still abandons the recorder)."""
        self._reactor = None
        self._stop_reading()

    @property
    def stop_requested(self) -> bool:
        """A signal has come (set-up checks this before starting anything)."""
        return bool(self.signals)

    # --- the recorder's replies (the one reader) -------------------------------------------------

    def pump(self) -> None:
        """Read and act on every reply the recorder has sent."""
        from storage.protocol import Closed, Fatal, Note, Opened

        if self.ctx is None:
            return
        for reply in self.ctx.recorder.pump():
            match reply:
                case Opened():
                    self._opened()
                case Fatal():
                    self._fatal(reply)
                case Note():
                    self.say(reply.message)
                case Closed():
                    pass
                case _:
                    raise TypeError(f"the runtime has no handler for {type(reply).__name__}")
        if self.ctx.recorder.final is not None:
            self._stop_reading()
            if self.fatal is not None:
                # the recorder is gone: nothing in flight could be archived, so nothing is
                # waited for (a full disk leaves it running, and the articles of what it wrote
                # still go in)
                self._stop_now()

    def _stop_reading(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            with contextlib.suppress(Exception):
                if self._reactor is not None:
                    self._reactor.removeReader(reader)

    def _opened(self) -> None:
        if self.state is CrawlState.STARTING:
            self._enter(CrawlState.OPENED)
        self._release(self.state is CrawlState.OPENED)

    def _fatal(self, fatal: Fatal) -> None:
        if self.fatal is None:
            self.fatal = fatal
            self.outcome = None  # the recorder records the run as failed, whatever it was told
            # said once, by the CLI, when the crawl has closed; the log keeps it too
            logger.error("Stopping the crawl: %s", fatal.message)
            if fatal.detail:
                logger.error("The recorder's report:\n%s", fatal.detail)
            if self._crawler is not None and self._crawler.stats is not None:
                self._crawler.stats.set_value("arsip/fatal", fatal.message)
        self.request_stop(STOP_FATAL)

    def until_opened(self) -> Deferred[bool]:
        """Fires True once the run is open and the crawl may fetch, False if it is stopping
        first (the spider's ``start`` waits on this)."""
        from twisted.internet.defer import succeed

        if self.state is CrawlState.OPENED or self.state is CrawlState.CRAWLING:
            return succeed(True)
        if self.state is not CrawlState.STARTING:
            return succeed(False)
        from twisted.internet.defer import Deferred

        waiting: Deferred[bool] = Deferred()
        self._waiting.append(waiting)
        return waiting

    def _release(self, go: bool) -> None:
        waiting, self._waiting = self._waiting, []
        for deferred in waiting:
            deferred.callback(go)

    def _first_response(self, *_args: Any, **_kwargs: Any) -> None:
        # stays connected: disconnecting while Scrapy dispatches this very signal would skip
        # the next receiver (the WARC capture) for this response
        if self.responded:
            return
        self.responded = True
        if self.state is CrawlState.OPENED:
            self._enter(CrawlState.CRAWLING)

    # --- stopping -------------------------------------------------------------------------------

    def request_stop(self, reason: str, signum: int | None = None) -> None:
        """Stop the crawl gracefully for ``reason``; the first reason decides the outcome."""
        if not self._begin_stop(reason, signum):
            return
        engine = self._engine()
        if engine is not None and engine.running and self._crawler is not None:
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(self._crawler.stop_async())
        # else the engine has not started: the spider's start() sees the stop and yields nothing

    def _begin_stop(self, reason: str, signum: int | None = None) -> bool:
        """Enter STOPPING for ``reason`` (kept if it is the first); False if already there."""
        if self.stop_reason is None:
            self.stop_reason, self.stop_signal = reason, signum
        if self.state in ENDED or self.state is CrawlState.STOPPING:
            return False
        self._enter(CrawlState.STOPPING)
        self._release(False)
        return True

    def _on_signal(self, signum: int, _frame: Any) -> None:
        # A signal handler runs between two bytecodes of whatever the main thread was doing:
        # it records, and leaves the acting to the reactor (or to the code after it).
        self.signals.append(signum)
        if self.state in ENDED:
            os._exit(self.exit_code())  # all is written; only the summary was left to print
        if len(self.signals) >= 2 and self.daemon_pid is not None:
            # A dying daemon's kernel sends its SIGTERM once per thread it passes the crawl to,
            # and the crawl's parent is still the daemon until the last one: a repeat is acted
            # on only if the daemon is still there a moment later (it forwarded a second signal).
            if self._daemon_gone():
                self.signals.pop()
                return
            if self._reactor is not None:
                self._reactor.callFromThread(self._reactor.callLater, DAEMON_DYING_WAIT,
                                             self._repeated_from_daemon, signum)
                return
        if len(self.signals) >= 3:
            self._abandon()
        if self._reactor is not None:
            self._reactor.callFromThread(self._signalled, signum, len(self.signals))

    def _daemon_gone(self) -> bool:
        return self.daemon_pid is not None and os.getppid() != self.daemon_pid

    def _repeated_from_daemon(self, signum: int) -> None:
        if self._daemon_gone():
            if len(self.signals) > 1:
                self.signals.pop()
            self.say(f"{signal_name(signum)} again: the daemon is gone; the crawl still stops "
                     f"cleanly.")
            return
        if len(self.signals) >= 3:
            self._abandon()
        self._signalled(signum, len(self.signals))

    def _signalled(self, signum: int, count: int) -> None:
        if count == 1 and self.stop_reason == STOP_DONE:
            # the crawl had ended by itself and is writing out: nothing to stop, and its
            # outcome (and exit code) stays what it is
            self.say(f"{signal_name(signum)}: the crawl has ended; writing out what was "
                     f"fetched.")
            return
        if count == 1 or self.state is not CrawlState.STOPPING:
            in_flight = self._in_flight()
            self.request_stop(STOP_SIGNAL, signum)
            self.say(f"Stopping ({signal_name(signum)}): finishing {in_flight}; "
                     f"{signal_name(signum)} again to stop now.")
            return
        self.say("Stopping now: writing out what was fetched.")
        self._stop_now()

    def _stop_now(self) -> None:
        """Stop the reactor without waiting for requests in flight; ``close`` does the rest."""
        self.forced = True
        if self._reactor is not None:
            with contextlib.suppress(RuntimeError):  # already stopping
                self._reactor.stop()

    def _engine(self) -> Any:
        """Scrapy's engine, once the crawl has one."""
        try:
            return self._crawler.engine if self._crawler is not None else None
        except RuntimeError:  # not built yet
            return None

    def _in_flight(self) -> str:
        engine = self._engine()
        requests = len(engine.downloader.active) if engine is not None else 0
        pages = self.ctx.pool.in_flight if self.ctx is not None else 0
        text = f"{requests} request{'s' if requests != 1 else ''} in flight"
        return text + (f" and {pages} page{'s' if pages != 1 else ''} in extraction"
                       if pages else "")

    def _abandon(self) -> None:
        """A third signal: leave now. The recorder is killed, not waited for; the next crawl
        repairs its WARC file and marks the run killed."""
        if self.ctx is not None:
            with contextlib.suppress(Exception):
                self.ctx.recorder.process.kill()
        os._exit(self.exit_code())

    # --- Scrapy's end of the crawl --------------------------------------------------------------

    def _spider_closed(self, reason: str) -> None:
        # the engine closed by itself (out of work), or under Scrapy's own signal handling
        # (``scrapy crawl``): the spider is closed already, there is nothing to act on
        self._begin_stop(STOP_SIGNAL if reason == "shutdown" else STOP_DONE)
        self.scrapy_reason = reason
        self._send_finish()

    def _engine_stopped(self) -> None:
        # everything sent is written and committed before the crawl process exits
        self.close_helpers()

    def _send_finish(self) -> None:
        if self.ctx is None or self.ctx.recorder.finished:
            return
        stats = self._crawler.stats.get_stats() if self._crawler and self._crawler.stats else {}
        self.ctx.recorder.finish(self.decide_outcome(), _jsonable(stats))

    def decide_outcome(self) -> str:
        """The run's outcome, from the first reason the crawl stopped for."""
        if self.outcome is not None:
            return self.outcome
        reason = self.scrapy_reason
        if self.fatal is not None:
            outcome = self.fatal.outcome
        elif self.stop_reason == STOP_SIGNAL or (self.forced and not self.stop_reason):
            outcome = "interrupted"
        elif not self.responded:
            outcome = "unreachable"
        elif reason in (None, "finished", "max_pages", "shutdown"):
            outcome = "finished"
        else:
            outcome = reason  # another Scrapy close reason (closespider_timeout, ...)
        self.outcome = outcome
        return outcome

    def close_helpers(self) -> None:
        """Stop the workers, let the recorder write out, commit and close (once)."""
        ctx = self.ctx
        if ctx is None or ctx.closed:
            return
        self._send_finish()
        self._stop_reading()
        # after "stop now", pages waiting for extraction are dropped (their captures are in
        # the WARC file); pages in a worker's hands still finish
        ctx.close(drop_pending=self.forced)
        from storage.protocol import Fatal, Note

        for reply in ctx.last_replies:
            if isinstance(reply, Fatal):
                self._fatal_late(reply)
            elif isinstance(reply, Note):
                self.say(reply.message)

    def _fatal_late(self, fatal: Fatal) -> None:
        if self.fatal is None:
            self.fatal = fatal
            self.outcome = None
            logger.error("%s", fatal.message)
            if fatal.detail:
                logger.error("The recorder's report:\n%s", fatal.detail)

    def close(self) -> None:
        """After the reactor has stopped: close whatever is still open and enter the final
        state (CLOSED, or FAILED for a crawl that failed)."""
        self.reactor_stopped()
        # nothing left to act on: the engine has gone with the reactor
        self._begin_stop(STOP_SIGNAL if self.signals else STOP_DONE,
                         self.signals[0] if self.signals else None)
        self.close_helpers()
        self.decide_outcome()
        if self.state is CrawlState.STOPPING:
            self._enter(CrawlState.FAILED if self.failed else CrawlState.CLOSED)

    @property
    def failed(self) -> bool:
        return self.fatal is not None or self.decide_outcome() == "unreachable"

    def exit_code(self) -> int:
        """0 done, 1 failed, 128 + the signal's number for a crawl a signal stopped."""
        if self.fatal is not None or self.outcome == "unreachable":
            return EXIT_FAILED
        if self.stop_reason == STOP_SIGNAL and self.stop_signal is not None:
            return 128 + self.stop_signal
        if self.state not in ENDED and self.signals:
            return 128 + self.signals[0]
        return EXIT_OK

    def exiting(self) -> None:
        """Everything is written and said: from here to the process's end a signal changes
        nothing. (Python restores the default actions as it finalizes; a SIGTERM then would
        turn the decided exit code into a death by signal.)"""
        if self._handling:
            for signum in SHUTDOWN_SIGNALS:
                signal.signal(signum, signal.SIG_IGN)

    # --- the terminal ---------------------------------------------------------------------------

    def say(self, message: str) -> None:
        """One line for the user on stderr, at once (and in the log)."""
        logger.info("%s", message)
        with contextlib.suppress(OSError):  # nobody reads stderr any more: the log has it
            print(message, file=sys.stderr, flush=True)


class _ReplyReader:
    """The recorder's reply pipe as a reactor reader: replies are read the moment they
    arrive, by ``CrawlRuntime.pump`` alone."""

    def __init__(self, runtime: CrawlRuntime) -> None:
        self.runtime = runtime
        assert runtime.ctx is not None
        self._fileno = runtime.ctx.recorder.fileno()

    def fileno(self) -> int:
        return self._fileno

    def doRead(self) -> None:
        self.runtime.pump()

    def connectionLost(self, _reason: Any) -> None:
        pass

    def logPrefix(self) -> str:
        return "arsip-recorder"


def _jsonable(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in stats.items()}
