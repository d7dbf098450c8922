"""The order a crawl fetches pages in: request priorities, and how many listing pages may go
ahead of articles at once.

Scrapy's scheduler takes the highest priority first, first in first out within a priority
(settings: FIFO queues). Discovery documents (robots.txt, sitemaps, feeds) go first; then, for
listing pages, two needs pull apart:

- a paginated listing is a chain (each page names the next), and a chain left for the end of a
  crawl is walked one request at a time while every other slot stands idle;
- a crawl stopped early (Ctrl-C, a timeout, ``--max-pages``) should have spent its requests on
  articles, not on page 40 of every section.

So a listing page goes ahead of articles only while fewer than half of the site's request slots
hold listing pages that went ahead: the chains keep moving, and articles always have the other
half. With a page budget, or a crawl paced to one request at a time, no listing page goes ahead.
"""

from __future__ import annotations

from typing import Any

from scrapy.settings import BaseSettings

PRIORITY_DISCOVERY = 30
PRIORITY_HUB_AHEAD = 25
PRIORITY_ARTICLE = 20
PRIORITY_HUB = 10
PRIORITY_REQUISITE = 5

AHEAD = "arsip_ahead"  # request meta: this listing page holds one of the slots ahead


class ListingOrder:
    """Counts the listing pages that went ahead of articles and are not answered yet."""

    def __init__(self, slots: int) -> None:
        self.slots = max(0, slots)
        self.ahead = 0

    @classmethod
    def from_settings(cls, settings: BaseSettings, *, budget: bool) -> ListingOrder:
        if budget:
            return cls(0)
        concurrency = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") or \
            settings.getint("CONCURRENT_REQUESTS")
        if settings.getbool("AUTOTHROTTLE_ENABLED"):
            # AutoThrottle aims at this many requests in flight, whatever the slot allows
            target = int(settings.getfloat("AUTOTHROTTLE_TARGET_CONCURRENCY"))
            concurrency = min(concurrency, max(1, target))
        return cls(concurrency // 2)

    @property
    def start_priority(self) -> int:
        """The start URLs' priority: the first listing pages of all, a few per crawl."""
        return (PRIORITY_HUB_AHEAD if self.slots else PRIORITY_HUB) + 1

    def claim(self, meta: dict[str, Any]) -> int:
        """The priority of a new listing page request with this ``meta``; one going ahead
        holds a slot until :meth:`release` sees its answer."""
        if self.ahead < self.slots:
            self.ahead += 1
            meta[AHEAD] = True
            return PRIORITY_HUB_AHEAD
        return PRIORITY_HUB

    def release(self, meta: dict[str, Any]) -> None:
        """A request was answered, failed or dropped: its slot ahead, if it held one, is free.
        Redirects and retries copy the meta, and only the last copy is answered; a page read
        by two callbacks in turn is released once."""
        if meta.pop(AHEAD, False):
            self.ahead -= 1
