"""The state one crawl shares between its Scrapy components: config, profile, runtime, helpers.

The spider opens it in ``from_crawler`` (Scrapy builds the spider before any middleware or
pipeline), and every arsip component reaches it through ``crawler.spider.arsip``. A component
whose crawler runs some other spider raises ``NotConfigured`` and stays out of the way.

Opening it starts the crawl's helper processes, the recorder and (when the crawl will extract
articles) the extraction workers, and asks the recorder to open the archive and start the run.
Each spends most of a second on imports, which then overlap Scrapy building its engine. The
recorder answers with the run, the site as the archive knows it and the run's revisit plan
(``storage.revisit``), so the crawl process itself never loads database code. The spider waits
for the run (``CrawlRuntime.until_opened``) before its first request, so nothing is fetched that
could not be archived.

A re-crawl of an unchanged site extracts nothing (its articles answer 304 or are not due), so
its workers start only when the first page to extract arrives: starting them costs a second of
CPU each, which a daemon would pay on every run of every site.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
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
from storage.revisit import RevisitPlan
from storage.warc import WarcWriterConfig

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


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
    # what this run fetches of what the archive knows (from the recorder, once the run is open)
    revisits: RevisitPlan = field(default_factory=RevisitPlan)

    @classmethod
    def open(cls, config: CrawlConfig, profile: SiteProfile, runtime: CrawlRuntime,
             named: str | None = None, job: str | None = None) -> CrawlContext:
        """``named``: the site the crawl was asked for by name (``--site``), which the
        recorder looks up in the registry before anything else. ``job``: the Scrapyd job
        running the crawl, recorded with its run."""
        try:
            config.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the data folder {config.data_dir}: "
                             f"{exc.strerror}") from None
        # a new archive means a first crawl: warm the workers up at once (else see the docs)
        pool = ExtractionPool(config.workers, start=_new_archive(config.db_url))
        recorder = RecorderClient()
        named_node = {} if config.node is None else {"hostname": config.node}
        recorder.open(RecorderConfig(
            db_url=config.db_url,
            warc=WarcWriterConfig(
                directory=config.warc_dir,
                prefix=config.warc_prefix,
                max_size=config.warc_max_size,
                idle_timeout=config.warc_idle_timeout,
                **named_node,
            ),
            site=profile.name,
            base_url=profile.base_url,
            site_id=config.site_id,
            named=named,
            owner=this_process(),
            profile=profile.stored,
            trigger=config.trigger,
            revisit_ladder=config.revisit_ladder,
            revisit_all=config.revisit_all,
            wait=config.wait,
            boilerplate=config.boilerplate,
            job=job,
        ))
        return cls(config=config, profile=profile, runtime=runtime, recorder=recorder,
                   pool=pool)

    @property
    def run(self) -> Opened | None:
        """The run, once the recorder has opened it."""
        return self.recorder.run

    def close(self, *, drop_pending: bool = False) -> None:
        """Stop the workers, let the recorder write out and commit (once); what it said last
        is kept in ``last_replies``."""
        if self.closed:
            return
        self.closed = True
        self.pool.shutdown(wait=not drop_pending)
        self.last_replies = self.recorder.close()


def _new_archive(db_url: str) -> bool:
    """Whether the archive is a SQLite file that does not exist yet (a first crawl for sure)."""
    return db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///")).exists()


def context_of(crawler: Crawler) -> CrawlContext:
    """The arsip context of this crawl, or ``NotConfigured`` when it is not an arsip crawl."""
    ctx = getattr(crawler.spider, "arsip", None)
    if not isinstance(ctx, CrawlContext):
        raise NotConfigured("not an arsip crawl (the spider has no arsip context)")
    return ctx
