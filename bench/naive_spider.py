"""The baseline arsip is measured against: a plain Scrapy spider calling trafilatura inline.

    scrapy runspider bench/naive_spider.py -a url=http://127.0.0.1:PORT/ -a report=out.json

Sitemaps (from robots.txt, gzip too) and listing pages with their pagination lead to dated article
paths; each article is extracted in the callback, on the reactor thread, and the result is thrown
away: no WARC, no database. This is what "just use Scrapy + trafilatura" costs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urljoin

import scrapy
import trafilatura
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from scrapy.spiders import SitemapSpider

ARTICLE = re.compile(r"/\d{4}/\d{2}/\d{2}/[^/]+/")
HUB = re.compile(r"/category/[^/]+/(page/\d+/)?$")


class NaiveSpider(SitemapSpider):
    name = "naive"
    sitemap_rules = [(ARTICLE.pattern, "parse_article")]
    # The same fetch settings arsip runs with in the benchmark.
    custom_settings = {
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_TIMEOUT": 30,
        "RETRY_TIMES": 2,
        "USER_AGENT": "naive-bench/0.1 (+http://127.0.0.1/)",
        "DEFAULT_REQUEST_HEADERS": {"Accept-Encoding": "gzip, deflate",
                                    "Accept-Language": "id,en;q=0.8"},
        "TELNETCONSOLE_ENABLED": False,
    }

    def __init__(self, url: str, report: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = url if url.endswith("/") else url + "/"
        self.sitemap_urls = [urljoin(self.base, "/robots.txt")]
        self.allowed_domains = [re.sub(r"^https?://([^/:]+).*$", r"\1", self.base)]
        self.report = report
        self.extracted = 0
        self.empty = 0
        self.started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NaiveSpider:
        spider: NaiveSpider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._write_report, signal=signals.spider_closed)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        async for request in super().start():
            yield request
        yield scrapy.Request(self.base, callback=self.parse_listing)

    def parse_listing(self, response: Response) -> Iterator[scrapy.Request]:
        if not isinstance(response, TextResponse):
            return
        for href in response.xpath("//a/@href | //link[@rel='next']/@href").getall():
            url = response.urljoin(href)
            if ARTICLE.search(url):
                yield scrapy.Request(url, callback=self.parse_article)
            elif HUB.search(url):
                yield scrapy.Request(url, callback=self.parse_listing)

    def parse_article(self, response: Response) -> Iterator[dict[str, Any]]:
        if not isinstance(response, TextResponse):
            return
        text = trafilatura.extract(response.text, url=response.url)
        if text:
            self.extracted += 1
        else:
            self.empty += 1
        yield {"url": response.url, "text": text}

    def _write_report(self, spider: scrapy.Spider, reason: str) -> None:
        if not self.report:
            return
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        with open(self.report, "w", encoding="utf-8") as fh:
            json.dump({"extracted": self.extracted, "empty": self.empty, "reason": reason,
                       "responses": stats.get("downloader/response_count", 0),
                       "elapsed": time.monotonic() - self.started}, fh)
