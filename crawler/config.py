"""One frozen configuration object, built once from Scrapy settings and handed down.

Nothing here is read at import time: :meth:`CrawlConfig.from_settings` resolves the ``ARSIP_*``
settings (see ``crawler/settings.py`` for their documented defaults) when a crawl starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.errors import UsageError
from storage.records import BoilerplateConfig
from storage.revisit import DEFAULT_LADDER, parse_ladder

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

DEFAULT_DATA_DIR = "arsip-data"


def resolve_data_dir(value: str | os.PathLike[str] | None) -> Path:
    """``--data-dir`` / ``ARSIP_DATA_DIR`` / ``./arsip-data``, in that order."""
    return Path(value or os.environ.get("ARSIP_DATA_DIR") or DEFAULT_DATA_DIR)


def resolve_db_url(value: str | None, data_dir: Path) -> str:
    """``--db`` / ``ARSIP_DB_URL`` / a SQLite file in the data dir, in that order."""
    url = value or os.environ.get("ARSIP_DB_URL")
    if url:
        return url
    return f"sqlite:///{(data_dir / 'arsip.db').absolute()}"


def parse_since(value: str | datetime | None) -> datetime | None:
    """Parse ``--since``: an ISO date or datetime; naive values are taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise UsageError(
                f"--since: {value!r} is not a date; use YYYY-MM-DD or an ISO 8601 datetime"
            ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ladder(text: str) -> str:
    """``ARSIP_REVISIT_LADDER``, checked (``UsageError`` says what is wrong)."""
    try:
        parse_ladder(text)
    except ValueError as exc:
        raise UsageError(f"ARSIP_REVISIT_LADDER: {exc}") from None
    return text


@dataclass(frozen=True)
class CrawlConfig:
    """Where a crawl writes and how it behaves; one per crawl."""

    data_dir: Path
    db_url: str
    warc_dir: Path
    warc_prefix: str = "arsip"
    warc_max_size: int = 1_000_000_000
    warc_idle_timeout: float = 300.0
    extract_workers: int = 0
    site: str | None = None
    site_id: int | None = None  # a registered site, by id (what the daemon's crawls use)
    since: datetime | None = None
    max_pages: int = 0
    trigger: str = "cli"
    conditional_requests: bool = True
    revisit_ladder: str = DEFAULT_LADDER
    revisit_all: bool = False
    requisites: bool = True
    wait: bool = False
    boilerplate: BoilerplateConfig = field(default_factory=BoilerplateConfig)

    @property
    def workers(self) -> int:
        return self.extract_workers or os.cpu_count() or 1

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> CrawlConfig:
        try:
            config = cls._from_settings(settings)
        except ValueError as exc:
            raise UsageError(f"a setting has a wrong value: {exc}") from None
        if config.site_id is not None and config.site_id < 0:
            raise UsageError("ARSIP_SITE_ID must be a site's id (arsip sites list --json)")
        if config.extract_workers < 0 or config.warc_max_size <= 0 or config.max_pages < 0:
            raise UsageError("ARSIP_EXTRACT_WORKERS and ARSIP_MAX_PAGES must be 0 or more, "
                             "ARSIP_WARC_MAX_SIZE more than 0")
        return config

    @classmethod
    def _from_settings(cls, settings: BaseSettings) -> CrawlConfig:
        data_dir = resolve_data_dir(settings.get("ARSIP_DATA_DIR"))
        warc_dir = settings.get("ARSIP_WARC_DIR")
        return cls(
            data_dir=data_dir,
            db_url=resolve_db_url(settings.get("ARSIP_DB_URL"), data_dir),
            warc_dir=Path(warc_dir) if warc_dir else data_dir / "warc",
            warc_prefix=settings.get("ARSIP_WARC_PREFIX", "arsip"),
            warc_max_size=settings.getint("ARSIP_WARC_MAX_SIZE", 1_000_000_000),
            warc_idle_timeout=settings.getfloat("ARSIP_WARC_IDLE_TIMEOUT", 300.0),
            extract_workers=settings.getint("ARSIP_EXTRACT_WORKERS", 0),
            site=settings.get("ARSIP_SITE") or None,
            site_id=settings.getint("ARSIP_SITE_ID", 0) or None,
            since=parse_since(settings.get("ARSIP_SINCE")),
            max_pages=settings.getint("ARSIP_MAX_PAGES", 0),
            trigger=settings.get("ARSIP_TRIGGER", "cli"),
            conditional_requests=settings.getbool("ARSIP_CONDITIONAL_REQUESTS", True),
            revisit_ladder=_ladder(settings.get("ARSIP_REVISIT_LADDER") or DEFAULT_LADDER),
            revisit_all=settings.getbool("ARSIP_REVISIT_ALL", False),
            requisites=settings.getbool("ARSIP_REQUISITES", True),
            wait=settings.getbool("ARSIP_WAIT", False),
            boilerplate=BoilerplateConfig(
                enabled=settings.getbool("ARSIP_BOILERPLATE", True),
                min_pages=settings.getint("ARSIP_BOILERPLATE_MIN_PAGES", 20),
                share=settings.getfloat("ARSIP_BOILERPLATE_SHARE", 0.3),
            ),
        )
