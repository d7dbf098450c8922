"""The order a crawl fetches pages in (crawler.spiders.order): articles first under a page
budget; without one, pagination chains move along with the articles, never ahead of all of them.
"""

from __future__ import annotations

from pathlib import Path

from scrapy.settings import Settings

from crawler.spiders.order import (
    PRIORITY_ARTICLE,
    PRIORITY_HUB,
    PRIORITY_HUB_AHEAD,
    ListingOrder,
)
from tests.newsite import build_site, serve
from tests.test_crawl import crawl


def _settings(**values: object) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings")
    settings.update(values)
    return settings


def test_slots_ahead_follow_the_concurrency_the_crawl_runs_at() -> None:
    # arsip's defaults: AutoThrottle aiming at 4 requests in flight
    assert ListingOrder.from_settings(_settings(), budget=False).slots == 2
    assert ListingOrder.from_settings(_settings(AUTOTHROTTLE_ENABLED=False),
                                      budget=False).slots == 4
    # one request at a time: nothing goes ahead of articles
    assert ListingOrder.from_settings(_settings(AUTOTHROTTLE_TARGET_CONCURRENCY=1.0),
                                      budget=False).slots == 0
    assert ListingOrder.from_settings(_settings(AUTOTHROTTLE_ENABLED=False),
                                      budget=True).slots == 0


def test_a_slot_ahead_is_held_until_its_answer_and_released_once() -> None:
    order = ListingOrder(2)
    metas: list[dict] = [{} for _ in range(3)]
    assert [order.claim(m) for m in metas] == [PRIORITY_HUB_AHEAD, PRIORITY_HUB_AHEAD,
                                               PRIORITY_HUB]
    assert PRIORITY_HUB < PRIORITY_ARTICLE < PRIORITY_HUB_AHEAD
    order.release(metas[2])  # never held one
    assert order.claim({}) == PRIORITY_HUB
    order.release(metas[0])
    order.release(metas[0])  # a known hub read by a second callback: released once
    assert order.ahead == 1
    assert order.claim({}) == PRIORITY_HUB_AHEAD
    assert order.claim({}) == PRIORITY_HUB


def _served(base: object, articles: set[str]) -> list[str]:
    """What the site served, in order: 'a' for an article, 'l' for a section's first listing
    page, 'p' for a later one (a link in a pagination chain)."""
    kinds = []
    for path in base.paths():  # type: ignore[attr-defined]
        if path in articles:
            kinds.append("a")
        elif path.startswith("/category/") and not path.endswith("/feed/"):
            kinds.append("p" if "/page/" in path else "l")
    return kinds


def _crawl_order(tmp_path: Path, *extra: str) -> str:
    # 4 sections of 6 to 8 listing pages each, every page naming the next
    site = build_site(n_articles=60, per_page=2)
    with serve(site) as base:
        result = crawl(base, tmp_path / "data", *extra)
        assert result.returncode == 0, result.stderr
        return "".join(_served(base, site.article_paths()))


def test_a_page_budget_goes_to_articles_first(tmp_path: Path) -> None:
    served = _crawl_order(tmp_path, "--max-pages", "30")
    # a section may take a slot no article wants while the sitemaps are read, but no crawl
    # budget goes down a pagination chain while articles wait
    assert "p" not in served and served.count("a") >= 8, served


def test_one_request_at_a_time_puts_the_known_articles_first(tmp_path: Path) -> None:
    served = _crawl_order(tmp_path, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1")
    assert served.count("a") == 60, served
    # no spare slot for a chain to use: the pagination pages wait for the articles
    assert served.index("p") >= served.count("a") * 0.8, served


def test_pagination_chains_move_along_with_the_articles(tmp_path: Path) -> None:
    # 8 requests at a time: up to 4 listing pages go ahead of articles, the rest is theirs
    served = _crawl_order(tmp_path)
    assert served.count("a") == 60 and served.count("p") >= 20, served
    # a chain left for the end of the crawl would be walked one page at a time
    assert served.index("p") < served.count("a") * 0.6, served
    # and the articles were not left for after the chains
    assert served[:served.rindex("p")].count("a") >= 30, served
