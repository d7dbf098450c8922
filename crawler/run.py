"""Run one crawl in this process: the library function under ``arsip crawl``.

A Twisted reactor cannot be restarted, so this runs once per process; the daemon runs each crawl
as a subprocess of ``arsip crawl``. The crawl's runtime (``crawler.runtime``) is built by the
caller before anything else, so that signals are handled the same way from the first moment;
this function checks it before starting anything, and hands it the crawl.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from twisted.python.failure import Failure

from crawler.config import CrawlConfig
from crawler.errors import ArsipError, UsageError
from crawler.runtime import CrawlRuntime, signal_name
from crawler.spiders.news import NewsSpider
from storage.errors import StorageError

# Expected network failures: one line in the log, never a traceback.
_QUIET_ERRORS = (
    "twisted.internet.error",
    "twisted.web._newclient",
    "scrapy.exceptions",
    "builtins.TimeoutError",
    "builtins.ConnectionRefusedError",
    "builtins.ConnectionResetError",
)


class _NoNetworkTracebacks(logging.Filter):
    """Drops the traceback of log records about expected network failures."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is not None:
            kind = record.exc_info[0]
            name = f"{kind.__module__}.{kind.__qualname__}"
            if name.startswith(_QUIET_ERRORS):
                record.exc_info = None
                record.exc_text = None
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now, so rich's live display can redirect it."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


@dataclass
class CrawlResult:
    """What a crawl reports back, once it has closed."""

    stats: dict[str, Any]
    outcome: str  # the run's outcome: finished, interrupted, unreachable, disk_full, ...
    exit_code: int
    started: datetime
    finished: datetime
    opened: bool = False  # a run was opened in the archive (so there is something to sum up)
    failure: str | None = None  # why it failed, in one line, when it did
    signal: str | None = None  # what stopped it, when a signal did ("Ctrl-C", "SIGTERM")
    log_file: Path | None = None

    @property
    def seconds(self) -> float:
        return max((self.finished - self.started).total_seconds(), 1e-6)

    @property
    def reason(self) -> str:
        return self.outcome

    def count(self, key: str) -> int:
        return int(self.stats.get(key, 0) or 0)


