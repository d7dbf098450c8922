"""ExtractionPipeline: article extraction in the crawl's process pool, off the reactor.

The pool itself (``crawler.extraction.pool``) belongs to the crawl context, which starts it early;
this pipeline hands it each article page and acts on what comes back. Scrapy's scraper slot
counts items in flight, which gives backpressure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crawler.context import CrawlContext, context_of
from crawler.items import PageItem

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class ExtractionPipeline:
    """Fills ``PageItem.article`` (or ``PageItem.error``) using the extraction processes."""

    def __init__(self, crawler: Crawler, ctx: CrawlContext) -> None:
        self.crawler = crawler
        self.ctx = ctx

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractionPipeline:
        return cls(crawler, context_of(crawler))

    def close_spider(self) -> None:
        # pages still being extracted finish first, so their items reach the storage pipeline
        self.ctx.pool.shutdown()

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item
        result = await self.ctx.pool.extract(item.html, item.url, self.ctx.profile,
                                             item.want_links)
        spider, engine = self.crawler.spider, self.crawler.engine
        if ((result.article_links or result.hub_links) and engine is not None
                and hasattr(spider, "follow_up")):
            for request in spider.follow_up(result.article_links, result.hub_links):
                engine.crawl(request)
        item.article, item.error = result.article, result.error
        # the text is in the article now; don't carry the page through the rest of the chain
        item.html = ""
        return item
