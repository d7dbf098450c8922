"""The state one crawl shares between its Scrapy components: config, profile, run, processes.

The spider opens it in ``from_crawler`` (Scrapy builds the spider before any middleware or
pipeline), and every arsip component reaches it through ``crawler.spider.arsip``. A component
whose crawler runs some other spider raises ``NotConfigured`` and stays out of the way.

Opening it starts the crawl's other processes, the extraction workers and the recorder, and asks
the recorder to open the archive and start the run. Each spends most of a second on imports,
which then overlap Scrapy building its engine; the crawl process itself loads no database code
unless a re-crawl has validators to look up. The spider waits for the run (``poll_opened``)
before its first request, so nothing is fetched that could not be archived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from crawler.config import CrawlConfig
from crawler.errors import UsageError
from crawler.extraction.pool import ExtractionPool
from crawler.sites import SiteProfile
from storage.recorder import Opened, RecorderClient, RecorderConfig
from storage.revisit import RevisitPlan, RevisitPolicy, load_plan
from storage.warc import WarcWriterConfig

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from storage.archive import Archive


@dataclass
class CrawlContext:
    """Per-crawl state; owned by the spider, closed when the engine stops."""

    config: CrawlConfig
    profile: SiteProfile
    recorder: RecorderClient  # every database and WARC write goes through it
    pool: ExtractionPool
    # what this run fetches of what the archive knows (set once the run is open)
    revisits: RevisitPlan = field(default_factory=RevisitPlan)
    _reader: Archive | None = field(default=None, repr=False)

    @classmethod
    def open(cls, config: CrawlConfig, profile: SiteProfile) -> CrawlContext:
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
            profile=profile.stored,
            trigger=config.trigger,
            revisit_ladder=config.revisit_ladder,
        ))
        return cls(config=config, profile=profile, recorder=recorder, pool=pool)

    def poll_opened(self) -> Opened | None:
        """The run once the recorder has opened it, else None; ``StorageError`` if it could
        not open the archive."""
        return self.recorder.poll_opened()

    @property
    def run(self) -> Opened | None:
        """The run, once the recorder has opened it."""
        return self.recorder.run

    def load_plan(self) -> RevisitPlan:
        """The run's revisit plan: the site's hubs and known articles (none on a first crawl)."""
        run = self.run
        if run is None or not run.revalidate:
            return RevisitPlan(revisit_all=self.config.revisit_all)
        if self._reader is None:
            from storage.archive import Archive  # only a re-crawl pays for the database code

            self._reader = Archive.open(self.config.db_url, migrated=True)
        return load_plan(self._reader, run.site_id,
                         RevisitPolicy.from_text(self.config.revisit_ladder),
                         revisit_all=self.config.revisit_all)

    def close(self) -> list[tuple[Any, ...]]:
        """Stop the workers, let the recorder write out and commit; its last replies."""
        self.pool.shutdown()
        try:
            return self.recorder.close()
        finally:
            if self._reader is not None:
                self._reader.close()


def context_of(crawler: Crawler) -> CrawlContext:
    """The arsip context of this crawl, or ``NotConfigured`` when it is not an arsip crawl."""
    ctx = getattr(crawler.spider, "arsip", None)
    if not isinstance(ctx, CrawlContext):
        raise NotConfigured("not an arsip crawl (the spider has no arsip context)")
    return ctx
