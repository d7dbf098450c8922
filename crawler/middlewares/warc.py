"""WarcCaptureMiddleware: every response into WARC, exactly as it came off the wire.

It listens to ``response_downloaded``, which Scrapy sends before any downloader middleware sees
the response: HttpCompressionMiddleware has not decoded the body yet and RedirectMiddleware has
not replaced it, so each hop of a redirect chain and every gzip body is archived as received.
The exchange goes to the crawl's recorder process (``storage.recorder``), which writes the WARC
records and the ``captures`` row; the key it is sent under rides on
``request.meta["arsip_capture_key"]`` so the article stored later links to this capture. When the
recorder cannot go on (a full disk), the runtime stops the crawl and nothing more is sent.
"""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.http import Response

from crawler.context import CrawlContext, context_of
from storage.protocol import Capture
from storage.warc import Exchange

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class WarcCaptureMiddleware:
    """Sends a request/response exchange per fetch to the recorder; see DESIGN.md "WARC"."""

    def __init__(self, crawler: Crawler, ctx: CrawlContext) -> None:
        self.crawler = crawler
        self.ctx = ctx
        self.keys = itertools.count(1)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        mw = cls(crawler, context_of(crawler))
        crawler.signals.connect(mw.capture, signal=signals.response_downloaded)
        return mw

    def process_request(self, request: Request) -> None:
        # WARC-Date is the capture start; redirects and retries pass through here again, restamp,
        # and must not inherit the capture key of the hop before them
        request.meta["arsip_fetched_at"] = datetime.now(UTC)
        request.meta.pop("arsip_capture_key", None)

    def capture(self, response: Response, request: Request, spider: Any = None) -> None:
        if self.ctx.runtime.fatal is not None:
            return  # it could not be archived
        key = next(self.keys)
        self.ctx.recorder.send(Capture(key, Exchange(
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


def _header_pairs(headers: Any) -> list[tuple[bytes, bytes]]:
    """Every value of repeated headers, as bytes (Scrapy keeps them as lists)."""
    return [(bytes(name), bytes(value)) for name, values in headers.items() for value in values]
