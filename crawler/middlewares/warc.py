"""WarcCaptureMiddleware: every response into WARC, exactly as it came off the wire.

It listens to ``response_downloaded``, which Scrapy sends before any downloader middleware sees
the response: HttpCompressionMiddleware has not decoded the body yet and RedirectMiddleware has
not replaced it, so each hop of a redirect chain and every gzip body is archived as received.
Each capture also becomes a row of the ``captures`` table (the archive index), and its id rides
on ``request.meta["arsip_capture_id"]`` to the pipelines so articles link to their capture.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from twisted.internet.task import LoopingCall

from crawler.context import CrawlContext, context_of
from storage.errors import DiskFullError, WarcError
from storage.records import CaptureRecord
from storage.warc import (
    Exchange,
    RevisitOf,
    WarcWriter,
    WarcWriterConfig,
    payload_digest,
    recover_open_files,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# Payload digests of this run kept in memory for revisits (about 150 bytes each).
MAX_REMEMBERED_PAYLOADS = 200_000


class WarcCaptureMiddleware:
    """Writes a request and a response (or revisit) record per fetch; see DESIGN.md "WARC"."""

    def __init__(self, crawler: Crawler, ctx: CrawlContext) -> None:
        self.crawler = crawler
        self.ctx = ctx
        config = ctx.config
        self.writer = WarcWriter(
            WarcWriterConfig(
                directory=config.warc_dir,
                prefix=config.warc_prefix,
                max_size=config.warc_max_size,
                idle_timeout=config.warc_idle_timeout,
                is_part_of=f"{ctx.profile.name}/run-{ctx.run_id}",
            )
        )
        self.idle_check: LoopingCall | None = None
        self.failed = False
        # Revisit lookups: on a first crawl of a site the database has nothing to refer to, so
        # only this run's own payloads are remembered (bounded); a re-crawl asks the database.
        self.recrawl = ctx.archive.has_captures(ctx.site_id, before_run=ctx.run_id)
        self.seen_payloads: dict[str, RevisitOf] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        if not crawler.settings.getbool("ARSIP_WARC_ENABLED", True):
            raise NotConfigured("ARSIP_WARC_ENABLED is off")
        mw = cls(crawler, context_of(crawler))
        crawler.signals.connect(mw.capture, signal=signals.response_downloaded)
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def spider_opened(self) -> None:
        for path in recover_open_files(self.ctx.config.warc_dir):
            logger.warning("Recovered WARC file left open by an earlier crawl: %s", path.name)
        interval = max(1.0, min(30.0, self.ctx.config.warc_idle_timeout / 2))
        # made here: the reactor is installed after components are built
        self.idle_check = LoopingCall(self._check_idle)
        self.idle_check.start(interval, now=False)

    def _check_idle(self) -> None:
        # an exception would stop the LoopingCall for good, and with it idle rotation
        try:
            self.writer.check_idle()
        except WarcError as exc:
            logger.error("Could not close the idle WARC file: %s", exc)

    def spider_closed(self) -> None:
        if self.idle_check is not None and self.idle_check.running:
            self.idle_check.stop()
        self.writer.close()

    def process_request(self, request: Request) -> None:
        # WARC-Date is the capture start; redirects pass through here again and restamp
        request.meta["arsip_fetched_at"] = datetime.now(UTC)

    def capture(self, response: Response, request: Request, spider: Any = None) -> None:
        if self.failed:
            return
        try:
            request.meta["arsip_capture_id"] = self._capture(response, request)
            if self.crawler.stats:
                self.crawler.stats.inc_value("arsip/warc_records")
        except DiskFullError as exc:
            self._stop(f"disk full: {exc}", "disk_full")
        except WarcError as exc:
            self._stop(f"cannot write WARC: {exc}", "warc_error")

    def _capture(self, response: Response, request: Request) -> int:
        fetched_at = request.meta.get("arsip_fetched_at") or datetime.now(UTC)
        exchange = Exchange(
            url=response.url,
            method=request.method,
            request_headers=_header_pairs(request.headers),
            request_body=request.body or b"",
            status=response.status,
            reason=None,
            response_headers=_header_pairs(response.headers),
            body=response.body,
            fetched_at=fetched_at,
            ip_address=str(response.ip_address) if response.ip_address else None,
            truncated="disconnect" if "dataloss" in response.flags else None,
            http_version=response.protocol or "HTTP/1.1",
        )
        archive = self.ctx.archive
        digest = payload_digest(response.body)
        refers_to: str | None = None
        if response.status == 304:
            response_loc, _ = self.writer.write_not_modified(exchange, None)
            record_type = "revisit"
        else:
            dedup = 200 <= response.status < 300 and bool(response.body)
            revisit = self._original(digest, response.url) if dedup else None
            response_loc, _ = self.writer.write_exchange(exchange, revisit)
            record_type = "revisit" if revisit else "response"
            refers_to = revisit.record_id if revisit else None
            if dedup and revisit is None and len(self.seen_payloads) < MAX_REMEMBERED_PAYLOADS:
                self.seen_payloads[digest] = RevisitOf(response_loc.record_id, response.url,
                                                       fetched_at)
        mime = response.headers.get(b"Content-Type")
        return archive.record_capture(
            CaptureRecord(
                url=response.url,
                fetched_at=fetched_at,
                status=response.status,
                mime=mime.decode("latin-1").split(";")[0].strip() if mime else None,
                payload_digest=digest,
                location=response_loc,
                record_type=record_type,
                refers_to=refers_to,
                run_id=self.ctx.run_id,
            )
        )

    def _original(self, digest: str, url: str) -> RevisitOf | None:
        known = self.seen_payloads.get(digest)
        if known is not None or not self.recrawl:
            return known
        original = self.ctx.archive.find_original(digest, url)
        if original is None:
            return None
        return RevisitOf(original.location.record_id, original.url, original.fetched_at)

    def _stop(self, message: str, reason: str) -> None:
        # nothing may be fetched that cannot be archived, so the crawl ends here
        self.failed = True
        logger.error("Stopping the crawl: %s", message)
        stats = self.crawler.stats
        if stats:
            stats.set_value("arsip/fatal", message)
        if self.crawler.engine:
            self.crawler.engine.close_spider(self.crawler.spider, reason)


def _header_pairs(headers: Any) -> list[tuple[bytes, bytes]]:
    """Every value of repeated headers, as bytes (Scrapy keeps them as lists)."""
    return [(bytes(name), bytes(value)) for name, values in headers.items() for value in values]
