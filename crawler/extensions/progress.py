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


def error_counts(stats: dict[str, object]) -> dict[str, int]:
    """Errors by kind, each under one name wherever it is shown: ``fetch`` (no answer:
    timeouts, refused, DNS), ``HTTP`` (an answer of 400 or more), ``extraction`` (an article
    page that yielded no article), ``malformed`` (sitemaps and feeds that could not be read)."""
    def count(key: str) -> int:
        return int(stats.get(key, 0) or 0)  # type: ignore[call-overload]

    http = sum(int(v) for k, v in stats.items()  # type: ignore[call-overload]
               if k.startswith("downloader/response_status_count/")
               and k.rsplit("/", 1)[1].isdigit() and int(k.rsplit("/", 1)[1]) >= 400)
    return {"fetch": count("arsip/fetch_errors"), "HTTP": http,
            "extraction": count("arsip/extraction_errors"),
            "malformed": count("arsip/malformed_sitemap") + count("arsip/malformed_feed")}


def error_count(stats: dict[str, object]) -> int:
    """Every error of every kind (``error_counts``), all together."""
    return sum(error_counts(stats).values())


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
            ("errors " + " / ".join(f"{n} {kind}" for kind, n in error_counts(stats).items()
                                    if kind != "malformed"), "red"), " · ",
            f"{pages / elapsed:.1f} pages/s",
        )
        self.live.update(line)
