"""ProgressExtension: a live line on the terminal while a crawl runs.

Pages fetched, articles stored, errors and the current rate, refreshed twice a second with rich.
Off unless ``ARSIP_PROGRESS`` is set (the CLI sets it when stderr is a terminal), so scrapy runs,
logs and CI output stay plain.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.text import Text
from scrapy import signals
from scrapy.exceptions import NotConfigured
from twisted.internet.task import LoopingCall

from crawler.context import context_of
from crawler.runtime import ENDED, CrawlRuntime, CrawlState

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector


def error_count(stats: dict[str, object]) -> int:
    """Fetch failures, HTTP errors, extraction errors and malformed documents, all together."""
    keys = ("arsip/fetch_errors", "arsip/extraction_errors", "arsip/malformed_sitemap",
            "arsip/malformed_feed")
    http = sum(int(v) for k, v in stats.items()  # type: ignore[call-overload]
               if k.startswith("downloader/response_status_count/")
               and k.rsplit("/", 1)[1].isdigit() and int(k.rsplit("/", 1)[1]) >= 400)
    return http + sum(int(stats.get(k, 0) or 0) for k in keys)  # type: ignore[call-overload]


class ProgressExtension:
    """Renders crawl progress from the stats collector."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats
        # soft wrap: a long log line printed above the live line must not be cut at the width
        self.console = Console(stderr=True, soft_wrap=True)
        self.live = Live(console=self.console, refresh_per_second=4, transient=True)
        self.ticker = LoopingCall(self.refresh)
        self.started = time.monotonic()
        self.state = CrawlState.STARTING

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressExtension:
        if not crawler.settings.getbool("ARSIP_PROGRESS") or crawler.stats is None:
            raise NotConfigured  # no message: Scrapy would log it as a warning
        ext = cls(crawler.stats)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        context_of(crawler).runtime.watch(ext.state_changed)
        return ext

    def state_changed(self, runtime: CrawlRuntime) -> None:
        self.state = runtime.state
        if runtime.state in ENDED:
            self.spider_closed()  # a forced stop never sends spider_closed: clear the line now
        elif self.live.is_started:
            self.refresh()

    def spider_opened(self) -> None:
        self.started = time.monotonic()
        self.live.start()
        self.ticker.start(0.5, now=True)

    def spider_closed(self) -> None:
        if self.ticker.running:
            self.ticker.stop()
        if self.live.is_started:
            self.live.stop()

    def refresh(self) -> None:
        stats = self.stats.get_stats()
        pages = int(stats.get("response_received_count", 0))
        articles = int(stats.get("arsip/articles_extracted", 0))
        elapsed = max(time.monotonic() - self.started, 1e-6)
        line = Text.assemble(
            ("arsip ", "bold"),
            ("stopping · ", "yellow") if self.state is CrawlState.STOPPING else "",
            (f"{pages} pages", "cyan"), " · ",
            (f"{articles} articles", "green"), " · ",
            (f"{error_count(stats)} errors", "red"), " · ",
            f"{pages / elapsed:.1f} pages/s",
        )
        self.live.update(line)
