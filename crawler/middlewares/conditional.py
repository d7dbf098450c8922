"""ConditionalRequestMiddleware: ask for an article only if it changed since the last capture.

Sends ``If-None-Match`` / ``If-Modified-Since`` from what the archive knows about the URL, and
lets the 304 reach the spider (which records it; the WARC middleware archives it as a
server-not-modified revisit). Listing pages and discovery documents are always fetched whole.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.exceptions import NotConfigured

from crawler.context import CrawlContext, context_of
from storage.errors import StorageError

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class ConditionalRequestMiddleware:
    """Adds validators to article requests the archive has seen before."""

    def __init__(self, ctx: CrawlContext) -> None:
        self.ctx = ctx
        self.broken = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        ctx = context_of(crawler)
        if not ctx.config.conditional_requests:
            raise NotConfigured
        return cls(ctx)

    def process_request(self, request: Request) -> None:
        validated = request.meta.get("arsip_validated")
        if validated is not None and validated != request.url:
            # a redirect copied the headers: these validators belong to the URL before it
            for name in (b"If-None-Match", b"If-Modified-Since"):
                request.headers.pop(name, None)
            del request.meta["arsip_validated"]
        # the spider waits for the run before its first request; a first crawl of a site has
        # nothing to revalidate and skips the lookup per request
        run = self.ctx.run
        if (run is None or not run.revalidate or self.broken
                or not request.meta.get("arsip_article")
                or b"If-None-Match" in request.headers):
            return
        try:
            known = self.ctx.validators(request.url)
        except StorageError as exc:
            # the archive cannot be read: fetch pages whole (the recorder, which writes to the
            # same database, stops the crawl if it cannot write either)
            logger.warning("Not sending conditional requests: %s", exc)
            self.broken = True
            return
        if not known:
            return
        etag, last_modified = known
        if etag:
            request.headers[b"If-None-Match"] = etag
        if last_modified:
            request.headers[b"If-Modified-Since"] = last_modified
        if etag or last_modified:
            request.meta["arsip_validated"] = request.url
            request.meta["handle_httpstatus_list"] = [
                *request.meta.get("handle_httpstatus_list", []), 304
            ]
