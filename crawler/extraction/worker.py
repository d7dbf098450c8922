"""What an extraction process runs for each page. No Scrapy here: a worker imports only this,
the extraction code and the URL rules, which keeps each of them small."""

from __future__ import annotations

import multiprocessing
import os
import threading
from dataclasses import dataclass
from multiprocessing.connection import wait

from crawler.discovery import follow_links
from crawler.errors import ExtractionError
from crawler.sites import SiteProfile
from storage.processes import become_helper
from storage.records import ArticleRecord


@dataclass(frozen=True, slots=True)
class PageResult:
    """What a worker sends back for one page: the article or why there is none, and the links
    to follow (article URLs, hub URLs) when they were asked for."""

    article: ArticleRecord | None
    error: str | None = None
    article_links: tuple[str, ...] = ()
    hub_links: tuple[str, ...] = ()


def prepare_worker() -> None:
    """Pool initializer.

    Signals go to the whole process group; the crawl process decides, and its workers must not
    die of them (``storage.processes``). A crawl process that is killed outright cannot stop its
    workers, and they would wait for pages forever (each holds a writing end of its own task
    queue, so it never sees the queue close): a thread watches the parent and ends the worker
    with it.
    """
    become_helper()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True,
                         name="arsip-parent-watch").start()


def _exit_with_parent(sentinel: int) -> None:
    wait([sentinel])
    os._exit(0)  # nothing to flush: a worker keeps no state of its own


def warm_up() -> None:
    """Import the extraction code now, while the crawl is still reading robots.txt and
    sitemaps, rather than when the first article arrives."""
    import crawler.extraction.article  # noqa: F401


def extract_in_worker(html: str, url: str, profile: SiteProfile, want_links: bool) -> PageResult:
    """The article (or its error as text) and the page's links to follow.

    Any exception becomes an error string: a bug on one odd page must not stop the crawl.
    """
    # imported here: the crawl process imports this module too, and has no use for trafilatura
    from crawler.extraction.article import extract_article

    articles, hubs = follow_links(html, url, profile) if want_links else ((), ())
    try:
        return PageResult(extract_article(html, url, rules=profile.extraction), None,
                          articles, hubs)
    except ExtractionError as exc:
        error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        error = f"unexpected {type(exc).__name__}: {exc}"
    return PageResult(None, error, articles, hubs)
