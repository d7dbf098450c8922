"""The fixed-cost baseline: a plain Scrapy spider that fetches a given list of URLs and nothing
else (no parsing, no extraction, no archive).

    scrapy runspider bench/plain_spider.py -a urls=urls.txt
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.http import Response


class PlainSpider(scrapy.Spider):
    name = "plain"
    custom_settings = {
        # the URL list already holds robots.txt: fetch it as a page, like the rest
        "ROBOTSTXT_OBEY": False,
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
        "AUTOTHROTTLE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "HTTPERROR_ALLOW_ALL": True,
        "REDIRECT_ENABLED": False,  # the list holds every hop the archive fetched
        "RETRY_ENABLED": False,  # and every retry
        "DEFAULT_REQUEST_HEADERS": {"Accept-Encoding": "gzip, deflate"},
    }

    def __init__(self, urls: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with open(urls, encoding="utf-8") as fh:
            self.url_list = [line.strip() for line in fh if line.strip()]
        self.fetched = 0

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.url_list:
            yield scrapy.Request(url, dont_filter=True)

    def parse(self, response: Response) -> None:
        self.fetched += 1
