"""The state one crawl shares between its Scrapy components: config, profile, archive, run.

The spider opens it in ``from_crawler`` (Scrapy builds the spider before any middleware or
pipeline), and every arsip component reaches it through ``crawler.spider.arsip``. A component
whose crawler runs some other spider raises ``NotConfigured`` and stays out of the way.

Opening it starts the crawl's other processes first, the extraction workers and the recorder:
each spends most of a second on imports, which then overlap the database migration and Scrapy
building its engine instead of delaying the first article.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from crawler.config import CrawlConfig
from crawler.errors import UsageError
from crawler.extraction.pool import ExtractionPool
from crawler.sites import SiteProfile
from storage.archive import Archive
from storage.recorder import RecorderClient, RecorderConfig
from storage.warc import WarcWriterConfig

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


@dataclass
class CrawlContext:
    """Per-crawl state; owned by the spider, closed when the engine stops."""

    config: CrawlConfig
    profile: SiteProfile
    archive: Archive  # reads only (validators); every write goes through the recorder
    recorder: RecorderClient
    pool: ExtractionPool
    site_id: int
    run_id: int

    @classmethod
    def open(cls, config: CrawlConfig, profile: SiteProfile) -> CrawlContext:
        try:
            config.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the data folder {config.data_dir}: "
                             f"{exc.strerror}") from None
        pool = ExtractionPool(config.workers)
        recorder = RecorderClient()
        try:
            archive = Archive.open(config.db_url)
            site_id = archive.ensure_site(profile.name, profile.base_url, profile.source)
            run_id = archive.start_run(site_id, config.trigger)
        except BaseException:
            recorder.close()
            pool.shutdown()
            raise
        recorder.open(RecorderConfig(config.db_url, WarcWriterConfig(
            directory=config.warc_dir,
            prefix=config.warc_prefix,
            max_size=config.warc_max_size,
            idle_timeout=config.warc_idle_timeout,
            is_part_of=f"{profile.name}/run-{run_id}",
        ), site_id, run_id))
        return cls(config=config, profile=profile, archive=archive, recorder=recorder,
                   pool=pool, site_id=site_id, run_id=run_id)

    def close(self) -> list[tuple[Any, ...]]:
        """Stop the workers, let the recorder write out and commit; its last replies."""
        self.pool.shutdown()
        try:
            return self.recorder.close()
        finally:
            self.archive.close()


def context_of(crawler: Crawler) -> CrawlContext:
    """The arsip context of this crawl, or ``NotConfigured`` when it is not an arsip crawl."""
    ctx = getattr(crawler.spider, "arsip", None)
    if not isinstance(ctx, CrawlContext):
        raise NotConfigured("not an arsip crawl (the spider has no arsip context)")
    return ctx
