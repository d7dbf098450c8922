"""ExtractionPipeline: article extraction in a process pool, off the reactor.

Extraction is CPU-bound (lxml + trafilatura, tens of milliseconds a page); in the crawl process it
would stall downloads and use one core. A pool sized to the CPU count uses every core while the
reactor keeps fetching. Scrapy's scraper slot counts items in flight, which gives backpressure.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from crawler.context import CrawlContext, context_of
from crawler.extraction.worker import (
    WorkerResult,
    extract_in_worker,
    ignore_sigint,
    warm_up,
)
from crawler.items import PageItem
from storage.records import ArticleRecord

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# Recycle workers now and then: lxml keeps some memory per process that a long crawl would pile up.
TASKS_PER_WORKER = 2000


class ExtractionPipeline:
    """Fills ``PageItem.article`` (or ``PageItem.error``) using a pool of worker processes."""

    def __init__(self, crawler: Crawler, ctx: CrawlContext) -> None:
        self.crawler = crawler
        self.workers = ctx.config.workers
        self.profile = ctx.profile
        self.pool: ProcessPoolExecutor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractionPipeline:
        return cls(crawler, context_of(crawler))

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: forking a process that runs a reactor and threads is unsafe. (A fork
        # server saves each worker its imports but keeps a third copy of them resident, which
        # costs more memory than the second of start-up it saves.)
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=ignore_sigint,
            max_tasks_per_child=TASKS_PER_WORKER,
        )

    def open_spider(self) -> None:
        self.pool = self._new_pool()
        for _ in range(self.workers):
            self.pool.submit(warm_up)

    def close_spider(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item
        result, (articles, hubs) = await self._extract(item)
        spider, engine = self.crawler.spider, self.crawler.engine
        if (articles or hubs) and engine is not None and hasattr(spider, "follow_up"):
            for request in spider.follow_up(articles, hubs):
                engine.crawl(request)
        if isinstance(result, ArticleRecord):
            item.article = result
        else:
            item.error = result
        # the text is in the article now; don't carry the page through the rest of the chain
        item.html = ""
        return item

    async def _extract(self, item: PageItem) -> WorkerResult:
        assert self.pool is not None
        for attempt in (1, 2):
            try:
                future = self.pool.submit(
                    extract_in_worker, item.html, item.url, self.profile, item.want_links
                )
                return await asyncio.wrap_future(future)
            except BrokenProcessPool:
                # a worker died (killed, out of memory): start a fresh pool, retry this page once
                logger.warning("Extraction worker died on %s (attempt %d)", item.url, attempt)
                self.pool.shutdown(wait=False, cancel_futures=True)
                self.pool = self._new_pool()
        return "extraction worker crashed on this page twice", ((), ())
