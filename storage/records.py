"""Plain records passed between the crawler and storage (storage never imports the crawler)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class WarcLocation:
    """Where one WARC record lives: file name (relative to the WARC folder), offset, length."""

    warc_file: str
    offset: int
    length: int
    record_id: str


@dataclass(frozen=True)
class CaptureRecord:
    """One fetch as written to WARC; a row of the ``captures`` archive index."""

    url: str
    fetched_at: datetime
    status: int
    mime: str | None
    payload_digest: str | None
    location: WarcLocation
    record_type: str = "response"
    refers_to: str | None = None
    run_id: int | None = None


@dataclass(frozen=True)
class RelatedLink:
    """A promo link stripped from an article body: kept, not thrown away."""

    title: str
    url: str


@dataclass(frozen=True)
class ArticleRecord:
    """The clean article as storage keeps it (one ``article_versions`` row)."""

    url: str
    title: str | None
    text: str
    authors: tuple[str, ...] = ()
    # a datetime (tz-aware when the page says its zone), or a date when the page gives no time
    published: datetime | date | None = None
    updated: datetime | date | None = None
    language: str | None = None
    section: str | None = None
    tags: tuple[str, ...] = ()
    canonical_url: str | None = None
    site_name: str | None = None
    description: str | None = None
    related: tuple[RelatedLink, ...] = field(default=())


@dataclass(frozen=True)
class Fetch:
    """What an HTTP answer says about a page: status and validators."""

    status: int
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class RunOwner:
    """The process a crawl run belongs to: what a later process checks to tell a live run from
    a dead one (``storage.liveness``)."""

    pid: int
    host: str
    identity: str | None = None  # BOOT_ID:START_TICKS/PID_NAMESPACE where the kernel tells it


@dataclass(frozen=True)
class BoilerplateConfig:
    """When a site's boilerplate lines are learned (see ``storage.boilerplate``)."""

    enabled: bool = True
    min_pages: int = 20  # articles of a site counted before any line is judged
    share: float = 0.3  # learned when on at least this share of the site's recent articles

    def __post_init__(self) -> None:
        if self.min_pages < 1 or not 0 < self.share <= 1:
            raise ValueError("the boilerplate minimum must be 1 or more and the share in (0, 1]")
