"""The order a crawl fetches pages in: request priorities, and how many listing pages may go
ahead of articles at once.

Scrapy's scheduler takes the highest priority first, first in first out within a priority
(settings: FIFO queues). Discovery documents found on this run (robots.txt, sitemaps, feeds)
go first. The hubs the archive knows from earlier runs (home, sections, feeds and sitemaps, but
not the later pages of a listing: a bounded set) come next, ahead of the articles due again:
they are where new articles show up. For the other listing pages two needs pull apart:

- a paginated listing is a chain (each page names the next), and a chain left for the end of a
  crawl is walked one request at a time while every other slot stands idle;
- a crawl stopped early (Ctrl-C, a timeout, ``--max-pages``) should have spent its requests on
  articles, not on page 40 of every section.

So a listing page goes ahead of articles only while fewer than half of the site's request slots
are taken by listing pages that went ahead and are not answered yet; one refused goes behind
the articles, and stays there. The chains keep moving, and half of the slots or more stay with
the articles. Under a page budget, every listing page waits for the articles; with one request
at a time, none goes ahead (there is no idle slot to fill).
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


class _Slot:
    """One slot ahead, shared by every copy of the request that took it (a redirect or a retry
    copies the meta): given back by the first answer, or else when the last copy is gone, as
    when a middleware drops the request without a word (an off-site redirect, a long URL)."""

    __slots__ = ("order",)

    def __init__(self, order: ListingOrder) -> None:
        self.order: ListingOrder | None = order

    def give_back(self) -> None:
        if self.order is not None:
            self.order.ahead -= 1
            self.order = None

    def __del__(self) -> None:
        self.give_back()


class ListingOrder:
    """Counts the listing pages that went ahead of articles and are not answered yet."""

    def __init__(self, slots: int, *, budget: bool = False) -> None:
        self.slots = 0 if budget else max(0, slots)
        self.budget = budget
        self.ahead = 0

    @classmethod
    def from_settings(cls, settings: BaseSettings, *, budget: bool) -> ListingOrder:
        if budget:
            return cls(0, budget=True)
        # one site per crawl: the smaller of the two limits is the one it meets
        concurrency = min(n for n in (settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
                                      settings.getint("CONCURRENT_REQUESTS"), 1 << 16) if n > 0)
        if settings.getbool("AUTOTHROTTLE_ENABLED"):
            # AutoThrottle aims at this many requests in flight, whatever the slot allows
            target = int(settings.getfloat("AUTOTHROTTLE_TARGET_CONCURRENCY"))
            concurrency = min(concurrency, max(1, target))
        return cls(concurrency // 2)

    @property
    def known_priority(self) -> int:
        """The priority of the hubs the archive knows, a bounded set taking no slot: ahead of
        the articles due again, except under a page budget."""
        return PRIORITY_HUB if self.budget else PRIORITY_HUB_AHEAD

    @property
    def start_priority(self) -> int:
        """The start URLs' priority: the first listing pages of all, a few per crawl."""
        return self.known_priority + 1

    def claim(self, meta: dict[str, Any]) -> int:
        """The priority of a new listing page request with this ``meta``; one going ahead
        holds a slot until :meth:`release` sees its answer."""
        if self.ahead < self.slots:
            self.ahead += 1
            meta[AHEAD] = _Slot(self)
            return PRIORITY_HUB_AHEAD
        return PRIORITY_HUB

    def release(self, meta: dict[str, Any]) -> None:
        """A request was answered, failed or dropped: its slot ahead, if it held one, is free
        (once, however many copies of the request or callbacks of the page say so)."""
        slot = meta.pop(AHEAD, None)
        if slot is not None:
            slot.give_back()