def build_settings(overrides: dict[str, Any]) -> Settings:
    """arsip's settings module, with command-line overrides on top."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


def _log_unraisable(unraisable: Any) -> None:
    # Python 3.11's ProcessPoolExecutor races at interpreter exit when the crawl stopped its
    # pool without waiting (the recorder died, a second Ctrl-C): its exit hook can write to a
    # wake-up pipe the pool's own thread has just closed, and the default hook prints that
    # ``OSError`` as a traceback after the crawl's one ``Error:`` line. Such errors change
    # nothing the crawl stored, so they go to the log file only (and to the terminal with -v).
    logging.getLogger("arsip.unraisable").warning(
        "%s: %r", unraisable.err_msg or "Exception ignored in", unraisable.object,
        exc_info=(unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback))


def _configure_logging(settings: Settings, log_file: Path | None, verbose: bool) -> None:
    sys.unraisablehook = _log_unraisable
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = _StderrHandler()
    # The terminal gets the progress line, arsip's own notices (``CrawlRuntime.say``), the
    # summary and one ``Error:`` line; per-page warnings and Scrapy's errors about single
    # requests are counted in the summary and kept in the log file. -v shows them all.
    console.setLevel(logging.INFO if verbose else logging.CRITICAL)
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    console.addFilter(_NoNetworkTracebacks())
    root.addHandler(console)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            to_file = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write the crawl log in {log_file.parent}: "
                             f"{exc.strerror or exc}") from None
        to_file.setLevel(logging.DEBUG if verbose else logging.INFO)
        to_file.setFormatter(logging.Formatter(settings.get("LOG_FORMAT")))
        to_file.addFilter(_NoNetworkTracebacks())
        root.addHandler(to_file)


@contextmanager
def _crawl_gc() -> Iterator[None]:
    """Garbage collection tuned for a crawl, restored afterwards.

    Every response allocates and drops thousands of small containers (headers, deferreds,
    requests), so the default thresholds run a collection every few hundred allocations and,
    now and then, a full one that walks every object of Scrapy, Twisted and SQLAlchemy. Freezing
    the heap built during set-up takes those modules out of every collection, and a larger
    first threshold lets most short-lived objects die by reference counting first: measured
    on the 1,000-article benchmark site, 0.8 s of collections in the crawl process became 0.2 s.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def run_crawl(
    urls: tuple[str, ...],
    overrides: dict[str, Any],
    *,
    runtime: CrawlRuntime | None = None,
    site: str | None = None,
    since: str | None = None,
    verbose: bool = False,
) -> CrawlResult:
    """Crawl one site in this process, to its end; raises ``ArsipError`` / ``StorageError``
    only when it could not start. The result says how it ended and with which exit code."""
    runtime = runtime or CrawlRuntime()
    started = datetime.now(UTC)
    try:
        settings = build_settings(overrides)
        config = CrawlConfig.from_settings(settings)  # validates --since and paths first
        # the daemon names each run's log file (ARSIP_LOG_FILE), and sends the crawl's output
        # there too
        log_file = Path(settings.get("ARSIP_LOG_FILE") or
                        config.data_dir / "logs" / f"crawl-{started:%Y%m%dT%H%M%S}.log")
        _configure_logging(settings, log_file, verbose)
        settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    except BaseException:
        runtime.close()  # it could not start: the state says so too
        raise
    if runtime.stop_requested:  # signalled during set-up: nothing has started yet
        runtime.close()
        return _result(runtime, {}, started, log_file)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(NewsSpider)
    failures: list[BaseException] = []

    def keep(failure: Failure) -> None:
        failures.append(failure.value)

    kwargs: dict[str, Any] = {"site": site, "since": since, "runtime": runtime}
    if urls:
        kwargs["urls"] = ",".join(urls)
    process.crawl(crawler, **kwargs).addErrback(keep)
    try:
        with _crawl_gc():
            # the runtime handles SIGINT, SIGTERM and SIGHUP, not Scrapy
            process.start(install_signal_handlers=False)
    finally:
        runtime.close()  # whatever happened, the helpers are told and waited for
    for exc in failures:
        if isinstance(exc, ArsipError | StorageError):
            raise exc
        raise ArsipError(f"the crawl failed: {type(exc).__name__}: {exc}") from exc
    stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    if runtime.ctx is not None:
        # the recorder's own counters (articles stored, records written) are the true figures,
        # also after a forced stop that skipped Scrapy's close signals
        stats.update(runtime.ctx.recorder.final or {})
    opened = runtime.ctx.run if runtime.ctx is not None else None
    target = ", ".join(urls) or site or (opened.site if opened else "") or "the site"
    return _result(runtime, stats, started, log_file, target)


def _result(runtime: CrawlRuntime, stats: dict[str, Any], started: datetime,
            log_file: Path | None, target: str = "the site") -> CrawlResult:
    outcome = runtime.decide_outcome()
    failure = None
    if runtime.fatal is not None:
        opened = runtime.ctx is not None and runtime.ctx.recorder.run is not None
        failure = (f"the crawl stopped early: {runtime.fatal.message}" if opened
                   else runtime.fatal.message)
    elif outcome == "unreachable":
        failure = f"could not reach {target} (details in {log_file})"
    return CrawlResult(
        stats=stats,
        outcome=outcome,
        exit_code=runtime.exit_code(),
        started=started,
        finished=datetime.now(UTC),
        opened=runtime.ctx is not None and runtime.ctx.recorder.run is not None,
        failure=failure,
        signal=signal_name(runtime.stop_signal) if runtime.stop_signal else None,
        log_file=log_file,
    )
