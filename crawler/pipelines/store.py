"""StoragePipeline: the extracted article (or its extraction error) to the recorder, in order
after the capture it came from (see ``storage.recorder``)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from crawler import health
from crawler.context import CrawlContext, context_of
from crawler.items import PageItem
from storage.protocol import Article, ExtractionFailed
from storage.records import Fetch

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class StoragePipeline:
    """Upserts the page and stores a new article version only when the text changed."""

    def __init__(self, crawler: Crawler, ctx: CrawlContext) -> None:
        self.crawler = crawler
        self.ctx = ctx

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoragePipeline:
        return cls(crawler, context_of(crawler))

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item
        recorder, stats = self.ctx.recorder, self.crawler.stats
        health.count(stats, item.article)
        if item.article is None:
            logger.warning("No article extracted from %s: %s", item.url, item.error)
            recorder.send(ExtractionFailed(item.capture_key, item.url, item.fetched_at,
                                           item.status, item.error or "unknown error"))
            if stats:
                stats.inc_value("arsip/extraction_errors")
            return item
        since = getattr(self.crawler.spider, "since", None)
        published = item.article.published
        if since and published and _before(published, since):
            # listing pages carry no dates, so --since can only be applied once the page is read;
            # the capture stays in the WARC and the captures table either way
            if stats:
                stats.inc_value("arsip/skipped_since")
            return item
        recorder.send(Article(item.capture_key, item.url, item.article, item.fetched_at,
                              Fetch(item.status, item.etag, item.last_modified)))
        if stats:
            stats.inc_value("arsip/articles_extracted")
        return item


def _before(published: datetime | date, since: datetime) -> bool:
    if not isinstance(published, datetime):  # a date alone: the whole day counts
        return published < since.date()
    return (published if published.tzinfo else published.replace(tzinfo=UTC)) < since
