"""The order a crawl fetches pages in (crawler.spiders.order): articles first under a page
budget; without one, pagination chains move along with the articles, never ahead of all of them.
"""

from __future__ import annotations

import gc
from pathlib import Path
from types import SimpleNamespace

from scrapy import Request
from scrapy.http import HtmlResponse, XmlResponse
from scrapy.settings import Settings

from crawler.sites import default_profile
from crawler.spiders.news import NewsSpider
from crawler.spiders.order import (
    PRIORITY_ARTICLE,
    PRIORITY_HUB,
    PRIORITY_HUB_AHEAD,
    ListingOrder,
)
from storage.revisit import RevisitPlan
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
    assert ListingOrder.from_settings(_settings(AUTOTHROTTLE_ENABLED=False, CONCURRENT_REQUESTS=2),
                                      budget=False).slots == 1
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
    redirected = dict(metas[0])  # a redirect or a retry copies the meta
    order.release(redirected)
    order.release(metas[0])  # the copies share one slot: given back once
    order.release(redirected)
    assert order.ahead == 1
    later = [{}, {}]  # requests waiting in the scheduler: their meta lives on
    assert [order.claim(m) for m in later] == [PRIORITY_HUB_AHEAD, PRIORITY_HUB]
    assert order.ahead == 2


def test_a_request_dropped_without_a_word_gives_its_slot_back() -> None:
    # an off-site redirect or an overlong URL: no callback, errback or signal ever sees it
    order = ListingOrder(1)
    meta: dict = {}
    assert order.claim(meta) == PRIORITY_HUB_AHEAD
    copy = dict(meta)
    del meta
    assert order.claim({}) == PRIORITY_HUB  # a copy still lives
    del copy
    gc.collect()
    assert order.ahead == 0
    assert order.claim({}) == PRIORITY_HUB_AHEAD


def test_known_hubs_go_ahead_of_articles_except_under_a_budget() -> None:
    assert ListingOrder(0).known_priority == PRIORITY_HUB_AHEAD > PRIORITY_ARTICLE
    assert ListingOrder(0).start_priority > PRIORITY_ARTICLE
    assert ListingOrder(4, budget=True).known_priority == PRIORITY_HUB < PRIORITY_ARTICLE
    assert ListingOrder(4, budget=True).slots == 0


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
    assert served[:served.rindex("p")].count("a") >= 15, served


def test_a_recrawl_reads_the_hubs_it_knows_before_the_articles_due(tmp_path: Path) -> None:
    site = build_site(n_articles=60, per_page=2)
    sections = {f"/category/{name}/" for name in ("nasional", "internasional", "ekonomi",
                                                   "teknologi")}
    discovery = {"/news-sitemap.xml", "/feed/"}
    articles = site.article_paths()
    with serve(site) as base:
        assert crawl(base, tmp_path / "data").returncode == 0
        first = len(base.paths())
        # every article due again, two requests at a time: one slot for listing pages ahead
        again = crawl(base, tmp_path / "data", "-s", "ARSIP_REVISIT_ALL=True",
                      "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2")
        assert again.returncode == 0, again.stderr
        served = base.paths()[first:]
    seen = [path for path in served if path in articles]
    assert len(seen) >= 55, served
    tenth = served.index(seen[9])
    # the sections, the news sitemap and the feed: where new articles show up
    assert (sections | discovery) <= set(served[:tenth]), served


BASE = "https://example.test"


def _bare_spider(*hubs: str) -> NewsSpider:
    """The spider as a re-crawl of BASE has it once start() ran: no crawler, one slot ahead."""
    spider = NewsSpider()
    spider.scheduled, spider.not_due = set(), set()
    spider.profile = default_profile(BASE + "/")
    spider.plan = RevisitPlan(hubs=hubs)
    spider.since = None
    spider.order = ListingOrder(1)
    return spider


def test_a_known_hub_linked_before_start_reaches_it_still_goes_ahead() -> None:
    # the first page is answered and parsed while start() is still yielding: its links to the
    # hubs the archive knows (in the stored form: host lower-cased, path percent-encoded) keep
    # their place ahead of the articles for want of a slot, and a sitemap linked by <a href>
    # is read as a sitemap
    base = BASE
    spider = _bare_spider(f"{base}/category/nasional/", f"{base}/sitemap_index.xml",
                          f"{base}/category/%C3%A9konomi/", f"{base}/category/bola/")
    held: dict = {}
    assert spider.order.claim(held) == PRIORITY_HUB_AHEAD  # the one slot is taken
    page = HtmlResponse(base + "/", body=b"<html></html>", encoding="utf-8")
    links = ["/category/nasional/", "https://EXAMPLE.test/sitemap_index.xml",
             "/category/\u00e9konomi/", "https://example.test:443/category/bola/",
             "/category/nasional/page/2/"]
    requests = {r.url: r for r in spider._follow(page, links)}
    known = [requests[f"{base}/category/nasional/"], requests[f"{base}/sitemap_index.xml"],
             requests[f"{base}/category/%C3%A9konomi/"], requests[f"{base}:443/category/bola/"]]
    assert [r.priority for r in known] == [PRIORITY_HUB_AHEAD] * 4
    assert all(r.callback == spider.parse_known_hub for r in known)
    assert requests[f"{base}/category/nasional/page/2/"].priority == PRIORITY_HUB < PRIORITY_ARTICLE
    assert spider.order.ahead == 1
    # under --max-pages, articles first: known hubs too
    spider.order = ListingOrder(0, budget=True)
    spider.scheduled.clear()
    assert {r.priority for r in spider._follow(page, links)} == {PRIORITY_HUB}


def test_a_known_sitemap_with_a_byte_order_mark_is_read_as_a_sitemap() -> None:
    base = BASE
    spider = _bare_spider(f"{base}/sitemap.xml")
    noted: list = []
    spider.arsip = SimpleNamespace(recorder=SimpleNamespace(send=noted.append))
    body = ("\ufeff<?xml version='1.0' encoding='UTF-8'?>"
            "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<url><loc>{base}/2025/04/01/judul-berita/</loc></url></urlset>").encode()
    request = Request(f"{base}/sitemap.xml", meta={})
    response = XmlResponse(request.url, body=body, request=request)
    found = [r.url for r in spider.parse_known_hub(response)]
    assert found == [f"{base}/2025/04/01/judul-berita/"]
    assert [n.kind for n in noted] == ["hub"]
