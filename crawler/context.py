"""The state one crawl shares between its Scrapy components: config, profile, runtime, helpers.

The spider opens it in ``from_crawler`` (Scrapy builds the spider before any middleware or
pipeline), and every arsip component reaches it through ``crawler.spider.arsip``. A component
whose crawler runs some other spider raises ``NotConfigured`` and stays out of the way.

Opening it starts the crawl's helper processes, the extraction workers and the recorder, and asks
the recorder to open the archive and start the run. Each spends most of a second on imports,
which then overlap Scrapy building its engine; the crawl process itself loads no database code
unless a re-crawl has validators to look up. The spider waits for the run
(``CrawlRuntime.until_opened``) before its first request, so nothing is fetched that could not
be archived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured

from crawler.config import CrawlConfig
from crawler.errors import UsageError
from crawler.extraction.pool import ExtractionPool
from crawler.runtime import CrawlRuntime
from crawler.sites import SiteProfile
from storage.liveness import this_process
from storage.protocol import FromRecorder, Opened, RecorderConfig
from storage.recorder import RecorderClient
from storage.warc import WarcWriterConfig

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from storage.archive import Archive


@dataclass
class CrawlContext:
    """Per-crawl state; owned by the spider, closed by the runtime when the crawl ends."""

    config: CrawlConfig
    profile: SiteProfile
    runtime: CrawlRuntime
    recorder: RecorderClient  # every database and WARC write goes through it
    pool: ExtractionPool
    closed: bool = False
    last_replies: list[FromRecorder] = field(default_factory=list)
    _reader: Archive | None = field(default=None, repr=False)

    @classmethod
    def open(cls, config: CrawlConfig, profile: SiteProfile,
             runtime: CrawlRuntime) -> CrawlContext:
        try:
            config.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the data folder {config.data_dir}: "
                             f"{exc.strerror}") from None
        pool = ExtractionPool(config.workers)
        recorder = RecorderClient()
        recorder.open(RecorderConfig(
            db_url=config.db_url,
            warc=WarcWriterConfig(
                directory=config.warc_dir,
                prefix=config.warc_prefix,
                max_size=config.warc_max_size,
                idle_timeout=config.warc_idle_timeout,
            ),
            site=profile.name,
            base_url=profile.base_url,
            owner=this_process(),
            profile=profile.source,
            trigger=config.trigger,
        ))
        return cls(config=config, profile=profile, runtime=runtime, recorder=recorder,
                   pool=pool)

    @property
    def run(self) -> Opened | None:
        """The run, once the recorder has opened it."""
        return self.recorder.run

    def validators(self, url: str) -> tuple[str | None, str | None] | None:
        """``(etag, last_modified)`` the archive holds for ``url`` (a re-crawl's lookups)."""
        if self._reader is None:
            from storage.archive import Archive  # only a re-crawl pays for the database code

            self._reader = Archive.open(self.config.db_url, migrated=True)
        return self._reader.validators(url)

    def close(self, *, drop_pending: bool = False) -> None:
        """Stop the workers, let the recorder write out and commit (once); what it said last
        is kept in ``last_replies``."""
        if self.closed:
            return
        self.closed = True
        self.pool.shutdown(wait=not drop_pending)
        try:
            self.last_replies = self.recorder.close()
        finally:
            if self._reader is not None:
                self._reader.close()


def context_of(crawler: Crawler) -> CrawlContext:
    """The arsip context of this crawl, or ``NotConfigured`` when it is not an arsip crawl."""
    ctx = getattr(crawler.spider, "arsip", None)
    if not isinstance(ctx, CrawlContext):
        raise NotConfigured("not an arsip crawl (the spider has no arsip context)")
    return ctx
