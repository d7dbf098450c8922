"""Extraction health counters: what each article page read in a crawl looked like.

Counted into the run's figures (``arsip/health/*``, kept in ``crawl_runs.stats``) and read back
by ``storage.health``, which compares them with the site's usual shares: a jump means the site
changed its layout and extraction no longer fits it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from crawler.extraction.promos import DEFAULT_LABELS, VIDEO_LABELS

if TYPE_CHECKING:
    from scrapy.statscollectors import StatsCollector

    from storage.records import ArticleRecord

# A promo line that extraction let through: a line of the text opening with a label and a
# separator ("Baca Juga: ...", "Simak juga video ..."), as the promo stripper would remove it.
_LEFT_PROMO = re.compile(
    r"^[\W_]*(?:" + "|".join(r"\s+".join(map(re.escape, label.split()))
                             for label in sorted(DEFAULT_LABELS, key=len, reverse=True))
    + r")\s*(?::|>>|»|›|–|—|-)|^[\W_]*(?:"
    + "|".join(r"\s+".join(map(re.escape, label.split())) for label in VIDEO_LABELS) + r")\b",
    re.IGNORECASE | re.MULTILINE,
)


def problems(article: ArticleRecord) -> list[str]:
    """The health problems of one extracted article (names as in ``storage.health``)."""
    found = []
    if not article.text.strip():
        found.append("empty_text")
    if article.published is None:
        found.append("no_date")
    if not (article.title or "").strip():
        found.append("no_title")
    if _LEFT_PROMO.search(article.text):
        found.append("promo_left")
    return found


def count(stats: StatsCollector | None, article: ArticleRecord | None) -> None:
    """Count one article page read: ``None`` when no text could be extracted from it."""
    if stats is None:
        return
    stats.inc_value("arsip/health/read")
    for name in problems(article) if article is not None else ["empty_text"]:
        stats.inc_value(f"arsip/health/{name}")
