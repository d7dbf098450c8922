"""What the spider hands the pipelines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.records import ArticleRecord


@dataclass
class PageItem:
    """An article page as fetched; the pipelines fill in ``article`` or ``error``."""

    url: str
    html: str
    fetched_at: datetime
    capture_key: int | None
    status: int = 200
    want_links: bool = False
    etag: str | None = None
    last_modified: str | None = None
    article: ArticleRecord | None = None
    error: str | None = None
