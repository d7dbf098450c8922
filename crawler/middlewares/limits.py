"""PageLimitMiddleware: ``--max-pages N`` means N fetches, not N plus whatever was in flight.

Scrapy's CLOSESPIDER_PAGECOUNT closes gracefully, so every request already scheduled still goes
out; on a fast site that is dozens more. This counts requests as they reach the downloader and
refuses the ones past the limit, then closes the spider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import deferred_from_coro

from crawler.context import context_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class PageLimitMiddleware:
    """Lets ``ARSIP_MAX_PAGES`` requests through to the network, then stops the crawl."""

    def __init__(self, crawler: Crawler, limit: int) -> None:
        self.crawler = crawler
        self.limit = limit
        self.sent = 0
        self.closing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageLimitMiddleware:
        limit = context_of(crawler).config.max_pages
        if not limit:
            raise NotConfigured
        return cls(crawler, limit)

    def process_request(self, request: Request) -> None:
        if self.sent < self.limit:
            self.sent += 1
            return
        if not self.closing and self.crawler.engine is not None:
            self.closing = True
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="max_pages"))
        raise IgnoreRequest(f"--max-pages {self.limit} reached")
