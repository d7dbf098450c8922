"""ExtractionPool: the crawl's extraction processes.

Extraction is CPU-bound (lxml + trafilatura, milliseconds a page); in the crawl process it would
stall downloads and use one core. A pool sized to the CPU count uses every core while the reactor
keeps fetching.

On a first crawl the pool is started as soon as the crawl knows its settings, before Scrapy
builds its engine and before the database is migrated: a spawned worker spends most of a second
importing lxml and trafilatura, and that time is better spent while the crawl process is busy
setting up than after the first article has arrived. A re-crawl may extract nothing at all (its
articles answer 304, or are not due): its pool starts with the first page to extract.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from crawler.extraction.worker import PageResult, extract_in_worker, prepare_worker, warm_up
from crawler.sites import SiteProfile
from storage.processes import helper_context

logger = logging.getLogger(__name__)

# Recycle workers now and then: lxml keeps some memory per process that a long crawl would pile up.
TASKS_PER_WORKER = 2000


class ExtractionPool:
    """``workers`` extraction processes, warming up from ``start()`` (or from the first page)."""

    def __init__(self, workers: int, *, start: bool = True) -> None:
        self.workers = workers
        self.in_flight = 0  # pages submitted and not answered yet
        self._shut = False
        self._executor: ProcessPoolExecutor | None = self._start() if start else None

    @property
    def started(self) -> bool:
        return self._executor is not None

    def start(self) -> None:
        """Start the workers now (once): they warm up while the crawl fetches."""
        if self._executor is None and not self._shut:
            self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: forking a process that runs a reactor and threads is unsafe. (A fork
        # server saves each worker its imports but keeps a third copy of them resident, which
        # costs more memory than the second of start-up it saves.) The helper context spawns
        # them deaf to the shutdown signals from their first instruction.
        executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=helper_context(),
            initializer=prepare_worker,
            max_tasks_per_child=TASKS_PER_WORKER,
        )
        # one task per worker makes the executor start them all now, and each imports the
        # extraction code while it waits for pages
        for _ in range(self.workers):
            executor.submit(warm_up)
        return executor

    async def extract(self, html: str, url: str, profile: SiteProfile,
                      want_links: bool) -> PageResult:
        """The article (or its error as text) and, if wanted, the page's links to follow."""
        self.in_flight += 1
        try:
            return await self._extract(html, url, profile, want_links)
        finally:
            self.in_flight -= 1

    async def _extract(self, html: str, url: str, profile: SiteProfile,
                       want_links: bool) -> PageResult:
        self.start()  # the first page of a re-crawl to extract
        for attempt in (1, 2):
            executor = self._executor
            if executor is None:
                raise RuntimeError("the extraction pool is shut down")
            try:
                future = executor.submit(extract_in_worker, html, url, profile, want_links)
                return await asyncio.wrap_future(future)
            except BrokenProcessPool:
                # a worker died (killed, out of memory): every page in flight fails with it,
                # and only the first to notice starts the fresh pool the others retry on
                logger.warning("Extraction worker died on %s (attempt %d)", url, attempt)
                self._replace(executor)
            except asyncio.CancelledError:
                # the pool this page was on was replaced under it (shut down with its queue
                # cancelled): retry on the new one; any other cancellation goes on up
                if self._executor is executor or self._executor is None:
                    raise
        return PageResult(None, "extraction worker crashed on this page twice")

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if self._executor is broken:
            broken.shutdown(wait=False, cancel_futures=True)
            self._executor = self._start()

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the workers: pages not started are dropped, pages in progress finish (``wait``:
        before this returns); safe to call more than once."""
        self._shut = True
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)
