"""ConditionalRequestMiddleware: ask for an article only if it changed since the last capture.

Sends ``If-None-Match`` / ``If-Modified-Since`` from what the archive knows about the URL (the
run's revisit plan, ``storage.revisit``, read once when the run opens), and lets the 304 reach the
spider (which records it; the WARC middleware archives it as a
server-not-modified revisit). Listing pages and discovery documents are always fetched whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.exceptions import NotConfigured

from crawler.context import CrawlContext, context_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class ConditionalRequestMiddleware:
    """Adds validators to article requests the archive has seen before."""

    def __init__(self, ctx: CrawlContext) -> None:
        self.ctx = ctx

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
        if b"If-None-Match" in request.headers:
            return
        # the run's plan holds the validators of every article the archive knows (a link that
        # looked like a listing and redirected to a known article is asked conditionally too);
        # hubs are never in it: they are fetched whole, to be read on every run
        known = self.ctx.revisits.validators(request.url)
        if known and ask_conditionally(request, *known):
            request.meta["arsip_validated"] = request.url


def ask_conditionally(request: Request, etag: str | None, last_modified: str | None) -> bool:
    """Send the validators with ``request``, and let its 304 reach the spider; whether there
    was one to send."""
    if etag:
        request.headers[b"If-None-Match"] = etag
    if last_modified:
        request.headers[b"If-Modified-Since"] = last_modified
    if not (etag or last_modified):
        return False
    request.meta["handle_httpstatus_list"] = [
        *request.meta.get("handle_httpstatus_list", []), 304]
    return True
