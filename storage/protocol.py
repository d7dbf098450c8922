"""What a crawl process and its recorder say to each other: one frozen dataclass per kind.

The crawl process fetches; the recorder process (``storage.recorder``) owns the WARC file and the
database. They share one ``multiprocessing`` pipe. Messages travel in order, which is what links
an article to its capture: a ``Capture`` carries a key, and the ``Article`` read from that page
later carries the same key.

The crawl sends (``ToRecorder``):

- ``Open`` first and once: where to record, which site, who owns the run. The recorder opens the
  archive, takes the site's run lock and answers ``Opened`` (or ``Fatal``).
- ``Capture`` per HTTP exchange, ``Article`` / ``ExtractionFailed`` per article page read,
  ``FetchNoted`` per page that yields no article (hubs, 304s).
- ``Finish`` once, with the run's outcome and figures; then ``Close``. A ``Close`` with no
  ``Finish`` before it records the run as ``interrupted``; a pipe that breaks with no ``Close``
  (the crawl process died) records it as ``killed``.

The recorder answers (``FromRecorder``), and the crawl process has exactly one reader of these
(``RecorderClient.pump``; in a crawl, ``crawler.runtime.CrawlRuntime`` calls it):

- ``Opened`` once, with the run; ``Fatal`` when it cannot go on (the crawl must stop: nothing may
  be fetched that cannot be archived); ``Note`` for something the user should read; ``Closed``
  last, with the recorder's counters.

To add a message kind: define its dataclass here (frozen, slots, picklable fields only), add it to
``ToRecorder`` or ``FromRecorder``, and give it a ``case`` in ``Recorder.handle`` or
``RecorderClient._take``. Both end in a ``case _`` that raises, and
``tests/test_recorder.py::test_every_message_kind_has_a_handler`` fails until you do.

Nothing here imports Scrapy or the crawler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.records import ArticleRecord, BoilerplateConfig, Fetch, RunOwner
from storage.revisit import DEFAULT_LADDER, RevisitPlan
from storage.warc import Exchange, WarcWriterConfig

# --- crawl -> recorder ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    """Where and what to record."""

    db_url: str
    warc: WarcWriterConfig
    # the site: a registered one by this name, else the one this base URL belongs to, else a
    # new one (``storage.sites.resolve_for_crawl``); ``base_url`` is empty for a crawl that
    # named a registered site only
    site: str
    base_url: str
    owner: RunOwner
    # a registered site by id (the daemon's crawls), or by the name the crawl was given: the
    # registry wins over a profile of that name
    site_id: int | None = None
    named: str | None = None
    profile: str | None = None  # as ``sites.profile`` keeps it: a bundled name or TOML text
    trigger: str = "cli"
    revisit_ladder: str = DEFAULT_LADDER  # when articles are due again (storage.revisit)
    revisit_all: bool = False  # ask for every known article, due or not
    wait: bool = False  # wait for a live run of the site to end, rather than fail
    # when the site's boilerplate lines are learned and stripped (storage.boilerplate)
    boilerplate: BoilerplateConfig = field(default_factory=BoilerplateConfig)
    # the Scrapyd job running the crawl (its SCRAPY_JOB), kept in the run's figures as
    # ``arsip/job``: the daemon finds its node crawl's run by it (scheduler.nodes)
    job: str | None = None


# the run's figure naming the Scrapyd job that ran it (``RecorderConfig.job``)
JOB_STAT = "arsip/job"


@dataclass(frozen=True, slots=True)
class Open:
    """Open the archive, register the site and start its run (first message, once)."""

    config: RecorderConfig


@dataclass(frozen=True, slots=True)
class Capture:
    """One HTTP exchange as received; ``key`` names it for the article read from it."""

    key: int
    exchange: Exchange


@dataclass(frozen=True, slots=True)
class Article:
    """An article read from the capture named ``key`` (None: no capture of its own)."""

    key: int | None
    url: str
    article: ArticleRecord
    fetched_at: datetime
    fetch: Fetch


@dataclass(frozen=True, slots=True)
class ExtractionFailed:
    """An article page that yielded no article: kept with its capture and the error."""

    key: int | None
    url: str
    fetched_at: datetime
    status: int
    error: str


@dataclass(frozen=True, slots=True)
class FetchNoted:
    """A page fetched that yields no article (a hub, a 304): its status and fetch time."""

    url: str
    kind: str
    fetched_at: datetime
    status: int


@dataclass(frozen=True, slots=True)
class Finish:
    """The run's outcome (``finished``, ``interrupted``, ``disk_full``, ...) and figures."""

    outcome: str
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Close:
    """Write out everything sent, commit, close the WARC file, answer ``Closed`` and exit."""


ToRecorder = Open | Capture | Article | ExtractionFailed | FetchNoted | Finish | Close

# --- recorder -> crawl ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    """The archive is open and the run started: the crawl may fetch."""

    site_id: int
    run_id: int
    revalidate: bool  # the site's pages carry validators: a re-crawl can send conditional GETs
    site: str = ""  # the site as the archive knows it: its name, base URL, stored profile
    base_url: str = ""
    profile: str | None = None
    recrawl: bool = False  # an earlier run of the site captured something
    # the crawl named a registered site (by id or name): crawl it with its stored profile
    registered: bool = False
    plan: RevisitPlan = field(default_factory=RevisitPlan)  # what this run fetches


@dataclass(frozen=True, slots=True)
class Fatal:
    """The recorder cannot go on; ``outcome`` is what the run is recorded as."""

    message: str
    outcome: str = "failed"
    detail: str = ""  # for the crawl's log file (a traceback, for an error nobody expected)


@dataclass(frozen=True, slots=True)
class Note:
    """Something the user should read (a WARC file recovered, ...)."""

    message: str


@dataclass(frozen=True, slots=True)
class Closed:
    """The recorder's last word: its counters (articles stored, WARC records by type)."""

    counts: dict[str, int] = field(default_factory=dict)


FromRecorder = Opened | Fatal | Note | Closed
