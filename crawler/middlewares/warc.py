"""WarcCaptureMiddleware: every response into WARC, exactly as it came off the wire.

It listens to ``response_downloaded``, which Scrapy sends before any downloader middleware sees
the response: HttpCompressionMiddleware has not decoded the body yet and RedirectMiddleware has
not replaced it, so each hop of a redirect chain and every gzip body is archived as received.
The exchange goes to the crawl's recorder process (``storage.recorder``), which writes the WARC
records and the ``captures`` row; the key it is sent under rides on
``request.meta["arsip_capture_key"]`` so the article stored later links to this capture.
"""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro
from twisted.internet.task import LoopingCall

from crawler.context import CrawlContext, context_of
from storage.recorder import FATAL, NOTE
from storage.warc import Exchange

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# How often the recorder's replies (fatal errors, notes) are read.
POLL_SECONDS = 0.25


class WarcCaptureMiddleware:
    """Sends a request/response exchange per fetch to the recorder; see DESIGN.md "WARC"."""

    def __init__(self, crawler: Crawler, ctx: CrawlContext) -> None:
        self.crawler = crawler
        self.ctx = ctx
        self.keys = itertools.count(1)
        self.poller: LoopingCall | None = None
        self.failed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        mw = cls(crawler, context_of(crawler))
        crawler.signals.connect(mw.capture, signal=signals.response_downloaded)
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def spider_opened(self) -> None:
        # made here: the reactor is installed after components are built
        self.poller = LoopingCall(self.poll)
        self.poller.start(POLL_SECONDS, now=False)

    def spider_closed(self) -> None:
        if self.poller is not None and self.poller.running:
            self.poller.stop()
        self.poll()

    def process_request(self, request: Request) -> None:
        # WARC-Date is the capture start; redirects and retries pass through here again, restamp,
        # and must not inherit the capture key of the hop before them
        request.meta["arsip_fetched_at"] = datetime.now(UTC)
        request.meta.pop("arsip_capture_key", None)

    def capture(self, response: Response, request: Request, spider: Any = None) -> None:
        if self.failed:
            return
        key = next(self.keys)
        self.ctx.recorder.send(("capture", key, Exchange(
            url=response.url,
            method=request.method,
            request_headers=_header_pairs(request.headers),
            request_body=request.body or b"",
            status=response.status,
            reason=None,
            response_headers=_header_pairs(response.headers),
            body=response.body,
            fetched_at=request.meta.get("arsip_fetched_at") or datetime.now(UTC),
            ip_address=str(response.ip_address) if response.ip_address else None,
            truncated="disconnect" if "dataloss" in response.flags else None,
            http_version=response.protocol or "HTTP/1.1",
        )))
        request.meta["arsip_capture_key"] = key
        if self.crawler.stats:
            self.crawler.stats.inc_value("arsip/warc_records")

    def poll(self) -> None:
        """Act on what the recorder said: log its notes, stop the crawl on a fatal error."""
        for reply in self.ctx.recorder.replies():
            if reply[0] == NOTE:
                logger.warning("%s", reply[1])
            elif reply[0] == FATAL:
                self._stop(reply[1], reply[2])

    def _stop(self, message: str, reason: str) -> None:
        # nothing may be fetched that cannot be archived, so the crawl ends here
        if self.failed:
            return
        self.failed = True
        logger.error("Stopping the crawl: %s", message)
        stats = self.crawler.stats
        if stats:
            stats.set_value("arsip/fatal", message)
        if self.crawler.engine is not None:
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=reason))


def _header_pairs(headers: Any) -> list[tuple[bytes, bytes]]:
    """Every value of repeated headers, as bytes (Scrapy keeps them as lists)."""
    return [(bytes(name), bytes(value)) for name, values in headers.items() for value in values]
