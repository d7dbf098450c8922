"""NewsSpider: one generic spider for every news site, driven by a site profile.

    scrapy crawl news -a url=https://kudakyv.com/
    scrapy crawl news -a site=kudakyv -a since=2025-04-01

Discovery runs robots.txt -> sitemap indexes and sitemaps (gzip, news) -> RSS/Atom feeds ->
listing pages and their pagination. Article pages become ``PageItem``s for the pipelines; every
response, article or not, has already been written to WARC by ``WarcCaptureMiddleware``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.python.failure import Failure

from crawler.config import CrawlConfig, parse_since
from crawler.context import CrawlContext
from crawler.discovery import (
    Link,
    MalformedDocumentError,
    looks_like_article,
    looks_like_hub,
    page_kind,
    parse_feed,
    parse_sitemap,
    same_site,
    should_skip,
)
from crawler.errors import ArsipError, ProfileError, UsageError
from crawler.items import PageItem
from crawler.requisites import MAX_CSS_DEPTH, css_requisites, host_allowed, host_of, page_requisites
from crawler.runtime import CrawlRuntime
from crawler.sites import (
    SiteProfile,
    default_profile,
    is_profile_path,
    load_profile,
    stored_profile,
)
from crawler.spiders.order import (
    PRIORITY_ARTICLE,
    PRIORITY_DISCOVERY,
    PRIORITY_HUB,
    PRIORITY_REQUISITE,
    ListingOrder,
)
from storage.errors import StorageError
from storage.protocol import FetchNoted, Opened
from storage.revisit import RevisitPlan

logger = logging.getLogger(__name__)


_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
_OG_TYPE = re.compile(
    r"""<meta[^>]+property=["']og:type["'][^>]*content=["']([^"']*)|"""
    r"""<meta[^>]+content=["']([^"']*)["'][^>]*property=["']og:type""",
    re.IGNORECASE,
)
_HEAD_BYTES = 200_000  # og:type lives in <head>; never scan a huge body for it


def _profile_for(config: CrawlConfig, site: str | None, urls: tuple[str, ...]
                 ) -> tuple[SiteProfile, bool]:
    """How to crawl, and whether the crawl chose it (a profile file given by its path).

    A site named (``--site NAME``) may be registered with ``arsip sites add``; only the
    recorder can tell, and a registered site is crawled as the registry says (its stored
    profile and base URL), whatever profile of that name the data dir or arsip holds. The
    profile loaded here is what a name that is not registered means. A site given by its id
    (the daemon's crawls) is always the registered one.
    """
    if config.site_id is not None:
        return SiteProfile(name="", base_url="", start_urls=urls), False
    name = site or config.site
    if name:
        try:
            profile = load_profile(name, (config.data_dir / "sites",))
        except ProfileError:
            return SiteProfile(name=name, base_url="", start_urls=urls), False
        return (profile.with_start_urls(urls) if urls else profile), is_profile_path(name)
    if not urls:
        raise UsageError("give a start URL (-a url=https://site/) or a site profile (-a site=NAME)")
    return default_profile(urls[0]).with_start_urls(urls), False


class _SaidAlready(logging.Filter):
    """Drops the records that log ``exc`` again, with its traceback."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and record.exc_info[1] is self.exc)


def said_already(exc: BaseException) -> None:
    """``exc`` has been reported in one line: where Scrapy's event loop (asyncio, or Twisted's
    log of an unhandled error) would log it again with its traceback, it is not."""
    for name in ("asyncio", "twisted", "scrapy.crawler", "scrapy.utils.signal"):
        logging.getLogger(name).addFilter(_SaidAlready(exc))


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(
        self,
        *args: Any,
        url: str | None = None,
        urls: str | None = None,
        site: str | None = None,
        since: str | None = None,
        runtime: CrawlRuntime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.start_url_args = tuple(u for u in [url, *(urls or "").split(",")] if u)
        self.site_arg = site
        self.since_arg = since
        # ``arsip crawl`` passes the runtime it built first thing; ``scrapy crawl`` gets one here
        self.runtime_arg = runtime

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider: NewsSpider = super().from_crawler(crawler, *args, **kwargs)
        try:
            return cls._set_up(spider, crawler)
        except (ArsipError, StorageError) as exc:
            if spider.runtime_arg is None:
                # outside ``arsip crawl`` (``scrapy crawl``, a Scrapyd job) nobody else reads
                # this error: one line in the log, not the traceback of a task nobody awaited
                logger.critical("Error: %s", exc)
                said_already(exc)
            raise

    @staticmethod
    def _set_up(spider: NewsSpider, crawler: Crawler) -> NewsSpider:
        config = CrawlConfig.from_settings(crawler.settings)
        profile, spider.chosen_profile = _profile_for(config, spider.site_arg,
                                                      spider.start_url_args)
        spider.since = parse_since(spider.since_arg) or config.since
        spider.profile = profile
        # a registered site named alone gets its domains once the recorder has found it
        spider.allowed_domains = list(profile.domains) if profile.base_url else []
        runtime = spider.runtime_arg or CrawlRuntime()
        # which arsip runs, in the log: on a crawl node, the egg deployed or an installed copy
        logger.info("arsip code from %s", __file__.rsplit("/crawler/", 1)[0])
        # a Scrapyd job: its id comes as the spider argument ``_job`` (older Scrapyd: in the
        # environment), and the run keeps it so that the daemon finds the job's run by it
        job = getattr(spider, "_job", None) or os.environ.get("SCRAPY_JOB") or None
        spider.arsip = CrawlContext.open(config, profile, runtime,
                                         named=spider.site_arg or config.site, job=job)
        runtime.attach(crawler, spider.arsip)
        spider.scheduled = set()
        spider.not_due = set()  # hashes of known articles this run leaves alone
        spider.plan = RevisitPlan()  # until the run is open
        spider.order = ListingOrder.from_settings(crawler.settings, budget=bool(config.max_pages))
        crawler.signals.connect(spider._dropped, signal=signals.request_dropped)
        return spider

    # --- discovery ------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        # nothing is fetched before the archive is open and the run started (a migration can
        # be long, and the reactor keeps running meanwhile); a crawl stopped first, or one whose
        # archive could not be opened, fetches nothing at all
        if not await maybe_deferred_to_future(self.arsip.runtime.until_opened()):
            return
        opened = self.arsip.run
        assert opened is not None
        self._adopt(opened)
        profile = self.profile
        if self.crawler.settings.getbool("ROBOTSTXT_OBEY"):
            # RobotsTxtMiddleware fetches (and we archive) robots.txt anyway: read its Sitemap
            # lines from the parsed file rather than fetching it a second time
            self.crawler.signals.connect(self._robots_parsed, signal=signals.robots_parsed)
        else:
            yield self._request(urljoin(profile.base_url, "/robots.txt"), self.parse_robots,
                                PRIORITY_DISCOVERY, dont_obey_robotstxt=True)
        for url in profile.sitemaps:
            yield self._request(url, self.parse_sitemap, PRIORITY_DISCOVERY)
        for url in profile.feeds:
            yield self._request(url, self.parse_feed, PRIORITY_DISCOVERY)
        for url in profile.start_urls:
            self._first_time(url)
            yield self._request(url, self.parse_page, self.order.start_priority, start=True)
        # every hub the site has shown before, whatever this run's discovery finds
        for url in self.plan.hubs:
            if self._first_time(url):
                yield self._request(url, self.parse_known_hub, self.order.known_priority)
        # and the articles whose turn has come, even if no listing shows them any more
        for url in self.plan.due:
            if self._first_time(url):
                self._count("arsip/revisits_due")
                yield self._request(url, self.parse_page, PRIORITY_ARTICLE, article=True)

    def _adopt(self, opened: Opened) -> None:
        """Crawl the site as the archive knows it (``storage.sites``): under its registered
        name, with its stored profile unless this crawl chose a profile itself; and take the
        run's revisit plan."""
        if opened.registered or not self.chosen_profile:
            profile = self.profile
            try:
                if opened.profile:
                    profile = stored_profile(opened.profile, opened.site)
                elif opened.registered or not profile.base_url:
                    profile = default_profile(opened.base_url)
            except ProfileError as exc:  # a stored profile this arsip cannot read
                logger.error("%s; crawling with the general rules", exc)
                profile = default_profile(opened.base_url)
            if self.start_url_args:
                profile = profile.with_start_urls(self.start_url_args)
            self.profile = self.arsip.profile = replace(profile, name=opened.site)
            self.allowed_domains = list(self.profile.domains)
        self.plan = self.arsip.revisits = opened.plan
        # hubs gone (404/410) are as good as asked for already: no link brings them back
        self.scheduled.update(hash(url) for url in self.plan.gone)
        if not opened.recrawl:
            self.arsip.pool.start()  # a first crawl extracts every article: warm up now

    def _request(
        self, url: str, callback: Any, priority: int, *, dont_obey_robotstxt: bool = False,
        start: bool = False, listed: datetime | None = None, article: bool = False,
    ) -> scrapy.Request:
        meta: dict[str, Any] = {"arsip_start": start, "arsip_article": article}
        if dont_obey_robotstxt:
            meta["dont_obey_robotstxt"] = True
        if listed:
            meta["arsip_listed"] = listed.isoformat()
        return scrapy.Request(url, callback=callback, errback=self.on_error, priority=priority,
                              meta=meta)

    def _hub(self, url: str, callback: Any) -> scrapy.Request:
        request = self._request(url, callback, PRIORITY_HUB)
        if self.plan.is_hub(request.url):
            # a page may link a known hub before start() reaches it: it keeps its place ahead
            # of the articles, and is read as start() would read it (a sitemap linked by
            # <a href> as a sitemap)
            request.callback = self.parse_known_hub
            request.priority = self.order.known_priority
        else:
            request.priority = self.order.claim(request.meta)
        return request

    def _dropped(self, request: scrapy.Request, spider: scrapy.Spider) -> None:
        self.order.release(request.meta)

    def _robots_parsed(self, robotparser: Any, request: scrapy.Request) -> None:
        if urlsplit(request.url).hostname != self.profile.host or self.crawler.engine is None:
            return
        listed = [str(url) for url in getattr(getattr(robotparser, "rp", None), "sitemaps", [])]
        robots_url = urljoin(request.url, "/robots.txt")
        for sitemap_request in self._sitemaps_from_robots(robots_url, listed):
            self.crawler.engine.crawl(sitemap_request)

    def parse_robots(self, response: Response) -> Iterator[scrapy.Request]:
        listed = []
        if isinstance(response, TextResponse) and response.status == 200:
            for line in response.text.splitlines():
                key, _, value = line.partition(":")
                if key.strip().lower() == "sitemap" and value.strip():
                    listed.append(value.strip())
        yield from self._sitemaps_from_robots(response.url, listed)

    def _sitemaps_from_robots(self, robots_url: str, listed: list[str]
                              ) -> Iterator[scrapy.Request]:
        sitemaps = [urljoin(robots_url, url) for url in listed]
        if not sitemaps and not self.profile.sitemaps:
            # WordPress and most CMSs answer here even when robots.txt does not say so
            sitemaps = [urljoin(self.profile.base_url, "/sitemap.xml"),
                        urljoin(self.profile.base_url, "/sitemap_index.xml")]
        for url in sitemaps:
            if self._first_time(url):
                yield self._request(url, self.parse_sitemap, PRIORITY_DISCOVERY)

    def parse_known_hub(self, response: Response) -> Iterator[scrapy.Request | PageItem]:
        """A hub the archive knew: a sitemap, a feed or a listing page, told by its body."""
        head = response.body[:4096].removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
        if head[:2] == b"\x1f\x8b":  # a .xml.gz file: a sitemap
            yield from self.parse_sitemap(response)
            return
        lowered = head.lstrip().lower()
        if not lowered.startswith((b"<?xml", b"<urlset", b"<sitemapindex", b"<rss", b"<feed",
                                   b"<rdf")):
            yield from self.parse_page(response)
        elif b"<urlset" in lowered or b"<sitemapindex" in lowered:
            yield from self.parse_sitemap(response)
        else:
            yield from self.parse_feed(response)

    def _note_hub(self, response: Response) -> None:
        # sitemaps and feeds are hubs too: the next run fetches them even if discovery does not
        if response.status == 200:
            self.arsip.recorder.send(FetchNoted(response.url, "hub", _fetched_at(response),
                                                response.status))

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        self._note_hub(response)
        try:
            sitemap = parse_sitemap(response.body)
        except MalformedDocumentError as exc:
            self._count("arsip/malformed_sitemap")
            logger.warning("Malformed sitemap %s: %s", response.url, exc)
            return
        if sitemap.damaged:
            self._count("arsip/malformed_sitemap")
            logger.warning("Damaged sitemap %s: kept its %d complete entries", response.url,
                           len(sitemap.links))
        for link in sitemap.links:
            if self._too_old(link):
                continue
            if sitemap.is_index:
                if self._first_time(link.url):
                    yield self._request(link.url, self.parse_sitemap, PRIORITY_DISCOVERY)
            elif self._new_on_site(link.url, link.changed):
                yield self._article_request(link)

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        self._note_hub(response)
        try:
            links = parse_feed(response.body)
        except MalformedDocumentError as exc:
            self._count("arsip/malformed_feed")
            logger.warning("Malformed feed %s: %s", response.url, exc)
            return
        for link in links:
            url = urljoin(response.url, link.url)
            if not self._too_old(link) and self._new_on_site(url, link.changed):
                yield self._article_request(Link(url, link.date, link.modified))

    def _article_request(self, link: Link) -> scrapy.Request:
        return self._request(link.url, self.parse_page, PRIORITY_ARTICLE, listed=link.date,
                             article=True)

    def _too_old(self, link: Link) -> bool:
        if self.since and link.date and link.date < self.since:
            self._count("arsip/skipped_since")
            return True
        return False

    # --- pages ----------------------------------------------------------------------------------

    def parse_page(self, response: Response) -> Iterator[scrapy.Request | PageItem]:
        self.order.release(response.meta)
        if response.status == 304:
            self._count("arsip/not_modified")
            self.arsip.recorder.send(FetchNoted(response.url, "article", _fetched_at(response),
                                                304))
            return
        if not isinstance(response, TextResponse) or not _is_html(response):
            self._count("arsip/non_html")
            return
        if "dataloss" in response.flags:
            # archived as truncated; half a page would be stored as a wrong article version
            self._count("arsip/truncated")
            logger.warning("Truncated response for %s: archived, not extracted", response.url)
            return
        if (response.encoding or "").lower().replace("_", "-") not in ("utf-8", "utf8", "ascii"):
            self._count("arsip/non_utf8")
        if not response.body.strip():
            self._count("arsip/empty_body")
            yield self._item(response, want_links=False)
            return
        if response.meta.get("arsip_article") or looks_like_article(response.url, self.profile):
            # the common case stays off the reactor: no parse here, the extraction worker
            # reads the page once and also returns its links
            og_type = _OG_TYPE.search(response.text, 0, _HEAD_BYTES)
            declared = (og_type.group(1) or og_type.group(2) or "") if og_type else "article"
            if declared.strip().lower() in ("article", ""):
                yield self._item(response, want_links=True)
                yield from self._requisites(response)
                return
        yield from self._parse_hub(response)

    def _parse_hub(self, response: TextResponse) -> Iterator[scrapy.Request | PageItem]:
        try:
            og_type = response.xpath('//meta[@property="og:type"]/@content').get()
            ld_types = _ld_types(response.xpath('//script[@type="application/ld+json"]/text()')
                                 .getall())
            hrefs = response.xpath("//a/@href | //link[@rel='next']/@href").getall()
            feeds = [
                sel.attrib.get("href", "") for sel in response.xpath("//link[@rel='alternate']")
                if sel.attrib.get("type", "").lower() in _FEED_TYPES
            ]
        except ValueError as exc:  # lxml refuses some documents outright
            logger.warning("Unparseable page %s: %s", response.url, exc)
            self._count("arsip/unparseable")
            yield self._item(response, want_links=False)
            return
        kind = page_kind(og_type, ld_types, looks_like_article(response.url, self.profile))
        if kind == "article" and not self.profile.denies(response.url):
            yield self._item(response, want_links=False)
            yield from self._requisites(response)
        else:
            self.arsip.recorder.send(FetchNoted(response.url, "hub", _fetched_at(response),
                                                response.status))
        for href in feeds:
            yield self._request(response.urljoin(href), self.parse_feed, PRIORITY_DISCOVERY)
        yield from self._follow(response, hrefs)

    def follow_up(self, articles: tuple[str, ...], hubs: tuple[str, ...]
                  ) -> Iterator[scrapy.Request]:
        """Requests for links an extraction worker found on an article page."""
        scheduled, not_due = self.scheduled, self.not_due
        for url in articles:
            key = hash(url)
            if key in scheduled or key in not_due:
                continue  # related links repeat on every article: answer cheaply
            if self._due(url) and self._first_time(url):
                yield self._request(url, self.parse_page, PRIORITY_ARTICLE, article=True)
        for url in hubs:
            if self._first_time(url):
                yield self._hub(url, self.parse_page)

    # --- page requisites ------------------------------------------------------------------------

    def _requisites(self, response: TextResponse) -> Iterator[scrapy.Request]:
        """Requests for an article's requisites not yet fetched in this run."""
        if not self.arsip.config.requisites:
            return
        found = page_requisites(response.text, response.url)
        static = found.hosts()
        for url in found.all():
            yield from self._requisite(url, static, css=url in found.stylesheets, depth=0)

    def _requisite(self, url: str, static: frozenset[str], *, css: bool, depth: int
                   ) -> Iterator[scrapy.Request]:
        own = (*self.profile.domains, *self.profile.requisite_hosts)
        host = host_of(url)
        if not host_allowed(host, own, static) or not self._first_time(url):
            return
        if host not in self.allowed_domains:
            # OffsiteMiddleware reads this list again when it changes: robots.txt of a static
            # host is then fetched (and obeyed) like the site's own
            self.allowed_domains.append(host)
        yield scrapy.Request(url, callback=self.parse_requisite, errback=self.on_error,
                             priority=PRIORITY_REQUISITE,
                             meta={"allow_offsite": True, "arsip_static": static,
                                   "arsip_css": css, "arsip_depth": depth})

    def parse_requisite(self, response: Response) -> Iterator[scrapy.Request]:
        """Count a fetched requisite (it is archived already); a stylesheet's own imports,
        fonts and images follow."""
        self._count("arsip/requisites")
        if self.crawler.stats:
            self.crawler.stats.inc_value("arsip/requisite_bytes", len(response.body))
        meta = response.meta
        ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1").lower()
        if not isinstance(response, TextResponse) or response.status != 200 or not (
                "css" in ctype or (meta.get("arsip_css") and not ctype)):
            return
        if meta.get("arsip_depth", 0) >= MAX_CSS_DEPTH:
            return
        imports, assets = css_requisites(response.text, response.url)
        depth = meta.get("arsip_depth", 0) + 1
        for url in imports:
            yield from self._requisite(url, meta["arsip_static"], css=True, depth=depth)
        for url in assets:
            yield from self._requisite(url, meta["arsip_static"], css=False, depth=depth)

    def _new_on_site(self, url: str, dated: datetime | None = None) -> bool:
        """An article link on this site, worth fetching on this run, not asked for yet."""
        return (same_site(url, self.profile) and not should_skip(url) and self._due(url, dated)
                and self._first_time(url))

    def _due(self, url: str, dated: datetime | None = None) -> bool:
        """Whether this run fetches an article it found a link to: one never seen, one whose
        turn has come, or one a sitemap or feed dates after its last fetch (storage.revisit)."""
        if self.plan.wants(url, dated):
            return True
        key = hash(url)
        if key not in self.not_due:
            self.not_due.add(key)
            self._count("arsip/not_due")
        return False

    def _first_time(self, url: str) -> bool:
        """Whether this spider has not asked for ``url`` yet. Menus and related links repeat on
        every page: answering here is far cheaper than building a Request for the dupefilter.
        The set holds hashes, not strings, to stay small on big sites."""
        key = hash(url)
        if key in self.scheduled:
            return False
        self.scheduled.add(key)
        return True

    def _follow(self, response: Response, hrefs: list[str]) -> Iterator[scrapy.Request]:
        for href in hrefs:
            url = response.urljoin(href.strip()).split("#", 1)[0]
            key = hash(url)
            if key in self.scheduled or key in self.not_due:
                continue  # menus and related links repeat on every page: answer cheaply
            if not same_site(url, self.profile) or should_skip(url):
                continue
            if looks_like_article(url, self.profile):
                if self._due(url) and self._first_time(url):
                    yield self._request(url, self.parse_page, PRIORITY_ARTICLE, article=True)
            elif looks_like_hub(url) and self._first_time(url):
                yield self._hub(url, self.parse_page)

    def _item(self, response: TextResponse, *, want_links: bool) -> PageItem:
        headers = response.headers
        return PageItem(
            want_links=want_links,
            url=response.url,
            html=response.text,
            fetched_at=_fetched_at(response),
            capture_key=response.meta.get("arsip_capture_key"),
            status=response.status,
            etag=_header(headers, b"ETag"),
            last_modified=_header(headers, b"Last-Modified"),
        )

    def on_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        if request is not None:
            self.order.release(request.meta)
        if failure.check(HttpError):
            # archived already (WARC + captures); Scrapy counts it by status in its stats
            response = failure.value.response
            logger.info("HTTP %d for %s", response.status, response.url)
            if response.meta.get("arsip_article"):
                # its next visit depends on it: a server error is retried on the next run
                self.arsip.recorder.send(FetchNoted(response.url, "article",
                                                    _fetched_at(response), response.status))
            elif response.request is not None and response.request.callback != self.parse_robots:
                # a section, feed or sitemap that stopped answering: noted, so the next runs
                # leave it alone once it is gone (404/410), not fetch it forever
                self.arsip.recorder.send(FetchNoted(response.url, "hub",
                                                    _fetched_at(response), response.status))
            return
        url = request.url if request is not None else "?"
        if failure.check(IgnoreRequest):
            # robots.txt disallow, size cap, too many redirects: a decision, not a failure
            logger.info("Skipped %s: %s", url, failure.getErrorMessage())
            return
        self._count("arsip/fetch_errors")
        self._count(f"arsip/fetch_errors/{failure.type.__name__}")
        reason = failure.getErrorMessage() or failure.type.__name__
        logger.warning("Could not fetch %s: %s", url, reason)

    def _count(self, key: str) -> None:
        if self.crawler.stats:
            self.crawler.stats.inc_value(key)


def _is_html(response: TextResponse) -> bool:
    ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1").lower()
    return not ctype or "html" in ctype


def _header(headers: Any, name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value else None


def _fetched_at(response: Response) -> datetime:
    stamp = response.meta.get("arsip_fetched_at")
    return stamp if isinstance(stamp, datetime) else datetime.now(UTC)


def _ld_types(blobs: list[str]) -> list[str]:
    types: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            t = node.get("@type")
            types.extend([t] if isinstance(t, str) else [x for x in t or [] if isinstance(x, str)])
            for key in ("@graph", "mainEntity"):
                walk(node.get(key))
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for blob in blobs:
        try:
            walk(json.loads(blob))
        except ValueError:
            continue
    return types

