"""PageLimitMiddleware: ``--max-pages N`` means N fetches, not N plus whatever was in flight.

Scrapy's CLOSESPIDER_PAGECOUNT closes gracefully, so every request already scheduled still goes
out; on a fast site that is dozens more. This counts requests as they reach the downloader and
refuses the ones past the limit, then closes the spider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured

from crawler.context import CrawlContext, context_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class PageLimitMiddleware:
    """Lets ``ARSIP_MAX_PAGES`` requests through to the network, then stops the crawl."""

    def __init__(self, crawler: Crawler, ctx: CrawlContext, limit: int) -> None:
        self.crawler = crawler
        self.ctx = ctx
        self.limit = limit
        self.sent = 0
        self.closing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageLimitMiddleware:
        ctx = context_of(crawler)
        if not ctx.config.max_pages:
            raise NotConfigured
        return cls(crawler, ctx, ctx.config.max_pages)

    def process_request(self, request: Request) -> None:
        if self.sent < self.limit:
            self.sent += 1
            return
        if not self.closing:
            self.closing = True
            self.ctx.runtime.request_stop("max_pages")
        raise IgnoreRequest(f"--max-pages {self.limit} reached")
