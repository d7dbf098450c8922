"""robots.txt, sitemaps and feeds of the fixture news site (``tests/newsite.py``), broken too."""

from __future__ import annotations

import email.utils
import html
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.newsite import ArticleSpec

PLACEHOLDER = "http://kudakyv.test"
# the site's static host (fonts, some images): served by the same server as "localhost:PORT",
# a host of its own to a crawler and a browser
CDN_PLACEHOLDER = "http://static.kudakyv-cdn.test"
MALFORMED_SITEMAP_PATH = "/sitemap-posts-2.xml"
MALFORMED_FEED_PATH = "/category/ekonomi/feed/"
POSTS_SITEMAP_PATH = "/sitemap-posts.xml.gz"
NEWS_SITEMAP_PATH = "/news-sitemap.xml"

_XML = "application/xml; charset=UTF-8"
_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
_SM_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def _e(text: str) -> str:
    return html.escape(text, quote=False)


def _abs(path: str) -> str:
    return PLACEHOLDER + path


def documents(articles: list[ArticleSpec],
              visible: list[ArticleSpec]) -> dict[str, tuple[str, str]]:
    """path -> (text, content type) of robots.txt, sitemaps and feeds, broken ones included.

    ``visible`` are the articles reachable from page 1 of listings; only they enter the news
    sitemap and the feeds. ``in_sitemap`` and ``in_feed`` on each article decide the rest.
    """
    newest = max((a.modified for a in articles),
                 default=datetime(2025, 4, 28, tzinfo=timezone(timedelta(hours=7))))
    docs: dict[str, tuple[str, str]] = {}
    docs["/robots.txt"] = (
        "User-agent: *\nDisallow: /private/\nDisallow: /wp-admin/\n"
        f"Allow: /wp-admin/admin-ajax.php\n\nSitemap: {PLACEHOLDER}/sitemap_index.xml\n",
        "text/plain; charset=utf-8")
    maps = (POSTS_SITEMAP_PATH, MALFORMED_SITEMAP_PATH, NEWS_SITEMAP_PATH)
    docs["/sitemap_index.xml"] = (
        f'{_DECL}<sitemapindex xmlns="{_SM_NS}">\n'
        + "".join(f"<sitemap><loc>{_abs(m)}</loc><lastmod>{newest.isoformat()}</lastmod>"
                  "</sitemap>\n" for m in maps) + "</sitemapindex>\n", _XML)
    urls = "".join(f"<url><loc>{_e(_abs(a.path))}</loc><lastmod>{a.modified.isoformat()}"
                   "</lastmod></url>\n" for a in articles if a.in_sitemap)
    # served as a .gz file; the server compresses it after putting in its address
    docs[POSTS_SITEMAP_PATH] = (f'{_DECL}<urlset xmlns="{_SM_NS}">\n{urls}</urlset>\n',
                                "application/x-gzip")
    first = visible[0] if visible else None
    # cut off mid-entry, as a sitemap generator killed by a timeout leaves it
    docs[MALFORMED_SITEMAP_PATH] = (
        f'{_DECL}<urlset xmlns="{_SM_NS}">\n'
        + (f"<url><loc>{_e(_abs(first.path))}</loc><lastmod>{first.modified.isoformat()}"
           "</lastmod></url>\n" if first else "") + f"<url><loc>{PLACEHOLDER}/2025/0", _XML)
    news = "".join(
        f"<url><loc>{_e(_abs(a.path))}</loc><news:news><news:publication><news:name>Kudakyv"
        "</news:name><news:language>id</news:language></news:publication>"
        f"<news:publication_date>{a.published.isoformat()}</news:publication_date>"
        f"<news:title>{_e(a.title)}</news:title></news:news></url>\n" for a in visible[:5])
    docs[NEWS_SITEMAP_PATH] = (
        f'{_DECL}<urlset xmlns="{_SM_NS}" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n{news}</urlset>\n', _XML)
    feed = [a for a in visible if a.in_feed]
    items = "".join(
        f"<item><title>{_e(a.title)}</title><link>{_e(_abs(a.path))}</link>"
        f"<dc:creator><![CDATA[{a.author}]]></dc:creator>"
        f"<pubDate>{email.utils.format_datetime(a.published)}</pubDate>"
        f"<category><![CDATA[{a.section.title()}]]></category>"
        f'<guid isPermaLink="false">{PLACEHOLDER}/?p={1000 + i}</guid>'
        f"<description><![CDATA[{a.text[0][:200]}]]></description></item>\n"
        for i, a in enumerate(feed))
    docs["/feed/"] = (
        f'{_DECL}<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Kudakyv</title>'
        f'<atom:link href="{PLACEHOLDER}/feed/" rel="self" type="application/rss+xml"/>'
        f"<link>{PLACEHOLDER}/</link><description>Kabar Terkini</description><language>id"
        f"</language><lastBuildDate>{email.utils.format_datetime(newest)}</lastBuildDate>\n"
        f"{items}</channel></rss>\n", "application/rss+xml; charset=UTF-8")
    entries = "".join(
        f'<entry><title>{_e(a.title)}</title><link rel="alternate" href="{_e(_abs(a.path))}"/>'
        f"<id>{_e(_abs(a.path))}</id><published>{a.published.isoformat()}</published>"
        f"<updated>{a.modified.isoformat()}</updated><author><name>{_e(a.author)}</name>"
        "</author></entry>\n" for a in feed)
    docs["/feed/atom/"] = (
        f'{_DECL}<feed xmlns="http://www.w3.org/2005/Atom"><title>Kudakyv</title>'
        f"<id>{PLACEHOLDER}/</id><updated>{newest.isoformat()}</updated>\n{entries}</feed>\n",
        "application/atom+xml; charset=UTF-8")
    # WordPress with a PHP notice printed before the XML declaration, then cut off.
    docs[MALFORMED_FEED_PATH] = (
        "<br />\n<b>Warning</b>:  Cannot modify header information - headers already sent in "
        "<b>/var/www/html/wp-includes/feed-rss2.php</b> on line <b>8</b><br />\n"
        f'{_DECL}<rss version="2.0"><channel><title>Ekonomi</title><item>'
        f"<title>Tanpa penutup &nbsp; & </title><link>{PLACEHOLDER}/2025/",
        "application/rss+xml; charset=UTF-8")
    return docs
